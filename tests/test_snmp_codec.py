"""fleet's SNMP codec (fleet.snmp, as the transport reads answers with it) against pysnmp's, the
reference: the same datagrams go to both, which must give the same values or both refuse them.

Datagrams are answers the simulator's agent makes to the transport's own requests, answers pysnmp
encodes, hand-made malformed ones and seeded mutations of all of these; pure functions, no sockets.
"""

from __future__ import annotations

import random
import time
from typing import Any

import pytest
from pyasn1.codec.ber import encoder
from pysnmp.proto import rfc1902, rfc1905
from pysnmp.proto.api import v2c

from fleet.domain.enums import SnmpAuthProtocol, SnmpPrivProtocol, SnmpVersion
from fleet.sim.snmp.agent import Agent, Identity
from fleet.sim.snmp.mib import (
    MibView,
    column,
    const,
    counter32,
    counter64,
    gauge,
    integer,
    ip_address,
    octets,
    oid_value,
    scalar,
    timeticks,
)
from fleet.snmp import ber, message, usm
from fleet.transports.snmp import frames
from fleet.transports.snmp.engines import Engine, Usm, v3_get
from fleet.transports.snmp.types import SnmpCredentials
from tests import snmp_reference as ref

ENGINE = b"\x80\x00\x00\x09\x05fleet-codec-test"
OTHER_ENGINE = b"\x80\x00\x00\x09\x05another-engine!!"
START = time.monotonic()
AUTH_PW, PRIV_PW = "auth-pass-1234", "priv-pass-5678"
OIDS = (
    "1.3.6.1.2.1.1.1.0",  # OCTET STRING
    "1.3.6.1.2.1.1.2.0",  # OBJECT IDENTIFIER
    "1.3.6.1.2.1.1.3.0",  # TimeTicks
    "1.3.6.1.2.1.2.2.1.8.1",  # INTEGER
    "1.3.6.1.2.1.2.2.1.10.1",  # Counter32
    "1.3.6.1.2.1.2.2.1.5.1",  # Gauge32
    "1.3.6.1.2.1.31.1.1.1.6.1",  # Counter64
    "1.3.6.1.2.1.4.20.1.1.10.0.0.1",  # IpAddress
    "1.3.6.1.2.1.1.9.0",  # noSuchObject
    "1.3.6.1.2.1.2.2.1.8.99",  # noSuchInstance
)


def view() -> MibView:
    return MibView(
        [
            scalar("1.3.6.1.2.1.1.1", const(octets(b"Cisco IOS \x00\xff binary"))),
            scalar("1.3.6.1.2.1.1.2", const(oid_value("1.3.6.1.4.1.9.1.2694"))),
            scalar("1.3.6.1.2.1.1.3", const(timeticks(4294967295))),
            column("1.3.6.1.2.1.2.2.1.8", (1,), const(integer(-2147483648))),
            column("1.3.6.1.2.1.2.2.1.10", (1,), const(counter32(2**31))),
            column("1.3.6.1.2.1.2.2.1.5", (1,), const(gauge(1_000_000_000))),
            column("1.3.6.1.2.1.31.1.1.1.6", (1,), const(counter64(2**64 - 1))),
            column("1.3.6.1.2.1.4.20.1.1", (10, 0, 0, 1), const(ip_address("10.0.0.1"))),
        ]
    )


def identity(auth: SnmpAuthProtocol, priv: SnmpPrivProtocol) -> Identity:
    keys = usm.local_keys(auth, AUTH_PW, priv, PRIV_PW, ENGINE)
    return Identity(frozenset({b"public"}), ENGINE, 7, START, {b"noc": lambda: keys})


def credentials(auth: SnmpAuthProtocol, priv: SnmpPrivProtocol, user: str = "noc") -> Usm:
    creds = SnmpCredentials(
        SnmpVersion.V3, user=user, auth_protocol=auth, auth_key=AUTH_PW, priv_protocol=priv, priv_key=PRIV_PW
    )
    return Usm.make(creds)


PROTOCOLS = [(a, p) for a in SnmpAuthProtocol for p in SnmpPrivProtocol]


