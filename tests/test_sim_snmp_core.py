"""The simulator's SNMP codec and agent, driven with hand-built messages (no sockets)."""

from __future__ import annotations

import time

import pytest

from fleet.domain.enums import SnmpAuthProtocol, SnmpPrivProtocol
from fleet.sim.snmp.agent import MAX_MESSAGE, Agent, Identity
from fleet.sim.snmp.mib import MibView, column, const, counter32, octets, scalar
from fleet.snmp import ber, message, usm

START = time.monotonic()
ENGINE = b"\x80\x00\x1f\x88\x04test-engine"


def view() -> MibView:
    objects = [
        scalar("1.3.6.1.2.1.1.1", const(octets("Test device"))),
        scalar("1.3.6.1.2.1.1.5", const(octets("r1"))),
    ]
    for i in range(1, 41):
        objects.append(column("1.3.6.1.2.1.2.2.1.2", (i,), const(octets(f"GigabitEthernet0/0/{i}"))))
        objects.append(column("1.3.6.1.2.1.2.2.1.10", (i,), lambda _d, now: counter32(int(now * 10))))
    return MibView(objects)


def identity() -> Identity:
    def keys() -> usm.LocalKeys:
        return usm.local_keys(
            SnmpAuthProtocol.SHA, "authpass123", SnmpPrivProtocol.AES, "privpass123", ENGINE
        )

    return Identity(frozenset({b"public"}), ENGINE, 1, START, {b"noc": keys})


def request(tag: int, oids: list[str], f2: int = 0, f3: int = 0, community: bytes = b"public") -> bytes:
    vbs = [message.varbind(ber.encode_oid(ber.parse_oid(o)), ber.NULL_BER) for o in oids]
    return message.encode_community(1, community, message.encode_pdu(tag, 77, f2, f3, vbs))


def decode_response(data: bytes) -> tuple[int, int, list[tuple[str, int, bytes]]]:
    _version, pos = message.parse_version(data)
    msg = message.parse_community(data, pos, 1)
    tag, start, _end = ber.read_header(data, msg.pdu_pos)
    assert tag == ber.RESPONSE
    request_id, p = ber.read_int(data, start)
    status, p = ber.read_int(data, p)
    _index, p = ber.read_int(data, p)
    vstart, vend = ber.expect(data, p, ber.SEQUENCE)
    out = []
    p = vstart
    while p < vend:
        s, e = ber.expect(data, p, ber.SEQUENCE)
        oid, q = ber.read_oid(data, s)
        vtag, vs, ve = ber.read_header(data, q)
        out.append((".".join(map(str, oid)), vtag, data[vs:ve]))
        p = e
    assert request_id == 77
    return status, len(out), out


def test_oid_and_integer_encodings_round_trip() -> None:
    for oid in [(1, 3, 6, 1, 2, 1, 1, 1, 0), (1, 3, 6, 1, 4, 1, 2011, 5, 25, 31, 1, 1, 1, 1, 5, 16842753)]:
        encoded = ber.encode_oid(oid)
        assert ber.read_oid(encoded, 0) == (oid, len(encoded))
    for value in (0, 1, 127, 128, -1, -129, 2**31 - 1, -(2**31)):
        assert ber.read_int(ber.encode_int(ber.INTEGER, value), 0)[0] == value
    assert ber.encode_int(ber.COUNTER32, 2**32 - 1) == b"\x41\x05\x00\xff\xff\xff\xff"


def test_get_distinguishes_no_such_object_from_no_such_instance() -> None:
    agent = Agent(view())
    reply = agent.handle(
        request(ber.GET, ["1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.1.7", "1.3.6.1.2.1.99.0"]),
        identity(),
        None,
        1.0,
    )
    assert reply is not None
    status, _n, vbs = decode_response(reply)
    assert status == 0
    assert vbs[0] == ("1.3.6.1.2.1.1.1.0", ber.OCTET_STRING, b"Test device")
    assert vbs[1][1] == ber.NO_SUCH_INSTANCE
    assert vbs[2][1] == ber.NO_SUCH_OBJECT


