"""BER encoding and decoding for the subset of ASN.1 that SNMP uses.

Hand-written because the simulator answers tens of thousands of requests a second: a general
ASN.1 library costs ten times more per message. Decoding functions take the buffer and a position
and return the value and the next position; they raise ``BerError`` on malformed input.
"""

from __future__ import annotations

# Universal and SNMP application tags.
INTEGER = 0x02
OCTET_STRING = 0x04
NULL = 0x05
OID = 0x06
SEQUENCE = 0x30
IP_ADDRESS = 0x40
COUNTER32 = 0x41
GAUGE32 = 0x42
TIMETICKS = 0x43
OPAQUE = 0x44
COUNTER64 = 0x46
NO_SUCH_OBJECT = 0x80
NO_SUCH_INSTANCE = 0x81
END_OF_MIB_VIEW = 0x82

# PDU tags.
GET = 0xA0
GET_NEXT = 0xA1
RESPONSE = 0xA2
SET = 0xA3
GET_BULK = 0xA5
INFORM = 0xA6
TRAP_V2 = 0xA7
REPORT = 0xA8

NULL_BER = b"\x05\x00"


class BerError(ValueError):
    """The bytes are not valid BER for what was expected."""


def encode_length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    if n < 0x100:
        return bytes((0x81, n))
    if n < 0x10000:
        return bytes((0x82, n >> 8, n & 0xFF))
    return b"\x83" + n.to_bytes(3, "big")