# --- how each side reads a datagram ----------------------------------------------------------------


def fast_v2c(data: bytes) -> tuple[Any, ...]:
    try:
        answer = frames.v2c_answer(data)
    except frames.DECODE_ERRORS:
        return ref.MALFORMED
    return ("response", answer.request_id, answer.error_status, answer.error_index, answer.varbinds)


def fast_v3(data: bytes, keys: usm.LocalKeys, engine_id: bytes) -> tuple[Any, ...]:
    try:
        msg = frames.v3_envelope(data)
        authentic, answer = frames.v3_answer(data, msg, keys, engine_id)
    except frames.DECODE_ERRORS:
        return ref.MALFORMED
    tag = "response" if answer.tag == ber.RESPONSE else "report"
    pdu = (tag, answer.request_id, answer.error_status, answer.error_index, answer.varbinds)
    return (msg.msg_id, msg.engine_id, msg.boots, msg.time, authentic, pdu)


def reference_v3(data: bytes, keys: usm.LocalKeys, engine_id: bytes) -> tuple[Any, ...]:
    got = ref.read_v3(data, (keys.auth, keys.auth_key, keys.priv, keys.priv_key), engine_id)
    if got != ref.MALFORMED and got[5][0] == "other":
        return ref.MALFORMED  # neither a Response nor a Report: the transport refuses it
    return got


def same_v2c(data: bytes) -> tuple[Any, ...]:
    expected, got = ref.read_v2c(data), fast_v2c(data)
    assert got == expected, data.hex()
    return got


def same_v3(data: bytes, keys: usm.LocalKeys, engine_id: bytes = ENGINE) -> tuple[Any, ...]:
    expected, got = reference_v3(data, keys, engine_id), fast_v3(data, keys, engine_id)
    assert got == expected, data.hex()
    return got


# --- datagrams -------------------------------------------------------------------------------------


def v2c_answers() -> list[bytes]:
    agent, ident, made = Agent(view()), identity(SnmpAuthProtocol.SHA, SnmpPrivProtocol.AES), frames.Frames()
    out = []
    for oids in (OIDS, OIDS[:1], ("1.3.6.1.2.1.31.1.1.1.6.1",)):
        request = made.v2c(b"public", oids).join([(0x01020304).to_bytes(4, "big")])
        out.append(agent.handle(request, ident, None, time.monotonic()))
    oid = [ber.encode_oid(ber.parse_oid("1.3.6.1.2.1.99"))]
    for tag in (ber.GET_NEXT, ber.SET):  # endOfMibView; an error-status (notWritable)
        pdu = message.encode_pdu(tag, 0x01020305, 0, 0, [message.varbind(oid[0], ber.NULL_BER)])
        out.append(agent.handle(message.encode_community(1, b"public", pdu), ident, None, time.monotonic()))
    out.append(pysnmp_response())
    return [d for d in out if d is not None]


def pysnmp_response() -> bytes:
    """Every value type as pysnmp encodes it."""
    msg = v2c.Message()
    v2c.apiMessage.set_defaults(msg)
    v2c.apiMessage.set_community(msg, b"public")
    pdu = v2c.ResponsePDU()
    v2c.apiPDU.set_defaults(pdu)
    v2c.apiPDU.set_request_id(pdu, -5)
    values = [
        rfc1902.Integer32(-1), rfc1902.Integer32(2**31 - 1), rfc1902.OctetString(b""), rfc1902.OctetString(b"x" * 300),
        rfc1902.ObjectIdentifier("2.999.1"), rfc1902.IpAddress("255.0.10.1"), rfc1902.Counter32(0),
        rfc1902.Gauge32(2**32 - 1), rfc1902.TimeTicks(100), rfc1902.Unsigned32(7), rfc1902.Opaque(b"\x9f\x78\x04"),
        rfc1902.Counter64(2**63), rfc1905.noSuchObject, rfc1905.noSuchInstance, rfc1905.endOfMibView, v2c.null,
    ]  # fmt: skip
    v2c.apiPDU.set_varbinds(
        pdu, [(rfc1902.ObjectName(f"1.3.6.1.4.1.9.{i}.{2**32 - 1}"), v) for i, v in enumerate(values)]
    )
    v2c.apiMessage.set_pdu(msg, pdu)
    return bytes(encoder.encode(msg))


