"""Requests as frames, answers as plain values: the transport's side of fleet.snmp's codec.

A frame is an encoded message whose varying fields are filled in per send: the message is
encoded twice, each varying field filled with 0x11 bytes, then with 0x22 bytes; the spans where
the two differ are the fields (their widths are checked), everything around them is kept. Integer
fields are positive and given in their minimal width (``octets``), so any value of that width fits
the same frame: a send is a join, not an encoding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from fleet.snmp import ber, message, usm
from fleet.snmp.ber import BerError
from fleet.snmp.message import Answer, V3Message

MAX_MESSAGE = 65507
V2C_VERSION, V3_VERSION = message.V2C, message.V3
FLAG_AUTH, FLAG_PRIV, FLAG_REPORTABLE = message.FLAG_AUTH, message.FLAG_PRIV, message.FLAG_REPORTABLE
_INT31 = 0x7FFFFFFF


class Garbage(Exception):
    """A datagram that is not a readable SNMP answer."""


DECODE_ERRORS = (BerError, Garbage, ValueError, IndexError, OverflowError)


class Frame:
    __slots__ = ("segments",)

    def __init__(self, build: Callable[[bytes], bytes], widths: Sequence[int]) -> None:
        a, b = build(b"\x11"), build(b"\x22")
        if len(a) != len(b):
            raise ValueError("the message frame is not stable")
        segments: list[bytes] = []
        start = i = 0
        while i < len(a):
            if a[i] == b[i]:
                i += 1
                continue
            end = i
            while end < len(a) and a[end] != b[end]:
                end += 1
            segments.append(a[start:i])
            start = i = end
        segments.append(a[start:])
        if len(segments) != len(widths) + 1 or len(a) - sum(map(len, segments)) != sum(widths):
            raise ValueError("the message frame does not have the expected fields")
        self.segments = segments

    def join(self, fields: Sequence[bytes]) -> bytes:
        parts = [self.segments[0]]
        for value, segment in zip(fields, self.segments[1:], strict=True):
            parts.append(value)
            parts.append(segment)
        return b"".join(parts)


def octets(value: int) -> bytes:
    """A non-negative INTEGER's content octets, as BER writes them (minimal, sign bit clear)."""
    return value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big")


def _filled(fill: bytes, width: int) -> int:
    return int.from_bytes(fill * width, "big")


def encoded_oids(oids: Sequence[str]) -> list[bytes]:
    """Each OID's BER; ValueError for one that is not an OID."""
    return [ber.encode_oid(ber.parse_oid(oid)) for oid in oids]


def v2c_frame(community: bytes, oids: Sequence[str]) -> Frame:
    """A v2c GET; field: the request-id."""
    encoded = encoded_oids(oids)
    return Frame(
        lambda fill: message.encode_community(
            V2C_VERSION, community, message.encode_get(_filled(fill, 4), encoded)
        ),
        [4],
    )


def scoped_frame(engine_id_length: int, oids: Sequence[str]) -> Frame:
    """A v3 scoped GET PDU; fields: the context engine ID, the request-id."""
    encoded = encoded_oids(oids)
    return Frame(
        lambda fill: message.encode_scoped_pdu(
            fill * engine_id_length, b"", message.encode_get(_filled(fill, 4), encoded)
        ),
        [engine_id_length, 4],
    )


def v3_message(
    msg_id: int,
    flags: int,
    params: tuple[bytes, int, int, bytes, int, bytes],
    data: bytes,
    *,
    encrypted: bool,
) -> tuple[bytes, int]:
    """An SNMPv3 message with a zeroed digest, and where the digest goes. ``params``: engine ID,
    boots, time, user, digest length, salt; ``data``: a scoped PDU, or an encrypted one."""
    engine_id, boots, time, user, digest_length, salt = params
    msg_data = ber.tlv(ber.OCTET_STRING, data) if encrypted else data
    return message.encode_v3(
        msg_id, MAX_MESSAGE, flags, engine_id, boots, time, user, digest_length, salt, msg_data
    )


def v3_frame(widths: tuple[int, int, int, int], user: bytes, digest_length: int) -> tuple[Frame, int]:
    """An authPriv v3 GET, and where its digest goes; fields: msgID, engine ID, boots, time, salt,
    the encrypted scoped PDU."""
    engine_id_length, boots_width, time_width, data_length = widths

    def message_of(fill: bytes) -> tuple[bytes, int]:
        params = (
            fill * engine_id_length,
            _filled(fill, boots_width),
            _filled(fill, time_width),
            user,
            digest_length,
            fill * 8,
        )
        flags = FLAG_AUTH | FLAG_PRIV | FLAG_REPORTABLE
        return v3_message(_filled(fill, 4), flags, params, fill * data_length, encrypted=True)

    offset = message_of(b"\x11")[1]  # every field has its final width, so the digest's place is fixed
    frame = Frame(
        lambda fill: message_of(fill)[0], [4, engine_id_length, boots_width, time_width, 8, data_length]
    )
    return frame, offset


