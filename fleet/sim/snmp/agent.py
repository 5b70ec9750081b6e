"""Answer SNMP requests for one device: v2c communities and v3 USM authPriv users.

``Agent.handle`` takes a datagram and returns the reply datagram, or None to stay silent (as real
agents do for a wrong community or a malformed packet).
"""

from __future__ import annotations

import hmac
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fleet.sim.snmp.mib import MibView, counter32
from fleet.snmp import ber, message, usm
from fleet.snmp.ber import BerError
from fleet.snmp.message import FLAG_AUTH, FLAG_PRIV, FLAG_REPORTABLE, Pdu

MAX_MESSAGE = 1472  # what the device sends at most, like a router's default packet size
MAX_REPETITIONS = 100
# Bytes a Response PDU adds around its varbinds: its tag and length, request-id, error-status,
# error-index, the varbind list header, and the growth of the outer length fields.
PDU_OVERHEAD = 32
TIME_WINDOW = 150  # seconds, RFC 3414

# error-status values
NO_ERROR, TOO_BIG, NOT_WRITABLE = 0, 1, 17

NO_SUCH_OBJECT = b"\x80\x00"
NO_SUCH_INSTANCE = b"\x81\x00"
END_OF_MIB_VIEW = b"\x82\x00"

USM_STATS = "1.3.6.1.6.3.15.1.1"
UNSUPPORTED_SEC_LEVELS = ber.encode_oid(ber.parse_oid(f"{USM_STATS}.1.0"))
NOT_IN_TIME_WINDOWS = ber.encode_oid(ber.parse_oid(f"{USM_STATS}.2.0"))
UNKNOWN_USER_NAMES = ber.encode_oid(ber.parse_oid(f"{USM_STATS}.3.0"))
UNKNOWN_ENGINE_IDS = ber.encode_oid(ber.parse_oid(f"{USM_STATS}.4.0"))
WRONG_DIGESTS = ber.encode_oid(ber.parse_oid(f"{USM_STATS}.5.0"))
DECRYPTION_ERRORS = ber.encode_oid(ber.parse_oid(f"{USM_STATS}.6.0"))


@dataclass(slots=True)
class AgentStats:
    requests: int = 0
    dropped: int = 0
    malformed: int = 0
    bad_community: int = 0
    reports: dict[bytes, int] = field(default_factory=dict)

    def report(self, oid_ber: bytes) -> int:
        self.reports[oid_ber] = self.reports.get(oid_ber, 0) + 1
        return self.reports[oid_ber]


@dataclass(slots=True)
class Identity:
    """What the agent needs to know about its device's security."""

    communities: frozenset[bytes]
    engine_id: bytes
    engine_boots: int
    started: float  # monotonic time the engine started (snmpEngineTime counts from it)
    users: dict[bytes, Callable[[], usm.LocalKeys]]  # user name -> localised keys (lazily)


_salts = itertools.count(0x5EED0000)