def v3_answers(auth: SnmpAuthProtocol, priv: SnmpPrivProtocol) -> tuple[list[bytes], usm.LocalKeys]:
    agent, ident, made = Agent(view()), identity(auth, priv), frames.Frames()
    cred = credentials(auth, priv)
    engine = Engine(ENGINE, 7, int(time.monotonic() - START), time.monotonic())
    now = time.monotonic()
    out = [
        agent.handle(
            frames.PROBE.join([(0x01000001).to_bytes(4, "big")] * 2), ident, None, now
        ),  # unknownEngineID
        agent.handle(v3_get(made, cred, engine, 0x01000002, OIDS, now), ident, None, now),
        agent.handle(
            v3_get(made, credentials(auth, priv, "nobody"), engine, 0x01000003, OIDS, now), ident, None, now
        ),
    ]
    engine.time += 1000  # out of the time window: an authenticated report
    out.append(agent.handle(v3_get(made, cred, engine, 0x01000004, OIDS, now), ident, None, now))
    wrong = Usm(cred.user, auth, priv, usm.password_to_key("wrong-auth-key", auth), cred.priv_master)
    engine.time -= 1000
    out.append(
        agent.handle(v3_get(made, wrong, engine, 0x01000005, OIDS, now), ident, None, now)
    )  # wrongDigest
    return [d for d in out if d is not None], engine.keys_for(cred)


# --- the tests -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("auth", "priv"), PROTOCOLS)
def test_localised_keys_are_pysnmps(auth: SnmpAuthProtocol, priv: SnmpPrivProtocol) -> None:
    for engine_id in (ENGINE, b"\x80\x00\x1f\x88\x04", b"\x80" + b"\xff" * 31):
        keys = usm.local_keys(auth, AUTH_PW, priv, PRIV_PW, engine_id)
        assert (keys.auth_key, keys.priv_key) == ref.local_keys(auth, AUTH_PW, priv, PRIV_PW, engine_id)


def test_good_v2c_answers_of_every_value_type_read_the_same() -> None:
    answers = v2c_answers()
    results = [same_v2c(d) for d in answers]
    values = dict(results[0][4])
    assert values["1.3.6.1.2.1.1.1.0"] == b"Cisco IOS \x00\xff binary"
    assert values["1.3.6.1.2.1.1.2.0"] == "1.3.6.1.4.1.9.1.2694"
    assert values["1.3.6.1.2.1.1.3.0"] == 4294967295
    assert values["1.3.6.1.2.1.2.2.1.8.1"] == -2147483648
    assert values["1.3.6.1.2.1.2.2.1.10.1"] == 2**31
    assert values["1.3.6.1.2.1.31.1.1.1.6.1"] == 2**64 - 1
    assert values["1.3.6.1.2.1.4.20.1.1.10.0.0.1"] == "10.0.0.1"
    assert values["1.3.6.1.2.1.1.9.0"] is None and values["1.3.6.1.2.1.2.2.1.8.99"] is None
    assert results[3][4][0][1] is None  # endOfMibView
    assert results[4][2] == 17  # notWritable
    assert [v for _oid, v in results[5][4]][-4:] == [None] * 4
    assert all(r != ref.MALFORMED for r in results)