# The discovery probe (RFC 3414 4): no user, no engine ID, reportable, an empty GET; fields: the
# msgID and the request-id (the same number).
PROBE = Frame(
    lambda fill: v3_message(
        _filled(fill, 4),
        FLAG_REPORTABLE,
        (b"", 0, 0, b"", 0, b""),
        message.encode_scoped_pdu(b"", b"", message.encode_get(_filled(fill, 4), [])),
        encrypted=False,
    )[0],
    [4, 4],
)


class Frames:
    """The frames of one sweeper, built once per shape."""

    def __init__(self) -> None:
        self._v2c: dict[tuple[bytes, tuple[str, ...]], Frame] = {}
        self._scoped: dict[tuple[int, tuple[str, ...]], Frame] = {}
        self._v3: dict[tuple[tuple[int, int, int, int], bytes, int], tuple[Frame, int]] = {}

    def v2c(self, community: bytes, oids: tuple[str, ...]) -> Frame:
        frame = self._v2c.get((community, oids))
        if frame is None:
            frame = self._v2c[community, oids] = v2c_frame(community, oids)
        return frame

    def scoped(self, length: int, oids: tuple[str, ...]) -> Frame:
        frame = self._scoped.get((length, oids))
        if frame is None:
            frame = self._scoped[length, oids] = scoped_frame(length, oids)
        return frame

    def v3(self, widths: tuple[int, int, int, int], user: bytes, digest_length: int) -> tuple[Frame, int]:
        key = (widths, user, digest_length)
        frame = self._v3.get(key)
        if frame is None:
            frame = self._v3[key] = v3_frame(widths, user, digest_length)
        return frame


# --- answers -------------------------------------------------------------------------------------


def version_of(data: bytes) -> int:
    return message.parse_version(data)[0]


def v2c_answer(data: bytes) -> Answer:
    """A v2c Response; Garbage (or BerError) for anything else."""
    version, p = message.parse_version(data)
    if version != V2C_VERSION:
        raise Garbage("not an SNMPv2c message")
    _community, p = ber.read_octets(data, p)
    answer = message.parse_answer(data, p, len(data))
    if answer.tag != ber.RESPONSE:
        raise Garbage("not a Response PDU")
    return answer


def v3_envelope(data: bytes) -> V3Message:
    """An SNMPv3 USM message's header and security parameters (msgData left as it is)."""
    version, p = message.parse_version(data)
    if version != V3_VERSION:
        raise Garbage("not an SNMPv3 message")
    msg = message.parse_v3(data, p)
    if msg.security_model != message.USM:
        raise Garbage("not a USM message")
    if ber.skip(data, msg.data_pos) != len(data):
        raise Garbage("bytes after msgData")
    if not (0 <= msg.msg_id <= _INT31 and 484 <= msg.max_size <= _INT31 and 0 <= msg.boots <= _INT31):
        raise Garbage("a header field out of range")
    if not 0 <= msg.time <= _INT31 or len(msg.user) > 32:
        raise Garbage("a security parameter out of range")
    return msg


def v3_answer(
    data: bytes, msg: V3Message, keys: usm.LocalKeys | None, engine_id: bytes
) -> tuple[bool, Answer]:
    """Whether an answer is authentic, and its PDU, decrypted with ``keys`` (localised to the engine
    ``engine_id`` we know) when it is encrypted."""
    authentic = False
    if msg.flags & FLAG_AUTH:
        if keys is None or msg.engine_id != engine_id:
            raise Garbage("an authenticated answer from another engine ID")
        if not usm.verify(keys, data, msg.auth_params_offset, msg.auth_params):
            raise Garbage("an answer that fails authentication")
        authentic = True
    if msg.flags & FLAG_PRIV:
        if not authentic or keys is None:
            raise Garbage("an encrypted answer without authentication")
        encrypted, _end = ber.read_octets(data, msg.data_pos)
        try:
            plain = usm.decrypt(keys, msg.boots, msg.time, msg.priv_params, encrypted)
        except ValueError as exc:
            raise Garbage(str(exc)) from None
        return authentic, message.parse_scoped_answer(plain)[2]
    _start, end = ber.expect(data, msg.data_pos, ber.SEQUENCE)
    return authentic, message.parse_scoped_answer(data[msg.data_pos : end])[2]