def tlv(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes((tag, n)) + body
    return bytes((tag,)) + encode_length(n) + body


def encode_int(tag: int, value: int) -> bytes:
    """Two's complement, minimal length (INTEGER), or unsigned for application types."""
    if tag == INTEGER:
        length = (value + (value < 0)).bit_length() // 8 + 1
        return tlv(tag, value.to_bytes(length, "big", signed=True))
    if value < 0:
        raise ValueError(f"unsigned type 0x{tag:02x} cannot hold {value}")
    length = value.bit_length() // 8 + 1  # a leading zero keeps the top bit clear
    return tlv(tag, value.to_bytes(length, "big"))


def encode_oid(oid: tuple[int, ...]) -> bytes:
    if len(oid) < 2 or oid[0] > 2 or (oid[0] < 2 and oid[1] > 39) or min(oid) < 0:
        raise ValueError(f"not a valid OID: {oid}")
    body = bytearray()
    for arc in (oid[0] * 40 + oid[1], *oid[2:]):
        if arc < 0x80:
            body.append(arc)
            continue
        chunk = []
        rest = arc
        while rest:
            chunk.append(rest & 0x7F)
            rest >>= 7
        chunk.reverse()
        for i in range(len(chunk) - 1):
            chunk[i] |= 0x80
        body.extend(chunk)
    return tlv(OID, bytes(body))


def parse_oid(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.strip(".").split("."))


def read_header(data: bytes, pos: int) -> tuple[int, int, int]:
    """Return (tag, start of contents, end of contents)."""
    try:
        tag = data[pos]
        length = data[pos + 1]
    except IndexError:
        raise BerError("truncated header") from None
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4:
            raise BerError("unsupported length form")
        if pos + count > len(data):
            raise BerError("truncated length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    end = pos + length
    if end > len(data):
        raise BerError("length runs past the end of the message")
    return tag, pos, end


def expect(data: bytes, pos: int, tag: int) -> tuple[int, int]:
    got, start, end = read_header(data, pos)
    if got != tag:
        raise BerError(f"expected tag 0x{tag:02x}, found 0x{got:02x}")
    return start, end


def read_int(data: bytes, pos: int) -> tuple[int, int]:
    start, end = expect(data, pos, INTEGER)
    if start == end:
        raise BerError("empty INTEGER")
    return int.from_bytes(data[start:end], "big", signed=True), end


def read_octets(data: bytes, pos: int) -> tuple[bytes, int]:
    start, end = expect(data, pos, OCTET_STRING)
    return data[start:end], end


MAX_ARCS = 128
MAX_ARC = 0xFFFFFFFF


def decode_oid_body(body: bytes, *, bounded: bool = True) -> tuple[int, ...]:
    if not body:
        raise BerError("empty OID")
    if body[-1] & 0x80:
        raise BerError("OID ends inside an arc")
    subids: list[int] = []
    value = 0
    for byte in body:
        if byte == 0x80 and not value:
            raise BerError("an OID arc with a leading zero septet (not minimal)")
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            subids.append(value)
            value = 0
    first = subids[0]
    top = min(first // 40, 2)
    arcs = (top, first - 40 * top, *subids[1:])
    if bounded and (len(arcs) > MAX_ARCS or max(arcs) > MAX_ARC):
        raise BerError("OID too long or an arc too large")
    return arcs


def read_oid(data: bytes, pos: int) -> tuple[tuple[int, ...], int]:
    start, end = expect(data, pos, OID)
    return decode_oid_body(data[start:end]), end


def skip(data: bytes, pos: int) -> int:
    """Position after the TLV at ``pos``."""
    return read_header(data, pos)[2]


# --- values as plain Python values (what a manager reads) ---------------------------------------

Value = int | str | bytes

_dotted: dict[bytes, str] = {}  # OID contents -> dotted text: a sweep asks the same few OIDs


def dotted_oid(body: bytes) -> str:
    text = _dotted.get(body)
    if text is None:
        text = ".".join(map(str, decode_oid_body(body, bounded=False)))  # as long as pysnmp reads
        if len(_dotted) < 65536:
            _dotted[body] = text
    return text


# Unsigned application types and their largest value; their contents are read as two's complement,
# as pyasn1 does, so a value with the top bit set and no leading zero is out of range (malformed).
_UNSIGNED = {COUNTER32: 0xFFFFFFFF, GAUGE32: 0xFFFFFFFF, TIMETICKS: 0xFFFFFFFF, COUNTER64: 0xFFFFFFFFFFFFFFFF}
_ABSENT = frozenset((NULL, NO_SUCH_OBJECT, NO_SUCH_INSTANCE, END_OF_MIB_VIEW))


def decode_value(tag: int, body: bytes) -> Value | None:
    """A varbind's value: ints, bytes (OCTET STRING, Opaque), dotted OID and IpAddress text; None
    for an object the agent lacks (noSuchObject, noSuchInstance, endOfMibView, NULL)."""
    if tag in (OCTET_STRING, OPAQUE):
        return body
    if tag == OCTET_STRING | 0x20:  # BER's constructed form: the chunks' contents, joined
        return _chunks(body)
    if tag == INTEGER:
        value = int.from_bytes(body, "big", signed=True)
        if not -0x80000000 <= value <= 0x7FFFFFFF:
            raise BerError("INTEGER out of Integer32's range")
        return value
    top = _UNSIGNED.get(tag)
    if top is not None:
        value = int.from_bytes(body, "big", signed=True)
        if not 0 <= value <= top:
            raise BerError(f"value out of range for type 0x{tag:02x}")
        return value
    if tag == OID:
        return dotted_oid(body)
    if tag == IP_ADDRESS:
        if len(body) != 4:
            raise BerError("an IpAddress is 4 octets")
        return "%d.%d.%d.%d" % tuple(body)  # noqa: UP031 - the fastest form
    if tag in _ABSENT:
        if body:
            raise BerError("a NULL-like value with contents")
        return None
    raise BerError(f"unexpected value type 0x{tag:02x}")


def _chunks(body: bytes) -> bytes:
    parts, pos = [], 0
    while pos < len(body):
        tag, start, end = read_header(body, pos)
        if tag == OCTET_STRING:
            parts.append(body[start:end])
        elif tag == OCTET_STRING | 0x20:
            parts.append(_chunks(body[start:end]))
        else:
            raise BerError("a constructed OCTET STRING with a chunk of another type")
        pos = end
    return b"".join(parts)