@pytest.mark.parametrize(("auth", "priv"), PROTOCOLS)
def test_v3_answers_and_reports_read_the_same(auth: SnmpAuthProtocol, priv: SnmpPrivProtocol) -> None:
    answers, keys = v3_answers(auth, priv)
    discovery, good, unknown_user, time_window, wrong_digest = (same_v3(d, keys) for d in answers)
    assert discovery[1] == ENGINE and discovery[5][0] == "report" and not discovery[4]
    assert discovery[5][4][0][0] == "1.3.6.1.6.3.15.1.1.4.0"  # usmStatsUnknownEngineIDs
    assert good[4] and good[5][0] == "response" and good[5][1] == 0x01000002
    assert dict(good[5][4])["1.3.6.1.2.1.1.1.0"] == b"Cisco IOS \x00\xff binary"
    assert unknown_user[5][4][0][0] == "1.3.6.1.6.3.15.1.1.3.0" and not unknown_user[4]
    assert time_window[5][4][0][0] == "1.3.6.1.6.3.15.1.1.2.0" and time_window[4]  # authenticated
    assert wrong_digest[5][4][0][0] == "1.3.6.1.6.3.15.1.1.5.0"
    # another engine, or a key that is not the agent's: both refuse the authenticated answer
    assert same_v3(answers[1], keys, OTHER_ENGINE) == ref.MALFORMED
    bad_keys = usm.local_keys(auth, "not-the-auth-key", priv, PRIV_PW, ENGINE)
    assert same_v3(answers[1], bad_keys) == ref.MALFORMED


def test_malformed_v2c_answers_are_refused_by_both() -> None:
    good = v2c_answers()[1]
    body = bytes.fromhex("a2") + good[good.index(b"\xa2") + 1 :]
    cases = [
        good[:-1],  # truncated
        good + b"\x00",  # a byte after the message
        b"\x31" + good[1:],  # a SET, not a SEQUENCE
        good[:1] + bytes([good[1] + 1]) + good[2:],  # the outer length runs past the end
        good.replace(b"\xa2", b"\xa0", 1),  # a GET, not a Response
        good.replace(b"\x02\x01\x01", b"\x02\x01\x03", 1),  # version 3 framed as v2c
        b"\x30\x03\x02\x01\x01",  # a version and nothing else
        b"\x30\x10\x02\x01\x01garbage",
        b"",
        body,
    ]
    for value in (
        b"\x41\x04\xff\xff\xff\xff",
        b"\x40\x05\x0a\x00\x00\x01\x02",
        b"\x02\x05\x01\x00\x00\x00\x00",
        b"\x03\x01\x00",
    ):
        # Counter32 whose top bit makes it negative, a 5-octet IpAddress, an INTEGER past Integer32, BIT STRING
        vb = message.varbind(ber.encode_oid((1, 3, 6, 1)), value)
        cases.append(message.encode_community(1, b"public", message.encode_pdu(ber.RESPONSE, 1, 0, 0, [vb])))
    for data in cases:
        assert same_v2c(data) == ref.MALFORMED


@pytest.mark.parametrize(("auth", "priv"), PROTOCOLS[:1] + PROTOCOLS[-1:])
def test_mutated_datagrams_read_the_same(auth: SnmpAuthProtocol, priv: SnmpPrivProtocol) -> None:
    """Every truncation and seeded byte changes of each datagram: the same values, or both refuse."""
    rng = random.Random(15)  # noqa: S311 - reproducible mutations, not crypto
    answers, keys = v3_answers(auth, priv)
    for data, read in [
        *((d, same_v2c) for d in v2c_answers()),
        *((d, lambda x: same_v3(x, keys)) for d in answers),
    ]:
        for cut in range(len(data)):
            read(data[:cut])
        for _ in range(60):
            mutated = bytearray(data)
            mutated[rng.randrange(len(data))] = rng.choice((0x00, 0x7F, 0x80, 0x81, 0xFF, rng.randrange(256)))
            read(bytes(mutated))


def test_requests_encode_exactly_what_pyasn1_encodes() -> None:
    oids = ("1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.2.2.1.8.1")
    rid = 0x01020304
    msg = v2c.Message()
    v2c.apiMessage.set_defaults(msg)
    v2c.apiMessage.set_community(msg, b"public")
    pdu = v2c.GetRequestPDU()
    v2c.apiPDU.set_defaults(pdu)
    v2c.apiPDU.set_request_id(pdu, rid)
    v2c.apiPDU.set_varbinds(pdu, [(rfc1902.ObjectName(oid), v2c.null) for oid in oids])
    v2c.apiMessage.set_pdu(msg, pdu)
    assert frames.v2c_frame(b"public", oids).join([rid.to_bytes(4, "big")]) == encoder.encode(msg)