def test_getnext_walks_in_order_and_ends_with_end_of_mib_view() -> None:
    agent = Agent(view())
    reply = agent.handle(
        request(ber.GET_NEXT, ["1.3.6.1.2.1.1", "1.3.6.1.2.1.2.2.1.10.40"]), identity(), None, 1.0
    )
    assert reply is not None
    _s, _n, vbs = decode_response(reply)
    assert vbs[0][0] == "1.3.6.1.2.1.1.1.0"
    assert vbs[1] == ("1.3.6.1.2.1.2.2.1.10.40", ber.END_OF_MIB_VIEW, b"")


def test_getbulk_repeats_and_stays_within_the_message_size() -> None:
    agent = Agent(view())
    reply = agent.handle(
        request(ber.GET_BULK, ["1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.2"], 1, 100), identity(), None, 1.0
    )
    assert reply is not None
    assert len(reply) <= MAX_MESSAGE
    status, count, vbs = decode_response(reply)
    assert status == 0
    assert vbs[0][0] == "1.3.6.1.2.1.1.5.0"  # the non-repeater
    assert vbs[1][0] == "1.3.6.1.2.1.2.2.1.2.1"
    assert 10 < count < 81  # cut short by the size limit, not by the view


def test_wrong_community_and_malformed_packets_get_no_answer() -> None:
    agent = Agent(view())
    assert (
        agent.handle(request(ber.GET, ["1.3.6.1.2.1.1.1.0"], community=b"guess"), identity(), None, 1.0)
        is None
    )
    good = request(ber.GET, ["1.3.6.1.2.1.1.1.0"])
    for bad in (b"", b"\x30", good[:-3], good + b"\x00", b"\x30\x03\x02\x01\x09"):
        assert agent.handle(bad, identity(), None, 1.0) is None
    assert agent.stats.bad_community == 1
    assert agent.stats.malformed >= 4


def test_v3_discovery_report_carries_the_engine_id() -> None:
    scoped = message.encode_scoped_pdu(b"", b"", message.encode_pdu(ber.GET, 5, 0, 0, []))
    probe, _offset = message.encode_v3(9, 65507, message.FLAG_REPORTABLE, b"", 0, 0, b"", 0, b"", scoped)
    reply = Agent(view()).handle(probe, identity(), None, START + 42)
    assert reply is not None
    _version, pos = message.parse_version(reply)
    msg = message.parse_v3(reply, pos)
    assert (msg.msg_id, msg.engine_id, msg.boots, msg.time) == (9, ENGINE, 1, 42)
    _ce, _cn, pdu = message.parse_scoped_pdu(reply, msg.data_pos)
    assert pdu.tag == ber.REPORT
    assert pdu.oids == [ber.parse_oid("1.3.6.1.6.3.15.1.1.4.0")]


def test_aes_round_trip_and_short_passwords_refused() -> None:
    keys = usm.local_keys(SnmpAuthProtocol.SHA, "authpass123", SnmpPrivProtocol.AES, "privpass123", ENGINE)
    salt = b"\x00" * 7 + b"\x01"
    assert usm.decrypt(keys, 1, 5, salt, usm.encrypt(keys, 1, 5, salt, b"scoped pdu")) == b"scoped pdu"
    with pytest.raises(ValueError, match="at least 8"):
        usm.password_to_key("short", SnmpAuthProtocol.SHA)


def test_v3_messages_with_a_tiny_max_size_or_negative_time_are_dropped() -> None:
    scoped = message.encode_scoped_pdu(b"", b"", message.encode_pdu(ber.GET, 5, 0, 0, []))
    for max_size, engine_time in ((100, 0), (65507, -5)):
        probe, _offset = message.encode_v3(
            9, max_size, message.FLAG_REPORTABLE, b"", 0, engine_time, b"", 0, b"", scoped
        )
        assert Agent(view()).handle(probe, identity(), None, START + 1) is None


def test_snmpv1_is_not_answered() -> None:
    vbs = [message.varbind(ber.encode_oid(ber.parse_oid("1.3.6.1.2.1.1.1.0")), ber.NULL_BER)]
    v1 = message.encode_community(0, b"public", message.encode_pdu(ber.GET, 1, 0, 0, vbs))
    assert Agent(view()).handle(v1, identity(), None, 1.0) is None
