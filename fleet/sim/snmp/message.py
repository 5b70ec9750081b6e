"""SNMP messages: parse requests, build responses (v2c community and v3 USM framing)."""

from __future__ import annotations

from dataclasses import dataclass, field

from fleet.sim.snmp import ber
from fleet.sim.snmp.ber import BerError

V1, V2C, V3 = 0, 1, 3
USM = 3

# msgFlags bits
FLAG_AUTH = 0x01
FLAG_PRIV = 0x02
FLAG_REPORTABLE = 0x04


@dataclass(slots=True)
class Pdu:
    tag: int
    request_id: int
    field2: int  # error-status, or non-repeaters for GETBULK
    field3: int  # error-index, or max-repetitions for GETBULK
    oids: list[tuple[int, ...]] = field(default_factory=list)


def parse_pdu(data: bytes, pos: int) -> Pdu:
    tag, start, end = ber.read_header(data, pos)
    if tag not in (
        ber.GET,
        ber.GET_NEXT,
        ber.GET_BULK,
        ber.SET,
        ber.RESPONSE,
        ber.REPORT,
        ber.INFORM,
        ber.TRAP_V2,
    ):
        raise BerError(f"not a PDU (tag 0x{tag:02x})")
    request_id, p = ber.read_int(data, start)
    field2, p = ber.read_int(data, p)
    field3, p = ber.read_int(data, p)
    vb_start, vb_end = ber.expect(data, p, ber.SEQUENCE)
    oids = []
    p = vb_start
    while p < vb_end:
        _s, item_end = ber.expect(data, p, ber.SEQUENCE)
        oid, p = ber.read_oid(data, _s)
        p = item_end
        oids.append(oid)
    if p != vb_end or vb_end > end:
        raise BerError("varbind list overruns the PDU")
    return Pdu(tag, request_id, field2, field3, oids)


def encode_pdu(
    tag: int, request_id: int, error_status: int, error_index: int, varbinds: list[bytes]
) -> bytes:
    body = (
        ber.encode_int(ber.INTEGER, request_id)
        + ber.encode_int(ber.INTEGER, error_status)
        + ber.encode_int(ber.INTEGER, error_index)
        + ber.tlv(ber.SEQUENCE, b"".join(varbinds))
    )
    return ber.tlv(tag, body)


def varbind(oid_ber: bytes, value_ber: bytes) -> bytes:
    return ber.tlv(ber.SEQUENCE, oid_ber + value_ber)


# --- v1/v2c ----------------------------------------------------------------------------------


@dataclass(slots=True)
class CommunityMessage:
    version: int
    community: bytes
    pdu_pos: int


def encode_community(version: int, community: bytes, pdu: bytes) -> bytes:
    return ber.tlv(
        ber.SEQUENCE, ber.encode_int(ber.INTEGER, version) + ber.tlv(ber.OCTET_STRING, community) + pdu
    )


# --- v3 ----------------------------------------------------------------------------------------


@dataclass(slots=True)
class V3Message:
    msg_id: int
    max_size: int
    flags: int
    security_model: int
    engine_id: bytes
    boots: int
    time: int
    user: bytes
    auth_params: bytes
    priv_params: bytes
    auth_params_offset: int  # where msgAuthenticationParameters' bytes sit in the whole message
    data_pos: int  # start of msgData (ScopedPDU or encrypted OCTET STRING)


def parse_version(data: bytes) -> tuple[int, int]:
    """Return (version, position after the version field)."""
    start, end = ber.expect(data, 0, ber.SEQUENCE)
    if end != len(data):
        raise BerError("trailing bytes after the message")
    return ber.read_int(data, start)


def parse_community(data: bytes, pos: int, version: int) -> CommunityMessage:
    community, p = ber.read_octets(data, pos)
    return CommunityMessage(version, community, p)


def parse_v3(data: bytes, pos: int) -> V3Message:
    gstart, gend = ber.expect(data, pos, ber.SEQUENCE)
    msg_id, p = ber.read_int(data, gstart)
    max_size, p = ber.read_int(data, p)
    flags_raw, p = ber.read_octets(data, p)
    security_model, p = ber.read_int(data, p)
    if p != gend or len(flags_raw) != 1:
        raise BerError("malformed msgGlobalData")
    sp_start, sp_end = ber.expect(data, gend, ber.OCTET_STRING)
    s, _e = ber.expect(data, sp_start, ber.SEQUENCE)
    engine_id, s = ber.read_octets(data, s)
    boots, s = ber.read_int(data, s)
    time, s = ber.read_int(data, s)
    user, s = ber.read_octets(data, s)
    a_start, a_end = ber.expect(data, s, ber.OCTET_STRING)
    auth_params = data[a_start:a_end]
    priv_params, s = ber.read_octets(data, a_end)
    if s != sp_end:
        raise BerError("malformed msgSecurityParameters")
    return V3Message(
        msg_id, max_size, flags_raw[0], security_model, engine_id, boots, time, user,
        auth_params, priv_params, a_start, sp_end,
    )  # fmt: skip


def parse_scoped_pdu(data: bytes, pos: int) -> tuple[bytes, bytes, Pdu]:
    start, _end = ber.expect(data, pos, ber.SEQUENCE)
    context_engine, p = ber.read_octets(data, start)
    context_name, p = ber.read_octets(data, p)
    return context_engine, context_name, parse_pdu(data, p)


def encode_v3(
    msg_id: int,
    max_size: int,
    flags: int,
    engine_id: bytes,
    boots: int,
    time: int,
    user: bytes,
    auth_len: int,
    priv_params: bytes,
    msg_data: bytes,
) -> tuple[bytes, int]:
    """Build a v3 message with zeroed auth params; returns it and the offset where they go."""
    fields = (
        ber.tlv(ber.OCTET_STRING, engine_id)
        + ber.encode_int(ber.INTEGER, boots)
        + ber.encode_int(ber.INTEGER, time)
        + ber.tlv(ber.OCTET_STRING, user)
        + ber.tlv(ber.OCTET_STRING, b"\x00" * auth_len)
    )
    auth_offset_in_fields = len(fields) - auth_len
    fields += ber.tlv(ber.OCTET_STRING, priv_params)
    sp = ber.tlv(ber.SEQUENCE, fields)
    auth_offset_in_sp = len(sp) - len(fields) + auth_offset_in_fields
    global_data = ber.tlv(
        ber.SEQUENCE,
        ber.encode_int(ber.INTEGER, msg_id)
        + ber.encode_int(ber.INTEGER, max_size)
        + ber.tlv(ber.OCTET_STRING, bytes((flags,)))
        + ber.encode_int(ber.INTEGER, USM),
    )
    head = ber.encode_int(ber.INTEGER, V3) + global_data
    sp_octets = ber.tlv(ber.OCTET_STRING, sp)
    body = head + sp_octets + msg_data
    outer_header_len = len(ber.tlv(ber.SEQUENCE, body)) - len(body)
    offset = outer_header_len + len(head) + (len(sp_octets) - len(sp)) + auth_offset_in_sp
    return ber.tlv(ber.SEQUENCE, body), offset


def encode_scoped_pdu(context_engine: bytes, context_name: bytes, pdu: bytes) -> bytes:
    return ber.tlv(
        ber.SEQUENCE,
        ber.tlv(ber.OCTET_STRING, context_engine) + ber.tlv(ber.OCTET_STRING, context_name) + pdu,
    )
