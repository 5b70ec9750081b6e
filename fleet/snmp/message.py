"""SNMP messages: parse requests, build responses (v2c community and v3 USM framing)."""

from __future__ import annotations

from dataclasses import dataclass, field

from fleet.snmp import ber
from fleet.snmp.ber import BerError

V1, V2C, V3 = 0, 1, 3
USM = 3

# msgFlags bits
FLAG_AUTH = 0x01
FLAG_PRIV = 0x02
FLAG_REPORTABLE = 0x04


def _read_int(data: bytes, pos: int) -> tuple[int, int]:
    """An INTEGER as managers read it: empty contents are 0 (as pyasn1 reads them)."""
    start, end = ber.expect(data, pos, ber.INTEGER)
    return int.from_bytes(data[start:end], "big", signed=True), end


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
    msg_id, p = _read_int(data, gstart)
    max_size, p = _read_int(data, p)
    flags_raw, p = ber.read_octets(data, p)
    security_model, p = _read_int(data, p)
    if p != gend or len(flags_raw) != 1:
        raise BerError("malformed msgGlobalData")
    sp_start, sp_end = ber.expect(data, gend, ber.OCTET_STRING)
    s, usm_end = ber.expect(data, sp_start, ber.SEQUENCE)
    if usm_end != sp_end:
        raise BerError("malformed msgSecurityParameters")
    engine_id, s = ber.read_octets(data, s)
    boots, s = _read_int(data, s)
    time, s = _read_int(data, s)
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


# --- a manager's side: GET requests out, Responses and Reports in ---------------------------------

ERROR_STATUS = (
    "noError", "tooBig", "noSuchName", "badValue", "readOnly", "genErr", "noAccess", "wrongType",
    "wrongLength", "wrongEncoding", "wrongValue", "noCreation", "inconsistentValue",
    "resourceUnavailable", "commitFailed", "undoFailed", "authorizationError", "notWritable",
    "inconsistentName",
)  # fmt: skip


def encode_get(request_id: int, oids: list[bytes]) -> bytes:
    """A GET PDU of encoded OIDs (``ber.encode_oid``), each with a NULL value."""
    return encode_pdu(ber.GET, request_id, 0, 0, [varbind(oid, ber.NULL_BER) for oid in oids])


@dataclass(slots=True)
class Answer:
    """A Response or Report PDU, its values already plain (None: the agent lacks the object)."""

    tag: int
    request_id: int
    error_status: int
    error_index: int
    varbinds: list[tuple[str, ber.Value | None]]


_INT32 = range(-0x80000000, 0x80000000)


def error_status_name(status: int) -> str:
    return ERROR_STATUS[status] if 0 <= status < len(ERROR_STATUS) else str(status)


def parse_answer(data: bytes, pos: int, end: int) -> Answer:
    """The Response or Report PDU at ``pos``, which must end exactly at ``end``."""
    read_header, read_int = ber.read_header, _read_int
    tag, start, pdu_end = read_header(data, pos)
    if tag not in (ber.RESPONSE, ber.REPORT):
        raise BerError(f"not a Response or Report PDU (tag 0x{tag:02x})")
    if pdu_end != end:
        raise BerError("bytes after the PDU")
    request_id, p = read_int(data, start)
    error_status, p = read_int(data, p)
    error_index, p = read_int(data, p)
    if request_id not in _INT32 or error_status not in _INT32 or not 0 <= error_index < 0x80000000:
        raise BerError("request-id, error-status or error-index out of range")
    vb_tag, p, vb_end = read_header(data, p)
    if vb_tag != ber.SEQUENCE or vb_end != end:
        raise BerError("a malformed varbind list")
    varbinds: list[tuple[str, ber.Value | None]] = []
    while p < vb_end:
        item_tag, s, item_end = read_header(data, p)
        oid_tag, oid_start, oid_end = read_header(data, s)
        value_tag, value_start, value_end = read_header(data, oid_end)
        if item_tag != ber.SEQUENCE or oid_tag != ber.OID or value_end != item_end or item_end > vb_end:
            raise BerError("a malformed varbind")
        oid = ber.dotted_oid(data[oid_start:oid_end])
        varbinds.append((oid, ber.decode_value(value_tag, data[value_start:value_end])))
        p = item_end
    return Answer(tag, request_id, error_status, error_index, varbinds)


def parse_community_answer(data: bytes) -> tuple[bytes, Answer]:
    """A v2c message's community and PDU."""
    version, p = parse_version(data)
    if version != V2C:
        raise BerError("not an SNMPv2c message")
    community, p = ber.read_octets(data, p)
    return community, parse_answer(data, p, len(data))


def parse_scoped_answer(data: bytes, pos: int = 0) -> tuple[bytes, bytes, Answer]:
    """A (decrypted) scoped PDU's context engine ID and name and its PDU (CFB adds no padding, so
    bytes after it are an error)."""
    start, end = ber.expect(data, pos, ber.SEQUENCE)
    if end != len(data):
        raise BerError("bytes after the scoped PDU")
    context_engine, p = ber.read_octets(data, start)
    context_name, p = ber.read_octets(data, p)
    return context_engine, context_name, parse_answer(data, p, end)
