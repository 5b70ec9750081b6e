"""SNMP objects every model shares: the system group and IF-MIB (ifTable, ifXTable)."""

from __future__ import annotations

from collections.abc import Callable

from fleet.sim.device import DeviceState, Interface
from fleet.sim.snmp.mib import (
    MibObject,
    ValueFn,
    column,
    const,
    counter32,
    counter64,
    gauge,
    integer,
    octets,
    oid_value,
    scalar,
    timeticks,
)

SYSTEM = "1.3.6.1.2.1.1"
IF_TABLE = "1.3.6.1.2.1.2.2.1"
IF_X_TABLE = "1.3.6.1.2.1.31.1.1.1"


def system_group(
    descr: Callable[[DeviceState], str], object_id: Callable[[DeviceState], str], services: int
) -> list[MibObject]:
    return [
        scalar(f"{SYSTEM}.1", lambda d, _n: octets(descr(d))),
        scalar(f"{SYSTEM}.2", lambda d, _n: oid_value(object_id(d))),
        scalar(f"{SYSTEM}.3", lambda d, now: timeticks(d.uptime_ticks(now))),
        scalar(f"{SYSTEM}.4", lambda d, _n: octets(f"NOC {d.site.carrier.value} hotline")),
        scalar(f"{SYSTEM}.5", lambda d, _n: octets(d.name)),
        scalar(f"{SYSTEM}.6", lambda d, _n: octets(f"{d.site.name}, {d.province_name}")),
        scalar(f"{SYSTEM}.7", const(integer(services))),
    ]


def _per_if(pos: int, fn: Callable[[DeviceState, Interface, float], bytes]) -> ValueFn:
    return lambda d, now: fn(d, d.interfaces[pos], now)


def interfaces(template: list[Interface]) -> list[MibObject]:
    """IF-MIB rows for the interfaces the model has (the same indexes on every device of it)."""
    objects = [scalar("1.3.6.1.2.1.2.1", const(integer(len(template))))]
    for pos, iface in enumerate(template):
        idx = (iface.index,)
        row: list[tuple[str, ValueFn]] = [
            (f"{IF_TABLE}.1", const(integer(iface.index))),
            (f"{IF_TABLE}.2", const(octets(iface.name))),
            (f"{IF_TABLE}.3", const(integer(iface.if_type))),
            (f"{IF_TABLE}.4", const(integer(1514 if iface.if_type == 24 else 1500))),
            (f"{IF_TABLE}.5", const(gauge(min(iface.speed_mbps * 1_000_000, 0xFFFFFFFF)))),
            (f"{IF_TABLE}.6", _per_if(pos, lambda _d, i, _n: octets(i.mac))),
            (f"{IF_TABLE}.7", _per_if(pos, lambda d, i, _n: integer(1 if d.admin_up(i) else 2))),
            (f"{IF_TABLE}.8", _per_if(pos, lambda d, i, _n: integer(1 if d.oper_up(i) else 2))),
            (f"{IF_TABLE}.9", const(timeticks(300))),
            (f"{IF_TABLE}.10", _per_if(pos, lambda d, i, now: counter32(d.in_octets(i, now)))),
            (f"{IF_TABLE}.11", _per_if(pos, lambda d, i, now: counter32(d.in_packets(i, now)))),
            (f"{IF_TABLE}.13", const(counter32(0))),
            (f"{IF_TABLE}.14", _per_if(pos, lambda d, i, now: counter32(d.in_errors(i, now)))),
            (f"{IF_TABLE}.16", _per_if(pos, lambda d, i, now: counter32(d.out_octets(i, now)))),
            (f"{IF_TABLE}.17", _per_if(pos, lambda d, i, now: counter32(d.out_packets(i, now)))),
            (f"{IF_TABLE}.19", const(counter32(0))),
            (f"{IF_TABLE}.20", const(counter32(0))),
            (f"{IF_X_TABLE}.1", const(octets(iface.name))),
            (f"{IF_X_TABLE}.6", _per_if(pos, lambda d, i, now: counter64(d.in_octets(i, now)))),
            (f"{IF_X_TABLE}.7", _per_if(pos, lambda d, i, now: counter64(d.in_packets(i, now)))),
            (f"{IF_X_TABLE}.10", _per_if(pos, lambda d, i, now: counter64(d.out_octets(i, now)))),
            (f"{IF_X_TABLE}.11", _per_if(pos, lambda d, i, now: counter64(d.out_packets(i, now)))),
            (f"{IF_X_TABLE}.15", const(gauge(iface.speed_mbps))),
            (f"{IF_X_TABLE}.18", _per_if(pos, lambda _d, i, _n: octets(i.alias))),
        ]
        objects += [column(oid, idx, fn) for oid, fn in row]
    return objects


def dotted_mac(mac: bytes) -> str:
    h = mac.hex()
    return f"{h[0:4]}.{h[4:8]}.{h[8:12]}"


def uptime_text(seconds: float) -> str:
    """'13 weeks, 3 days, 8 hours, 25 minutes' as IOS prints it."""
    minutes = int(seconds // 60)
    weeks, minutes = divmod(minutes, 7 * 24 * 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = []
    for value, unit in ((weeks, "week"), (days, "day"), (hours, "hour")):
        if value:
            parts.append(f"{value} {unit}{'s' if value != 1 else ''}")
    parts.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
    return ", ".join(parts)
