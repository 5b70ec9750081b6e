"""SNMPv3 user-based security (RFC 3414; RFC 7860 for SHA-256; RFC 3826 for AES-128; AES-256 with
the Reeder key extension that Cisco and net-snmp's AES-256-C use)."""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

try:  # cryptography >= 43 keeps CFB among the "decrepit" modes; SNMP still needs it (RFC 3826)
    from cryptography.hazmat.decrepit.ciphers.modes import CFB
except ImportError:  # pragma: no cover - older cryptography
    from cryptography.hazmat.primitives.ciphers.modes import CFB

from fleet.domain.enums import SnmpAuthProtocol, SnmpPrivProtocol

# Length of the truncated HMAC carried in msgAuthenticationParameters.
AUTH_LENGTH = {SnmpAuthProtocol.SHA: 12, SnmpAuthProtocol.SHA256: 24}
PRIV_KEY_LENGTH = {SnmpPrivProtocol.AES: 16, SnmpPrivProtocol.AES256: 32}
_HASH = {SnmpAuthProtocol.SHA: "sha1", SnmpAuthProtocol.SHA256: "sha256"}
SALT_LENGTH = 8


def hash_passphrase(raw: bytes, auth: SnmpAuthProtocol) -> bytes:
    """RFC 3414 A.2: hash one megabyte of the repeated passphrase."""
    repeated = (raw * (1048576 // len(raw) + 1))[:1048576]
    return hashlib.new(_HASH[auth], repeated).digest()


@lru_cache(maxsize=64)
def password_to_key(password: str, auth: SnmpAuthProtocol) -> bytes:
    """The master key of a password (slow: cached per password)."""
    if len(password) < 8:
        raise ValueError("SNMPv3 passwords must be at least 8 characters")
    return hash_passphrase(password.encode(), auth)


def localise(key: bytes, engine_id: bytes, auth: SnmpAuthProtocol) -> bytes:
    return hashlib.new(_HASH[auth], key + engine_id + key).digest()


def localise_priv(master: bytes, engine_id: bytes, auth: SnmpAuthProtocol, priv: SnmpPrivProtocol) -> bytes:
    """The privacy key for one engine, extended when the cipher needs more than one digest."""
    size = PRIV_KEY_LENGTH[priv]
    key = localise(master, engine_id, auth)
    while len(key) < size:  # Reeder: hash the key as a passphrase, localise it, append
        key += localise(hash_passphrase(key, auth), engine_id, auth)
    return key[:size]


class LocalKeys:
    """One user's keys localised to one engine, with the HMAC's key schedule done once."""

    __slots__ = ("_mac", "auth", "auth_key", "digest_length", "priv", "priv_key")

    def __init__(
        self, auth: SnmpAuthProtocol, auth_key: bytes, priv: SnmpPrivProtocol, priv_key: bytes
    ) -> None:
        self.auth = auth
        self.auth_key = auth_key
        self.priv = priv
        self.priv_key = priv_key
        self.digest_length = AUTH_LENGTH[auth]
        self._mac = hmac.new(auth_key, digestmod=_HASH[auth])

    def __repr__(self) -> str:  # never show a key
        return f"LocalKeys({self.auth.value}, {self.priv.value})"

    def sign(self, message: bytes) -> bytes:
        mac = self._mac.copy()
        mac.update(message)
        return mac.digest()[: self.digest_length]


def local_keys(
    auth: SnmpAuthProtocol, auth_password: str, priv: SnmpPrivProtocol, priv_password: str, engine_id: bytes
) -> LocalKeys:
    return keys_for(
        password_to_key(auth_password, auth), auth, password_to_key(priv_password, auth), priv, engine_id
    )


def keys_for(
    auth_master: bytes, auth: SnmpAuthProtocol, priv_master: bytes, priv: SnmpPrivProtocol, engine_id: bytes
) -> LocalKeys:
    auth_key = localise(auth_master, engine_id, auth)
    return LocalKeys(auth, auth_key, priv, localise_priv(priv_master, engine_id, auth, priv))


def sign(keys: LocalKeys, message: bytes) -> bytes:
    return keys.sign(message)


def signed(keys: LocalKeys, message: bytes, offset: int) -> bytes:
    """``message`` (zeros at ``offset`` where the digest goes) with its digest filled in."""
    n = keys.digest_length
    return message[:offset] + keys.sign(message) + message[offset + n :]


def verify(keys: LocalKeys, message: bytes, offset: int, digest: bytes) -> bool:
    """Whether ``digest``, found at ``offset`` in ``message``, authenticates it."""
    n = keys.digest_length
    if len(digest) != n:
        return False
    blanked = message[:offset] + b"\x00" * n + message[offset + n :]
    return hmac.compare_digest(keys.sign(blanked), digest)


def _aes(key: bytes, boots: int, time: int, salt: bytes) -> Cipher[CFB]:
    iv = boots.to_bytes(4, "big") + time.to_bytes(4, "big") + salt
    return Cipher(algorithms.AES(key), CFB(iv))


def decrypt(keys: LocalKeys, boots: int, time: int, salt: bytes, data: bytes) -> bytes:
    if len(salt) != SALT_LENGTH:
        raise ValueError("AES privacy parameters must be 8 bytes")
    decryptor = _aes(keys.priv_key, boots, time, salt).decryptor()
    return decryptor.update(data) + decryptor.finalize()


def encrypt(keys: LocalKeys, boots: int, time: int, salt: bytes, data: bytes) -> bytes:
    encryptor = _aes(keys.priv_key, boots, time, salt).encryptor()
    return encryptor.update(data) + encryptor.finalize()
