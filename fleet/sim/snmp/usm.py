"""SNMPv3 user-based security (RFC 3414, RFC 7860 for SHA-256, RFC 3826 for AES-128)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

try:  # cryptography >= 43 keeps CFB among the "decrepit" modes; SNMP still needs it (RFC 3826)
    from cryptography.hazmat.decrepit.ciphers.modes import CFB
except ImportError:  # pragma: no cover - older cryptography
    from cryptography.hazmat.primitives.ciphers.modes import CFB

from fleet.domain.enums import SnmpAuthProtocol, SnmpPrivProtocol

# Length of the truncated HMAC carried in msgAuthenticationParameters.
AUTH_LENGTH = {SnmpAuthProtocol.SHA: 12, SnmpAuthProtocol.SHA256: 24}
_HASH = {SnmpAuthProtocol.SHA: "sha1", SnmpAuthProtocol.SHA256: "sha256"}


@lru_cache(maxsize=64)
def password_to_key(password: str, auth: SnmpAuthProtocol) -> bytes:
    """RFC 3414 A.2: hash one megabyte of the repeated password (slow: cached per password)."""
    if len(password) < 8:
        raise ValueError("SNMPv3 passwords must be at least 8 characters")
    raw = password.encode()
    repeated = (raw * (1048576 // len(raw) + 1))[:1048576]
    return hashlib.new(_HASH[auth], repeated).digest()


def localise(key: bytes, engine_id: bytes, auth: SnmpAuthProtocol) -> bytes:
    return hashlib.new(_HASH[auth], key + engine_id + key).digest()


@dataclass(frozen=True, slots=True)
class LocalKeys:
    auth: SnmpAuthProtocol
    auth_key: bytes
    priv: SnmpPrivProtocol
    priv_key: bytes


def local_keys(
    auth: SnmpAuthProtocol, auth_password: str, priv: SnmpPrivProtocol, priv_password: str, engine_id: bytes
) -> LocalKeys:
    if priv is not SnmpPrivProtocol.AES:
        raise ValueError(f"the simulator implements AES-128 privacy only, not {priv.value}")
    auth_key = localise(password_to_key(auth_password, auth), engine_id, auth)
    priv_key = localise(password_to_key(priv_password, auth), engine_id, auth)[:16]
    return LocalKeys(auth, auth_key, priv, priv_key)


def sign(keys: LocalKeys, message: bytes) -> bytes:
    return hmac.new(keys.auth_key, message, _HASH[keys.auth]).digest()[: AUTH_LENGTH[keys.auth]]


def _aes(key: bytes, boots: int, time: int, salt: bytes) -> Cipher[CFB]:
    iv = boots.to_bytes(4, "big") + time.to_bytes(4, "big") + salt
    return Cipher(algorithms.AES(key), CFB(iv))


def decrypt(keys: LocalKeys, boots: int, time: int, salt: bytes, data: bytes) -> bytes:
    if len(salt) != 8:
        raise ValueError("AES privacy parameters must be 8 bytes")
    decryptor = _aes(keys.priv_key, boots, time, salt).decryptor()
    return decryptor.update(data) + decryptor.finalize()


def encrypt(keys: LocalKeys, boots: int, time: int, salt: bytes, data: bytes) -> bytes:
    encryptor = _aes(keys.priv_key, boots, time, salt).encryptor()
    return encryptor.update(data) + encryptor.finalize()
