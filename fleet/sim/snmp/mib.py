"""A MIB view shared by every device of a model: sorted object instances with value functions.

The OIDs, their encodings and the order are built once per model; values are computed per
request from the device's state, so 10,000 devices cost one template each plus their state.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from fleet.snmp import ber

# A value function takes the device's state and the current time and returns BER bytes.
ValueFn = Callable[[Any, float], bytes]


@dataclass(frozen=True, slots=True)
class MibObject:
    oid: tuple[int, ...]
    type_oid: tuple[int, ...]  # the object type: OID without its instance part
    oid_ber: bytes
    value: ValueFn


def scalar(type_oid: str, value: ValueFn) -> MibObject:
    base = ber.parse_oid(type_oid)
    oid = (*base, 0)
    return MibObject(oid, base, ber.encode_oid(oid), value)


def column(type_oid: str, index: tuple[int, ...], value: ValueFn) -> MibObject:
    base = ber.parse_oid(type_oid)
    oid = base + index
    return MibObject(oid, base, ber.encode_oid(oid), value)


class MibView:
    def __init__(self, objects: Iterable[MibObject]) -> None:
        ordered = sorted(objects, key=lambda o: o.oid)
        for a, b in itertools.pairwise(ordered):
            if a.oid == b.oid:
                raise ValueError(f"OID {'.'.join(map(str, a.oid))} is defined twice")
        self.objects = ordered
        self.oids = [o.oid for o in ordered]
        self.by_oid = {o.oid: o for o in ordered}
        self.type_oids = frozenset(o.type_oid for o in ordered)

    def get(self, oid: tuple[int, ...]) -> MibObject | None:
        return self.by_oid.get(oid)

    def knows_type(self, oid: tuple[int, ...]) -> bool:
        """Whether some prefix of ``oid`` is an object type here (noSuchInstance, not noSuchObject)."""
        return any(oid[:n] in self.type_oids for n in range(len(oid) - 1, 1, -1))

    def next_after(self, oid: tuple[int, ...]) -> MibObject | None:
        i = bisect.bisect_right(self.oids, oid)
        return self.objects[i] if i < len(self.objects) else None


# --- value encoders --------------------------------------------------------------------------


def const(value: bytes) -> ValueFn:
    return lambda _dev, _now: value


def octets(text: str | bytes) -> bytes:
    return ber.tlv(ber.OCTET_STRING, text.encode() if isinstance(text, str) else text)


def integer(value: int) -> bytes:
    return ber.encode_int(ber.INTEGER, value)


def gauge(value: int) -> bytes:
    return ber.encode_int(ber.GAUGE32, value & 0xFFFFFFFF)


def counter32(value: int) -> bytes:
    return ber.encode_int(ber.COUNTER32, value & 0xFFFFFFFF)


def counter64(value: int) -> bytes:
    return ber.encode_int(ber.COUNTER64, value & 0xFFFFFFFFFFFFFFFF)


def timeticks(value: int) -> bytes:
    return ber.encode_int(ber.TIMETICKS, value & 0xFFFFFFFF)


def ip_address(text: str) -> bytes:
    return ber.tlv(ber.IP_ADDRESS, bytes(int(p) for p in text.split(".")))


def oid_value(text: str) -> bytes:
    return ber.encode_oid(ber.parse_oid(text))