class Agent:
    def __init__(self, view: MibView, stats: AgentStats | None = None) -> None:
        self.view = view
        self.stats = stats or AgentStats()

    # --- entry point -------------------------------------------------------------------------

    def handle(self, data: bytes, ident: Identity, dev: Any, now: float) -> bytes | None:
        self.stats.requests += 1
        try:
            version, pos = message.parse_version(data)
            if version == message.V2C:  # SNMPv1 is not offered: fleet's inventory allows v2c and v3
                return self._community(data, pos, version, ident, dev, now)
            if version == message.V3:
                return self._v3(data, pos, ident, dev, now)
        except BerError:
            self.stats.malformed += 1
            return None
        self.stats.dropped += 1
        return None

    # --- v1/v2c ------------------------------------------------------------------------------

    def _community(
        self, data: bytes, pos: int, version: int, ident: Identity, dev: Any, now: float
    ) -> bytes | None:
        msg = message.parse_community(data, pos, version)
        if msg.community not in ident.communities:
            self.stats.bad_community += 1
            return None
        pdu = message.parse_pdu(data, msg.pdu_pos)
        header = len(message.encode_community(version, msg.community, b""))
        reply = self.process(pdu, dev, now, MAX_MESSAGE - header - PDU_OVERHEAD)
        if reply is None:
            return None
        return message.encode_community(version, msg.community, reply)

    # --- PDU processing ------------------------------------------------------------------------

    def process(self, pdu: Pdu, dev: Any, now: float, budget: int) -> bytes | None:
        """Build the Response PDU; ``budget`` bounds the size of its varbinds."""
        if pdu.tag == ber.GET:
            varbinds = [self._get(oid, dev, now) for oid in pdu.oids]
        elif pdu.tag == ber.GET_NEXT:
            varbinds = [self._next(oid, dev, now) for oid in pdu.oids]
        elif pdu.tag == ber.GET_BULK:
            return self._bulk(pdu, dev, now, budget)
        elif pdu.tag == ber.SET:
            varbinds = [message.varbind(ber.encode_oid(o), ber.NULL_BER) for o in pdu.oids]
            return message.encode_pdu(
                ber.RESPONSE, pdu.request_id, NOT_WRITABLE, 1 if pdu.oids else 0, varbinds
            )
        else:
            return None
        if sum(len(v) for v in varbinds) > budget:
            return message.encode_pdu(ber.RESPONSE, pdu.request_id, TOO_BIG, 0, [])
        return message.encode_pdu(ber.RESPONSE, pdu.request_id, NO_ERROR, 0, varbinds)

    def _get(self, oid: tuple[int, ...], dev: Any, now: float) -> bytes:
        obj = self.view.get(oid)
        if obj is not None:
            return message.varbind(obj.oid_ber, obj.value(dev, now))
        missing = NO_SUCH_INSTANCE if self.view.knows_type(oid) else NO_SUCH_OBJECT
        return message.varbind(ber.encode_oid(oid), missing)

    def _next(self, oid: tuple[int, ...], dev: Any, now: float) -> bytes:
        obj = self.view.next_after(oid)
        if obj is None:
            return message.varbind(ber.encode_oid(oid), END_OF_MIB_VIEW)
        return message.varbind(obj.oid_ber, obj.value(dev, now))

    def _bulk(self, pdu: Pdu, dev: Any, now: float, budget: int) -> bytes:
        non_repeaters = max(0, min(pdu.field2, len(pdu.oids)))
        repetitions = max(0, min(pdu.field3, MAX_REPETITIONS))
        varbinds = [self._next(oid, dev, now) for oid in pdu.oids[:non_repeaters]]
        size = sum(len(v) for v in varbinds)
        if size > budget:
            return message.encode_pdu(ber.RESPONSE, pdu.request_id, TOO_BIG, 0, [])
        cursors = list(pdu.oids[non_repeaters:])
        for _ in range(repetitions if cursors else 0):
            all_ended = True
            for i, oid in enumerate(cursors):
                obj = self.view.next_after(oid)
                if obj is None:
                    vb = message.varbind(ber.encode_oid(oid), END_OF_MIB_VIEW)
                else:
                    vb = message.varbind(obj.oid_ber, obj.value(dev, now))
                    cursors[i] = obj.oid
                    all_ended = False
                if size + len(vb) > budget:
                    return message.encode_pdu(ber.RESPONSE, pdu.request_id, NO_ERROR, 0, varbinds)
                varbinds.append(vb)
                size += len(vb)
            if all_ended:
                break
        return message.encode_pdu(ber.RESPONSE, pdu.request_id, NO_ERROR, 0, varbinds)

    # --- v3 ----------------------------------------------------------------------------------

    def _v3(self, data: bytes, pos: int, ident: Identity, dev: Any, now: float) -> bytes | None:
        msg = message.parse_v3(data, pos)
        if (
            msg.security_model != message.USM
            or (msg.flags & FLAG_PRIV and not msg.flags & FLAG_AUTH)
            or msg.max_size < 484  # RFC 3412: smaller than any SNMP engine must accept
            or msg.time < 0
            or msg.boots < 0
        ):
            self.stats.dropped += 1
            return None
        engine_time = max(0, int(now - ident.started))
        reportable = bool(msg.flags & FLAG_REPORTABLE)

        def report(oid_ber: bytes, request_id: int = 0, keys: usm.LocalKeys | None = None) -> bytes | None:
            count = self.stats.report(oid_ber)
            if not reportable:
                return None
            pdu = message.encode_pdu(
                ber.REPORT, request_id, 0, 0, [message.varbind(oid_ber, counter32(count))]
            )
            scoped = message.encode_scoped_pdu(ident.engine_id, b"", pdu)
            return self._wrap(msg, ident, engine_time, keys, scoped, encrypt=False)

        if msg.engine_id != ident.engine_id:
            # Discovery: the manager learns our engine ID, boots and time from this report.
            request_id = self._plain_request_id(data, msg)
            return report(UNKNOWN_ENGINE_IDS, request_id)
        key_source = ident.users.get(msg.user)
        if key_source is None:
            return report(UNKNOWN_USER_NAMES, self._plain_request_id(data, msg))
        if not msg.flags & FLAG_AUTH or not msg.flags & FLAG_PRIV:
            return report(UNSUPPORTED_SEC_LEVELS, self._plain_request_id(data, msg))
        try:
            keys = key_source()
        except ValueError:  # keys that cannot be made (refused at start-up; kept as a guard)
            self.stats.dropped += 1
            return None
        auth_len = usm.AUTH_LENGTH[keys.auth]
        if len(msg.auth_params) != auth_len:
            return report(WRONG_DIGESTS)
        off = msg.auth_params_offset
        blanked = data[:off] + b"\x00" * auth_len + data[off + auth_len :]
        if not hmac.compare_digest(usm.sign(keys, blanked), msg.auth_params):
            return report(WRONG_DIGESTS)
        if msg.boots != ident.engine_boots or abs(msg.time - engine_time) > TIME_WINDOW:
            # An authenticated report, so the manager may trust our clock and retry.
            return report(NOT_IN_TIME_WINDOWS, 0, keys)
        try:
            encrypted, _end = ber.read_octets(data, msg.data_pos)
            plain = usm.decrypt(keys, msg.boots, msg.time, msg.priv_params, encrypted)
            _ctx_engine, ctx_name, pdu = message.parse_scoped_pdu(plain, 0)
        except (BerError, ValueError, OverflowError):
            return report(DECRYPTION_ERRORS)
        # v3 framing: global data, security parameters (engine ID twice, user, 12-24 byte digest,
        # salt), the scoped PDU header and the AES length; 96 bytes covers them with room to spare.
        framing = 96 + 2 * len(ident.engine_id) + len(msg.user) + len(ctx_name)
        budget = min(msg.max_size, MAX_MESSAGE) - framing - PDU_OVERHEAD
        reply = self.process(pdu, dev, now, budget)
        if reply is None:
            return None
        scoped = message.encode_scoped_pdu(ident.engine_id, ctx_name, reply)
        return self._wrap(msg, ident, engine_time, keys, scoped, encrypt=True)

    @staticmethod
    def _plain_request_id(data: bytes, msg: message.V3Message) -> int:
        """The request-id of an unencrypted scoped PDU, or 0 when it cannot be read."""
        if msg.flags & FLAG_PRIV:
            return 0
        try:
            return message.parse_scoped_pdu(data, msg.data_pos)[2].request_id
        except BerError:
            return 0

    @staticmethod
    def _wrap(
        msg: message.V3Message,
        ident: Identity,
        engine_time: int,
        keys: usm.LocalKeys | None,
        scoped: bytes,
        *,
        encrypt: bool,
    ) -> bytes:
        flags = 0
        priv_params = b""
        msg_data = scoped
        if keys is not None:
            flags |= FLAG_AUTH
            if encrypt:
                flags |= FLAG_PRIV
                priv_params = (next(_salts) & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "big")
                cipher = usm.encrypt(keys, ident.engine_boots, engine_time, priv_params, scoped)
                msg_data = ber.tlv(ber.OCTET_STRING, cipher)
        auth_len = usm.AUTH_LENGTH[keys.auth] if keys is not None else 0
        out, offset = message.encode_v3(
            msg.msg_id, 65507, flags, ident.engine_id, ident.engine_boots, engine_time,
            msg.user, auth_len, priv_params, msg_data,
        )  # fmt: skip
        if keys is None:
            return out
        digest = usm.sign(keys, out)
        return out[:offset] + digest + out[offset + auth_len :]
