"""SNMPv3 state: credential sets (master keys hashed once) and the agents' engines (RFC 3414 2.3).

Passwords are hashed to master keys once per credential set (the 1 MB hash of RFC 3414 A.2) and
localised per engine ID (one hash), kept with the engine across sweeps.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from fleet.domain.enums import SnmpAuthProtocol, SnmpPrivProtocol
from fleet.snmp import usm
from fleet.transports.errors import TransportErrorKind
from fleet.transports.snmp.frames import Frames, octets
from fleet.transports.snmp.types import SnmpCredentials

# USM statistics an agent reports (RFC 3414 section 5), with our kind and words.
_USM_STATS = "1.3.6.1.6.3.15.1.1"
UNKNOWN_ENGINE_ID = f"{_USM_STATS}.4.0"
NOT_IN_TIME_WINDOW = f"{_USM_STATS}.2.0"
REPORTS: dict[str, tuple[TransportErrorKind, str]] = {
    f"{_USM_STATS}.1.0": (TransportErrorKind.AUTH_FAILED, "the agent does not offer authPriv to this user"),
    f"{_USM_STATS}.3.0": (TransportErrorKind.AUTH_FAILED, "the agent does not know user {user!r}"),
    f"{_USM_STATS}.5.0": (
        TransportErrorKind.AUTH_FAILED,
        "wrong authentication key (the agent reports a wrong digest)",
    ),
    f"{_USM_STATS}.6.0": (TransportErrorKind.AUTH_FAILED, "wrong privacy key (the agent cannot decrypt)"),
}


def report_kind(oid: str, user: str) -> tuple[TransportErrorKind, str]:
    """What a report that ends an attempt means; anything but the USM counters is a protocol error."""
    kind, text = REPORTS.get(oid, (TransportErrorKind.PROTOCOL, ""))
    if not text:
        return kind, f"the agent reports {oid or 'an empty report'}"
    return kind, text.format(user=user)


@dataclass(slots=True, eq=False)  # compared and hashed by identity: a key of Engine.keys
class Usm:
    """One v3 credential set: protocols and master keys, hashed once."""

    user: bytes
    auth: SnmpAuthProtocol
    priv: SnmpPrivProtocol
    auth_master: bytes
    priv_master: bytes

    def __repr__(self) -> str:  # never show a key
        return f"Usm({self.user!r}, {self.auth.value}, {self.priv.value})"

    @classmethod
    def make(cls, creds: SnmpCredentials) -> Usm:
        if creds.auth_protocol is None or creds.priv_protocol is None:
            raise ValueError("v3 credentials need an auth and a privacy protocol (fleet uses authPriv only)")
        if len(creds.auth_key) < 8 or len(creds.priv_key) < 8:
            raise ValueError("SNMPv3 keys must be at least 8 characters (RFC 3414)")
        auth, priv = creds.auth_protocol, creds.priv_protocol
        return cls(
            creds.user.encode(),
            auth,
            priv,
            usm.password_to_key(creds.auth_key, auth),
            usm.password_to_key(creds.priv_key, auth),
        )


@dataclass(slots=True)
class Engine:
    """What we learnt about one agent's SNMPv3 engine, kept across sweeps."""

    engine_id: bytes
    boots: int
    time: int
    at: float  # monotonic time ``time`` was learnt
    keys: dict[Usm, usm.LocalKeys] = field(default_factory=dict)  # localised, per credential set

    def now(self, now: float) -> int:
        return max(0, min(self.time + int(now - self.at), 2147483647))

    def keys_for(self, cred: Usm) -> usm.LocalKeys:
        keys = self.keys.get(cred)
        if keys is None:
            keys = usm.keys_for(cred.auth_master, cred.auth, cred.priv_master, cred.priv, self.engine_id)
            self.keys[cred] = keys
        return keys


def v3_get(frames: Frames, cred: Usm, engine: Engine, rid: int, oids: tuple[str, ...], now: float) -> bytes:
    """An authPriv GET for ``engine``: the scoped PDU encrypted with a fresh salt, then signed."""
    keys = engine.keys_for(cred)
    engine_id, rid_octets = engine.engine_id, rid.to_bytes(4, "big")
    plain = frames.scoped(len(engine_id), oids).join([engine_id, rid_octets])
    boots, engine_time = engine.boots, engine.now(now)
    salt = os.urandom(usm.SALT_LENGTH)
    encrypted = usm.encrypt(keys, boots, engine_time, salt, plain)
    boots_octets, time_octets = octets(boots), octets(engine_time)
    widths = (len(engine_id), len(boots_octets), len(time_octets), len(plain))
    frame, offset = frames.v3(widths, cred.user, keys.digest_length)
    whole = frame.join([rid_octets, engine_id, boots_octets, time_octets, salt, encrypted])
    return usm.signed(keys, whole, offset)
