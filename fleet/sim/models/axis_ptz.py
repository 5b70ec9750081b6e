"""Axis PTZ network camera: SNMP only (MIB-II, IF-MIB and AXIS-VIDEO-MIB status)."""

from __future__ import annotations

from fleet.sim.device import DeviceState, Interface
from fleet.sim.faults import FaultKind
from fleet.sim.models.common import interfaces, system_group
from fleet.sim.snmp.mib import MibObject, MibView, ValueFn, column, const, integer, octets

OUTDATED = "9.80.3.8"
AXIS_VIDEO = "1.3.6.1.4.1.368.4.1"


def sys_descr(d: DeviceState) -> str:
    return f"; AXIS {d.record.model}; PTZ Network Camera; {d.firmware(OUTDATED)}; Mar 12 2024 09:50; 1F4; 1;"


def _state(fault: FaultKind, bad: int) -> ValueFn:
    """ok(1), or ``bad`` while the fault is on."""
    return lambda d, _now: integer(bad if d.has(fault) else 1)


def view(template: list[Interface]) -> MibView:
    objects: list[MibObject] = [
        *system_group(sys_descr, lambda _d: "1.3.6.1.4.1.368.1.1", 72),
        *interfaces(template),
        column(f"{AXIS_VIDEO}.1.1.2", (1,), const(octets("Main power"))),
        column(f"{AXIS_VIDEO}.1.1.3", (1,), const(integer(1))),  # powerSupplyState ok(1)
        column(f"{AXIS_VIDEO}.2.1.3", (1,), _state(FaultKind.FAN_FAILURE, 2)),  # fanState ok(1) failure(2)
        column(f"{AXIS_VIDEO}.3.1.3", (1, 1), const(integer(1))),  # temperatureSensorStatus ok(1)
        column(f"{AXIS_VIDEO}.3.1.4", (1, 1), const(integer(38))),  # temperatureSensorValue, Celsius
        column(f"{AXIS_VIDEO}.4.1.2", (1,), _state(FaultKind.VIDEO_LOST, 2)),  # signalOk(1) noSignal(2)
    ]
    return MibView(objects)
