"""pysnmp's reading of SNMP answers, the reference fleet's own codec is compared with.

The same steps the transport took when it decoded with pysnmp's protocol layer and pyasn1, as pure
functions: a datagram in, a plain outcome out (the answer's fields and values, or MALFORMED).
"""

from __future__ import annotations

from typing import Any

from pyasn1.codec.ber import decoder
from pyasn1.type import namedtype, univ
from pysnmp.proto import rfc1902, rfc1905
from pysnmp.proto.api import v2c
from pysnmp.proto.mpmod.rfc3412 import HeaderData, ScopedPDU
from pysnmp.proto.secmod.rfc3414.auth.hmacsha import HmacSha
from pysnmp.proto.secmod.rfc3414.service import UsmSecurityParameters
from pysnmp.proto.secmod.rfc3826.priv.aes import Aes
from pysnmp.proto.secmod.rfc7860.auth.hmacsha2 import HmacSha2

from fleet.domain.enums import SnmpAuthProtocol, SnmpPrivProtocol

MALFORMED = ("malformed",)
_ABSENT = (rfc1905.NoSuchObject, rfc1905.NoSuchInstance, rfc1905.EndOfMibView, univ.Null)


class _V3Envelope(univ.Sequence):  # type: ignore[misc]
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("msgVersion", univ.Integer()),
        namedtype.NamedType("msgGlobalData", HeaderData()),
        namedtype.NamedType("msgSecurityParameters", univ.OctetString()),
        namedtype.NamedType("msgData", univ.Any()),
    )


class _Bad(Exception):
    pass


def auth_service(auth: SnmpAuthProtocol) -> tuple[Any, tuple[int, ...]]:
    if auth is SnmpAuthProtocol.SHA:
        return HmacSha(), HmacSha.SERVICE_ID
    return HmacSha2(HmacSha2.SHA256_SERVICE_ID), HmacSha2.SHA256_SERVICE_ID


def priv_service(priv: SnmpPrivProtocol) -> Any:
    if priv is SnmpPrivProtocol.AES:
        return Aes()
    from pysnmp.proto.secmod.eso.priv.aes256 import Aes256  # noqa: PLC0415 - after the USM service

    return Aes256()


def local_keys(
    auth: SnmpAuthProtocol, auth_pw: str, priv: SnmpPrivProtocol, priv_pw: str, engine_id: bytes
) -> tuple[bytes, bytes]:
    """pysnmp's localised (auth, priv) keys."""
    auth_svc, auth_id = auth_service(auth)
    priv_svc = priv_service(priv)
    engine = univ.OctetString(engine_id)
    auth_key = auth_svc.localize_key(auth_svc.hash_passphrase(auth_pw), engine)
    priv_key = priv_svc.localize_key(auth_id, priv_svc.hash_passphrase(auth_id, priv_pw), engine)
    return bytes(auth_key), bytes(priv_key)[: 16 if priv is SnmpPrivProtocol.AES else 32]


def plain_value(value: Any) -> Any:
    if isinstance(value, _ABSENT):
        return None
    if isinstance(value, rfc1902.IpAddress):
        return ".".join(str(octet) for octet in value.asNumbers())
    if isinstance(value, univ.Integer):
        return int(value)
    if isinstance(value, univ.ObjectIdentifier):
        return ".".join(str(arc) for arc in value)
    if isinstance(value, univ.OctetString):
        return bytes(value.asOctets())
    raise _Bad(type(value).__name__)


def _decode(data: bytes, spec: Any) -> Any:
    value, rest = decoder.decode(data, asn1Spec=spec)
    if rest:
        raise _Bad("bytes after the message")
    return value


def _pdu(pdu: Any) -> tuple[Any, ...]:
    tag = (
        "response"
        if pdu.tagSet == rfc1905.ResponsePDU.tagSet
        else "report"
        if pdu.tagSet == rfc1905.ReportPDU.tagSet
        else "other"
    )
    varbinds = [
        (".".join(map(str, name)), plain_value(value)) for name, value in v2c.apiPDU.get_varbinds(pdu)
    ]
    return (tag, int(v2c.apiPDU.get_request_id(pdu)), int(pdu[1]), int(pdu[2]), varbinds)


def read_v2c(data: bytes) -> tuple[Any, ...]:
    """A v2c Response as (tag, request-id, error-status, error-index, varbinds), or MALFORMED."""
    try:
        msg = _decode(data, v2c.Message())
        if int(msg[0]) != 1:
            return MALFORMED
        pdu = _pdu(v2c.apiMessage.get_pdu(msg))
        return pdu if pdu[0] == "response" else MALFORMED
    except Exception:  # anything pysnmp or pyasn1 refuses is a malformed answer
        return MALFORMED


def read_v3(
    data: bytes, keys: tuple[SnmpAuthProtocol, bytes, SnmpPrivProtocol, bytes], engine_id: bytes
) -> tuple[Any, ...]:
    """An SNMPv3 answer as (msgID, engine ID, boots, time, authentic, PDU as in read_v2c), or MALFORMED."""
    auth, auth_key, priv, priv_key = keys
    try:
        msg = _decode(data, _V3Envelope())
        header = msg[1]
        flags_raw = header[2].asOctets()
        if int(msg[0]) != 3 or len(flags_raw) != 1 or int(header[3]) != 3:
            return MALFORMED
        flags = flags_raw[0]
        params = _decode(msg[2].asOctets(), UsmSecurityParameters())
        msg_engine, boots, engine_time = params[0].asOctets(), int(params[1]), int(params[2])
        authentic = False
        if flags & 1:
            if msg_engine != engine_id:
                return MALFORMED
            auth_service(auth)[0].authenticate_incoming_message(univ.OctetString(auth_key), params[4], data)
            authentic = True
        payload = msg[3].asOctets()
        if flags & 2:
            if not authentic:
                return MALFORMED
            encrypted = _decode(payload, univ.OctetString())
            salt = list(params[5].asNumbers())
            payload = priv_service(priv).decrypt_data(
                univ.OctetString(priv_key), (boots, engine_time, salt), encrypted
            )
        scoped = _decode(payload, ScopedPDU())
        return (int(header[0]), msg_engine, boots, engine_time, authentic, _pdu(scoped[2].getComponent()))
    except Exception:  # anything pysnmp or pyasn1 refuses is a malformed answer
        return MALFORMED
