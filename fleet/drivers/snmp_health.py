"""What each driver reads over SNMP for health, and how it reads the answer: pure functions to Facts.

A sweep sends each device one GET of its driver's objects. Values come in as plain Python (int,
bytes, dotted-OID str), keyed by OID; an object the agent lacks is simply absent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from fleet.drivers.facts import Facts
from fleet.drivers.parsers import ParseError
from fleet.drivers.parsers.sysdescr import firmware

Values = Mapping[str, int | str | bytes]

SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
SYS_NAME = "1.3.6.1.2.1.1.5.0"
WAN_INDEX = 1  # every supported router model has its WAN port at ifIndex 1
IF_DESCR = f"1.3.6.1.2.1.2.2.1.2.{WAN_INDEX}"
IF_OPER = f"1.3.6.1.2.1.2.2.1.8.{WAN_INDEX}"
IF_IN_ERRORS = f"1.3.6.1.2.1.2.2.1.14.{WAN_INDEX}"
IF_HC_IN_UCAST = f"1.3.6.1.2.1.31.1.1.1.7.{WAN_INDEX}"
SYSTEM = (SYS_DESCR, SYS_UPTIME, SYS_NAME)

# CISCO-PROCESS-MIB cpmCPUTotal5minRev, CISCO-RTTMON-MIB udp-jitter operation 10 (tag 'bridge')
IOS_CPU = "1.3.6.1.4.1.9.9.109.1.1.1.1.8.7"
IOS_SLA = 10
IOS_SENSE = f"1.3.6.1.4.1.9.9.42.1.2.10.1.2.{IOS_SLA}"
_JIT = "1.3.6.1.4.1.9.9.42.1.5.2.1"
IOS_NUM_RTT, IOS_RTT_SUM = f"{_JIT}.1.{IOS_SLA}", f"{_JIT}.2.{IOS_SLA}"
IOS_LOSS_SD, IOS_LOSS_DS, IOS_MIA = f"{_JIT}.26.{IOS_SLA}", f"{_JIT}.27.{IOS_SLA}", f"{_JIT}.29.{IOS_SLA}"
IOS_JITTER = f"{_JIT}.46.{IOS_SLA}"
IOS_LOSS = (IOS_LOSS_SD, IOS_LOSS_DS, IOS_MIA)

# HUAWEI-ENTITY-EXTENT-MIB hwEntityCpuUsage (main board), NQA-MIB jitter statistics of admin/bridge
VRP_CPU = "1.3.6.1.4.1.2011.5.25.31.1.1.1.1.5.16842753"
_NQA_INDEX = ".".join(str(n) for n in (5, *b"admin", 6, *b"bridge", 1))
_NQA = "1.3.6.1.4.1.2011.5.25.111.4.3.1"
VRP_COMPLETION, VRP_RTT_AVG = f"{_NQA}.2.{_NQA_INDEX}", f"{_NQA}.46.{_NQA_INDEX}"
VRP_LOSS_RATIO, VRP_JITTER = f"{_NQA}.47.{_NQA_INDEX}", f"{_NQA}.48.{_NQA_INDEX}"

# AXIS-VIDEO-MIB: power supply, fan, temperature sensor and video signal status
_AXIS = "1.3.6.1.4.1.368.4.1"
AXIS_POWER, AXIS_FAN = f"{_AXIS}.1.1.3.1", f"{_AXIS}.2.1.3.1"
AXIS_TEMP_STATUS, AXIS_TEMP = f"{_AXIS}.3.1.3.1.1", f"{_AXIS}.3.1.4.1.1"
AXIS_VIDEO = f"{_AXIS}.4.1.2.1"

IF_UP = 1
SENSE_OK = 1
AXIS_OK = 1


def _int(values: Values, oid: str) -> int | None:
    value = values.get(oid)
    return value if isinstance(value, int) else None


def _text(values: Values, oid: str) -> str | None:
    value = values.get(oid)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value if isinstance(value, str) else None


def _system(driver: str, values: Values) -> Facts:
    descr = _text(values, SYS_DESCR)
    ticks = _int(values, SYS_UPTIME)
    version = None
    if descr is not None:
        try:
            version = firmware(driver, descr)
        except ParseError:
            version = None  # an unreadable sysDescr leaves the version unknown, not the device down
    return Facts(
        sys_name=_text(values, SYS_NAME),
        sys_descr=descr,
        firmware=version,
        uptime_s=None if ticks is None else ticks / 100,
    )


def _wan(facts: Facts, values: Values) -> None:
    oper = _int(values, IF_OPER)
    facts.wan_name = _text(values, IF_DESCR)
    facts.wan_up = None if oper is None else oper == IF_UP
    facts.wan_in_errors = _int(values, IF_IN_ERRORS)
    facts.wan_in_packets = _int(values, IF_HC_IN_UCAST)


def read_cisco_ios(values: Values) -> Facts:
    facts = _system("cisco_ios", values)
    _wan(facts, values)
    facts.cpu_pct = _int(values, IOS_CPU)
    sense = _int(values, IOS_SENSE)
    if sense is not None:
        facts.sla_ok = sense == SENSE_OK
    num, total = _int(values, IOS_NUM_RTT), _int(values, IOS_RTT_SUM)
    lost = [_int(values, oid) for oid in IOS_LOSS]
    if num is not None and all(n is not None for n in lost):
        sent = num + sum(n for n in lost if n is not None)
        facts.loss_pct = round(100 * (sent - num) / sent, 2) if sent else None
    if facts.sla_ok and num and total is not None:
        facts.rtt_ms = round(total / num, 1)
        jitter = _int(values, IOS_JITTER)
        facts.jitter_ms = None if jitter is None else float(jitter)
    return facts


def read_huawei_vrp(values: Values) -> Facts:
    facts = _system("huawei_vrp", values)
    _wan(facts, values)
    facts.cpu_pct = _int(values, VRP_CPU)
    completion = _int(values, VRP_COMPLETION)
    if completion is not None:
        facts.sla_ok = completion == 1
    loss = _int(values, VRP_LOSS_RATIO)
    facts.loss_pct = None if loss is None else float(loss)
    if facts.sla_ok:
        rtt, jitter = _int(values, VRP_RTT_AVG), _int(values, VRP_JITTER)
        facts.rtt_ms = None if rtt is None else float(rtt)
        facts.jitter_ms = None if jitter is None else float(jitter)
    return facts


def read_cisco_ce(values: Values) -> Facts:
    return _system("cisco_ce", values)


def read_axis_ptz(values: Values) -> Facts:
    facts = _system("axis_ptz", values)
    video = _int(values, AXIS_VIDEO)
    facts.video_signal_ok = None if video is None else video == AXIS_OK
    for name, oid in (("power supply", AXIS_POWER), ("fan", AXIS_FAN), ("temperature", AXIS_TEMP_STATUS)):
        state = _int(values, oid)
        if state is not None and state != AXIS_OK:
            facts.hardware_alarms.append(name)
    return facts


@dataclass(frozen=True, slots=True)
class SnmpHealth:
    """The objects one driver GETs in a sweep, and the function that reads them."""

    oids: tuple[str, ...]
    read: Callable[[Values], Facts]


ROUTER_WAN = (IF_DESCR, IF_OPER, IF_IN_ERRORS, IF_HC_IN_UCAST)
SNMP_HEALTH: dict[str, SnmpHealth] = {
    "cisco_ios": SnmpHealth(
        (*SYSTEM, *ROUTER_WAN, IOS_CPU, IOS_SENSE, IOS_NUM_RTT, IOS_RTT_SUM, *IOS_LOSS, IOS_JITTER),
        read_cisco_ios,
    ),
    "huawei_vrp": SnmpHealth(
        (*SYSTEM, *ROUTER_WAN, VRP_CPU, VRP_COMPLETION, VRP_RTT_AVG, VRP_LOSS_RATIO, VRP_JITTER),
        read_huawei_vrp,
    ),
    "cisco_ce": SnmpHealth((*SYSTEM, f"1.3.6.1.2.1.2.2.1.8.{WAN_INDEX}"), read_cisco_ce),
    "axis_ptz": SnmpHealth(
        (*SYSTEM, AXIS_POWER, AXIS_FAN, AXIS_TEMP_STATUS, AXIS_TEMP, AXIS_VIDEO), read_axis_ptz
    ),
}
