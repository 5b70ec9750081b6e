"""Cisco IOS XE branch router (ISR 4000 / 1000): SNMP view and CLI as netmiko's cisco_ios sees it."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime

from fleet.sim.cli_base import Reply, caret_error, rejected_at, reset_now
from fleet.sim.device import BRIDGE_ADDRESS, DRIFTED_NTP, NTP_SERVERS, DeviceState, Interface
from fleet.sim.models.commands import Command, MatchError, match, output_filter
from fleet.sim.models.common import dotted_mac, interfaces, system_group, uptime_text
from fleet.sim.models.config import (
    ConfigTree,
    Ordering,
    Section,
    drift_line,
    expand_second_word,
    undo_drift,
)
from fleet.sim.snmp.mib import MibObject, MibView, column, const, gauge, integer, octets

OUTDATED = "16.9.4"
SYS_OBJECT_ID = {
    "ISR4321": "1.3.6.1.4.1.9.1.2067",
    "ISR4331": "1.3.6.1.4.1.9.1.1861",
    "ISR1111-8P": "1.3.6.1.4.1.9.1.2593",
}
SLA_OPERATION = 10

SINGLE_VALUED = (
    "hostname", "description", "ip address", "ip domain name", "snmp-server location", "snmp-server contact",
    "clock timezone", "bandwidth", "mtu", "frequency", "tag", "tos", "threshold", "timeout", "udp-jitter",
    "icmp-jitter", "icmp-echo", "exec-timeout", "transport input", "load-interval", "service-policy output",
)  # fmt: skip
# The order 'show running-config' prints in, whatever the order of edits (initial_config follows it).
TOP_ORDER = (
    "version", "service timestamps", "service password-encryption", "service", "platform", "hostname",
    "boot", "vrf", "logging buffered", "logging console", "enable", "aaa", "clock timezone",
    "clock summer-time", "clock", "ip domain", "ip name-server", "ip dhcp", "ip", "login", "ipv6", "license",
    "username", "redundancy", "track", "class-map", "policy-map", "crypto", "interface", "router",
    "ip forward-protocol", "ip http", "ip nat", "ip ssh", "ip route", "ip access-list", "ip sla", "logging",
    "access-list", "snmp-server community", "snmp-server location", "snmp-server contact", "snmp-server",
    "ntp", "control-plane", "banner", "line",
)  # fmt: skip
CHILD_ORDER: dict[str, tuple[str, ...] | None] = {
    "interface": ("description", "bandwidth", "vrf", "mtu", "ip address", "ip", "ipv6", "load-interval",
                  "shutdown", "duplex", "speed", "negotiation", "media-type", "service-policy input",
                  "service-policy"),
    "ip sla": ("udp-jitter", "icmp-jitter", "icmp-echo", "request-data-size", "tos", "verify-data", "vrf",
               "owner", "tag", "threshold", "timeout", "frequency", "history"),
    "line": ("session-timeout", "exec-timeout", "privilege", "password", "logging", "login", "transport"),
    "policy-map": None,  # classes apply in the order they were configured: kept as edited
    "class-map": None,
}  # fmt: skip


def _schedule_after_operation(line: str) -> str:
    """'ip sla schedule 10 …' sorts right after 'ip sla 10' and its children, as IOS prints it."""
    found = re.match(r"ip sla schedule ([0-9]+)(.*)", line)
    return f"ip sla {found[1]} schedule{found[2]}" if found else line


ORDERING = Ordering(
    top=TOP_ORDER,
    unknown_before="line",
    children=CHILD_ORDER,
    negation="no",
    implied={"interface": ("ip address", "no ip address")},  # an interface without an address says so
    tie=_schedule_after_operation,
)


def version_string(firmware: str) -> str:
    """'17.9.5' -> '17.09.05' as IOS XE prints it on its first line."""
    parts = firmware.split(".")
    return (
        ".".join([parts[0], *(p.zfill(2) for p in parts[1:])])
        if all(p.isdigit() for p in parts)
        else firmware
    )


def sys_descr(d: DeviceState) -> str:
    version = d.firmware(OUTDATED)
    return (
        f"Cisco IOS Software [Cupertino], ISR Software (X86_64_LINUX_IOSD-UNIVERSALK9-M), Version {version}, "
        "RELEASE SOFTWARE (fc1)\r\nTechnical Support: http://www.cisco.com/techsupport\r\n"
        "Copyright (c) 1986-2024 by Cisco Systems, Inc.\r\nCompiled Wed 27-Mar-24 22:31 by mcpre"
    )


# --- SNMP ------------------------------------------------------------------------------------

CPU_TOTAL = "1.3.6.1.4.1.9.9.109.1.1.1.1"
CPU_INDEX = (7,)
RTT_ADMIN = "1.3.6.1.4.1.9.9.42.1.2.1.1"
RTT_ECHO_ADMIN = "1.3.6.1.4.1.9.9.42.1.2.2.1"
RTT_LATEST = "1.3.6.1.4.1.9.9.42.1.2.10.1"
JITTER_LATEST = "1.3.6.1.4.1.9.9.42.1.5.2.1"
SENSE_OK, SENSE_TIMEOUT = 1, 4


def _sla_int(pick: Callable[[DeviceState], float]) -> Callable[[DeviceState, float], bytes]:
    return lambda d, _n: gauge(max(0, round(pick(d))))


def _loss_packets(d: DeviceState) -> float:
    _rtt, loss, _jitter, up = d.sla()
    return 100 * 0.5 if not up else loss / 100 * 100 / 2  # 100 probes per run, loss split by direction


def view(template: list[Interface]) -> MibView:
    op = (SLA_OPERATION,)
    probes = 100
    objects: list[MibObject] = [
        *system_group(sys_descr, lambda d: SYS_OBJECT_ID.get(d.record.model, "1.3.6.1.4.1.9.1.2068"), 78),
        *interfaces(template),
        column(f"{CPU_TOTAL}.2", CPU_INDEX, const(integer(2))),  # cpmCPUTotalPhysicalIndex
        column(f"{CPU_TOTAL}.6", CPU_INDEX, lambda d, now: gauge(d.cpu(now))),
        column(f"{CPU_TOTAL}.7", CPU_INDEX, lambda d, now: gauge(d.cpu(now))),
        column(f"{CPU_TOTAL}.8", CPU_INDEX, lambda d, now: gauge(d.cpu(now))),
        column(f"{RTT_ADMIN}.3", op, const(octets("bridge"))),  # rttMonCtrlAdminTag
        column(f"{RTT_ADMIN}.4", op, const(integer(9))),  # rttMonCtrlAdminRttType: jitter(9)
        column(f"{RTT_ECHO_ADMIN}.2", op, const(octets(bytes(int(p) for p in BRIDGE_ADDRESS.split("."))))),
        column(f"{RTT_LATEST}.1", op, _sla_int(lambda d: d.sla()[0] if d.sla()[3] else 0)),
        column(f"{RTT_LATEST}.2", op, lambda d, _n: integer(SENSE_OK if d.sla()[3] else SENSE_TIMEOUT)),
        column(
            f"{JITTER_LATEST}.1", op, _sla_int(lambda d: probes * (1 - d.sla()[1] / 100) if d.sla()[3] else 0)
        ),
        column(f"{JITTER_LATEST}.2", op, _sla_int(lambda d: d.sla()[0] * probes * (1 - d.sla()[1] / 100))),
        column(f"{JITTER_LATEST}.4", op, _sla_int(lambda d: d.sla()[0] * 0.9)),
        column(f"{JITTER_LATEST}.5", op, _sla_int(lambda d: d.sla()[0] * 1.6)),
        column(f"{JITTER_LATEST}.26", op, _sla_int(_loss_packets)),
        column(f"{JITTER_LATEST}.27", op, _sla_int(_loss_packets)),
        column(f"{JITTER_LATEST}.29", op, const(gauge(0))),
        column(f"{JITTER_LATEST}.46", op, _sla_int(lambda d: d.sla()[2])),
        column(f"{JITTER_LATEST}.47", op, _sla_int(lambda d: d.sla()[2])),
        column(f"{JITTER_LATEST}.48", op, _sla_int(lambda d: d.sla()[2])),
    ]
    return MibView(objects)


# --- configuration ---------------------------------------------------------------------------


def initial_config(d: DeviceState) -> ConfigTree:
    wan, lan = d.interfaces[0], d.interfaces[1]
    lines = [
        "version 17.9",
        "service timestamps debug datetime msec",
        "service timestamps log datetime msec",
        "service password-encryption",
        f"hostname {d.name}",
        "clock timezone ICT 7 0",
        "ip domain name hoinghi.gov.vn",
        f"interface {wan.name}",
        f" description {wan.alias}",
        f" ip address {wan.address} 255.255.255.252",
        " negotiation auto",
        " service-policy output QOS-VIDEO",
        f"interface {lan.name}",
        f" description {lan.alias}",
        f" ip address {lan.address} 255.255.255.0",
        " negotiation auto",
        f"interface {d.interfaces[2].name}",
        " no ip address",
        " shutdown",
        f"interface {d.interfaces[3].name}",
        f" description {d.interfaces[3].alias}",
        f" ip address {d.record.mgmt_address} 255.255.255.255",
        f"ip sla {SLA_OPERATION}",
        f" udp-jitter {BRIDGE_ADDRESS} 16384 codec g711alaw",
        " tag bridge",
        " frequency 60",
        f"ip sla schedule {SLA_OPERATION} life forever start-time now",
        f"snmp-server location {d.site.name}, {d.province_name}",
        f"snmp-server contact NOC {d.site.carrier.value}",
        *(f"ntp server {s}" for s in NTP_SERVERS),
        "line vty 0 4",
        " exec-timeout 10 0",
        " login local",
        " transport input ssh",
    ]
    return ConfigTree.parse("\n".join(lines), SINGLE_VALUED, "no", "!", ORDERING)


def tree_of(d: DeviceState) -> ConfigTree:
    if d.tree is None:
        d.tree = initial_config(d)
        d.saved = render_config(d.tree)
    return d.tree


def render_config(tree: ConfigTree) -> list[str]:
    return tree.render("!")


def hostname(d: DeviceState) -> str:
    return tree_of(d).value("hostname") or "Router"


def drift(d: DeviceState) -> None:
    drift_line(tree_of(d), d.drift_undo, f"ntp server {NTP_SERVERS[0]}", f"ntp server {DRIFTED_NTP}")


def undrift(d: DeviceState) -> None:
    undo_drift(tree_of(d), d.drift_undo)


# --- CLI -------------------------------------------------------------------------------------

SHORT = {"gi": "GigabitEthernet", "lo": "Loopback", "tu": "Tunnel", "te": "TenGigabitEthernet"}
GLOBAL_WORDS = (
    "aaa", "access-list", "archive", "banner", "boot", "cdp", "class-map", "clock", "control-plane", "crypto",
    "default", "do", "enable", "end", "exit", "hostname", "interface", "ip", "ipv6", "license", "line",
    "logging", "no", "ntp", "platform", "policy-map", "router", "service", "snmp-server", "spanning-tree",
    "track", "username", "vrf",
)  # fmt: skip
# Keywords that must follow a command's first word; a typo there is "% Invalid input" on IOS.
SECOND_WORDS = {
    "ntp": ("access-group", "authenticate", "authentication-key", "logging", "master", "peer", "server",
            "source", "trusted-key", "update-calendar"),
    "snmp-server": ("chassis-id", "community", "contact", "enable", "engineID", "group", "host", "ifindex",
                    "location", "trap-source", "user", "view"),
    "ip": ("access-list", "address", "dhcp", "domain", "http", "name-server", "nat", "route", "scp", "sla",
           "ssh", "tcp"),
    "logging": ("buffered", "console", "host", "source-interface", "trap"),
    "clock": ("summer-time", "timezone"),
    "service": ("password-encryption", "tcp-keepalives-in", "tcp-keepalives-out", "timestamps"),
}  # fmt: skip
_SLA_WORDS = (
    "do",
    "end",
    "exit",
    "frequency",
    "history",
    "icmp-echo",
    "icmp-jitter",
    "no",
    "owner",
    "request-data-size",
    "tag",
    "threshold",
    "timeout",
    "tos",
    "udp-jitter",
    "verify-data",
    "vrf",
)
# Words each sub-mode takes; None: a mode whose contents fleet does not check (routing, QoS maps).
SUB_MODES: dict[str, tuple[str, ...] | None] = {
    "config-if": (
        "bandwidth",
        "default",
        "description",
        "do",
        "duplex",
        "end",
        "exit",
        "ip",
        "ipv6",
        "load-interval",
        "media-type",
        "mtu",
        "negotiation",
        "no",
        "service-policy",
        "shutdown",
        "speed",
    ),
    "config-ip-sla": _SLA_WORDS,
    "config-ip-sla-jitter": _SLA_WORDS,
    "config-line": (
        "do",
        "end",
        "exec-timeout",
        "exit",
        "logging",
        "login",
        "no",
        "password",
        "privilege",
        "session-timeout",
        "transport",
    ),
    "config-router": None,
    "config-pmap": None,
    "config-pmap-c": None,
    "config-cmap": None,
    "config-cp": None,
}
# Second keywords inside sub-modes (the global table applies in global configuration).
SUB_SECOND_WORDS: dict[str, dict[str, tuple[str, ...]]] = {
    "config-if": {"ip": ("access-group", "address", "flow", "helper-address", "mtu", "nat", "ospf", "policy",
                         "proxy-arp", "redirects", "tcp", "unreachables", "virtual-reassembly")},
}  # fmt: skip
NEEDS_ARGUMENT = frozenset(
    {
        "hostname",
        "interface",
        "description",
        "ntp",
        "snmp-server",
        "logging",
        "ip",
        "username",
        "clock",
        "line",
        "router",
        "policy-map",
        "class-map",
        "no",
        "service",
    }
)
INTERFACE_TYPES = ("GigabitEthernet", "TenGigabitEthernet", "Loopback", "Tunnel", "Null", "Vlan", "Dialer")  # fmt: skip


def normalise_interface(words: list[str]) -> str:
    """'Gi0/0/1', 'gig 0/0/1', 'GigabitEthernet 0/0/1' -> 'GigabitEthernet0/0/1'."""
    name = "".join(words)
    kind = name.rstrip("0123456789/.:")
    digits_start = len(kind)
    while digits_start > 0 and not name[digits_start - 1].isalpha():
        digits_start -= 1
    kind, number = name[:digits_start], name[digits_start:]
    if kind.lower() in SHORT:
        return SHORT[kind.lower()] + number
    matches = [t for t in INTERFACE_TYPES if t.lower().startswith(kind.lower())] if kind else []
    return matches[0] + number if len(matches) == 1 else name


class IosCli:
    def __init__(self, state: DeviceState, clock: Callable[[], float] = time.monotonic) -> None:
        self.d = state
        self.clock = clock
        self.mode = "exec"  # exec, config, or a sub-mode name
        self.section: Section | None = None
        self.pushed = 0  # configuration lines applied in this session
        self.exec_table = [
            Command(("show", "version"), self.show_version),
            Command(("show", "ip", "interface", "brief"), self.show_ip_int_brief),
            Command(("show", "interfaces"), self.show_interfaces, takes_args=True),
            Command(("show", "running-config"), self.show_running),
            Command(("show", "startup-config"), self.show_startup),
            Command(("show", "ip", "sla", "statistics"), self.show_sla_statistics, takes_args=True),
            Command(("show", "ip", "sla", "summary"), self.show_sla_summary),
            Command(("show", "clock"), self.show_clock),
            Command(("show", "ntp", "status"), self.show_ntp_status),
            Command(("terminal", "length"), lambda _a: "", takes_args=True),
            Command(("terminal", "width"), lambda _a: "", takes_args=True),
            Command(("terminal", "no", "monitor"), lambda _a: ""),
            Command(("configure", "terminal"), self.configure),
            Command(("write", "memory"), self.write_memory),
            Command(("copy", "running-config", "startup-config"), self.write_memory),
            Command(("enable",), lambda _a: ""),
            Command(("exit",), lambda _a: None),
            Command(("logout",), lambda _a: None),
        ]

    def banner(self) -> str:
        return "\n"

    def prompt(self) -> str:
        host = hostname(self.d)
        return f"{host}#" if self.mode == "exec" else f"{host}({self.mode})#"

    def handle(self, line: str) -> Reply:
        if not line.strip() or (line == "\x1a" and self.mode == "exec"):
            return Reply()
        if self.mode == "exec":
            return self._exec(line)
        return self._config(line.strip())

    def _error(self, line: str, error: MatchError, position: int) -> Reply:
        if error is MatchError.AMBIGUOUS:
            return Reply(f'% Ambiguous command:  "{line.strip()}"')
        if error is MatchError.INCOMPLETE:
            return Reply("% Incomplete command.\n")
        return Reply(caret_error(self.prompt(), line, position, "% Invalid input detected at '^' marker.\n"))

    def _exec(self, line: str) -> Reply:
        command, keep = output_filter(line)
        found = match(command, self.exec_table)
        if found.command is None:
            return self._error(line, found.error or MatchError.INVALID, found.position)
        result = found.command.handler(found.args)
        if result is None:
            return Reply(close=True)
        return Reply(keep(str(result)))

    # --- configuration mode ------------------------------------------------------------------

    def configure(self, _args: list[str]) -> str:
        self.mode = "config"
        self.section = None
        return "Enter configuration commands, one per line.  End with CNTL/Z."

    def _keyword(self, first: str, allowed: tuple[str, ...]) -> str | MatchError | None:
        if first in allowed:
            return first
        candidates = [w for w in allowed if w.startswith(first)]
        if len(candidates) == 1:
            return candidates[0]
        return MatchError.AMBIGUOUS if candidates else None

    def _config(self, line: str) -> Reply:
        words = line.split()
        first = words[0].lower()
        mode, section = self.mode, self.section  # where a rejected line leaves the session
        if first in {"end", "\x1a"}:
            self.mode, self.section = "exec", None
            return Reply()
        if first == "exit":
            if self.mode == "config":
                self.mode = "exec"
            else:
                self.mode, self.section = "config", None
            return Reply()
        if first == "do":
            return self._exec(line[2:].strip())
        allowed = GLOBAL_WORDS if self.mode == "config" else SUB_MODES.get(self.mode)
        keyword = first if allowed is None else self._keyword(first, allowed)
        second = SECOND_WORDS if self.mode == "config" else SUB_SECOND_WORDS.get(self.mode, {})
        if (
            isinstance(keyword, str)
            and self.mode != "config"
            and expand_second_word(words, second, keyword) is None
        ):
            keyword = None  # not a command of this sub-mode: try it globally
        if keyword == "no" and allowed is not None and self.mode != "config" and len(words) > 1:
            negated = self._keyword(words[1].lower(), allowed)
            if (
                not isinstance(negated, str)
                or negated in {"no", "do", "end", "exit"}
                or expand_second_word(words[1:], second, negated) is None
            ) and isinstance(self._keyword(words[1].lower(), GLOBAL_WORDS), str):
                keyword = None  # negates a global command ('no ntp server …'): that is where it goes
        if keyword is None and self.mode != "config":
            # Like IOS: a line the sub-mode does not know is tried at the global level, leaving it.
            keyword = self._keyword(first, GLOBAL_WORDS)
            if isinstance(keyword, str):
                self.mode, self.section = "config", None
                second = SECOND_WORDS
        if keyword is MatchError.AMBIGUOUS:
            return Reply(f'% Ambiguous command:  "{line}"')
        if not isinstance(keyword, str):
            return self._error(line, MatchError.INVALID, 0)
        if len(words) == 1 and keyword in NEEDS_ARGUMENT:
            return self._error(line, MatchError.INCOMPLETE, len(line))
        expanded = expand_second_word(words, second, keyword)
        if expanded is None:
            return self._error(line, MatchError.INVALID, line.index(words[1], len(words[0])))
        if reset_now(self.d, self.pushed):
            return Reply(reset=True)
        rejected = rejected_at(self.d, line)
        if rejected is not None:  # the 'config rejected' fault: refused as invalid input, not applied
            self.mode, self.section = mode, section
            return self._error(line, MatchError.INVALID, rejected)
        self.pushed += 1
        rest = expanded[1:]
        tree = tree_of(self.d)
        if self.mode == "config" and keyword == "interface":
            self.section = tree.enter(f"interface {normalise_interface(rest)}")
            self.mode = "config-if"
            return Reply()
        if (
            self.mode == "config"
            and keyword == "ip"
            and len(rest) == 2
            and rest[0] == "sla"
            and rest[1].isdigit()
        ):
            self.section = tree.enter(f"ip sla {rest[1]}")
            self.mode = "config-ip-sla"
            return Reply()
        if self.mode == "config" and keyword in {
            "line",
            "router",
            "policy-map",
            "class-map",
            "control-plane",
        }:
            self.section = tree.enter(" ".join([keyword, *rest]))
            self.mode = {"line": "config-line", "router": "config-router", "policy-map": "config-pmap",
                         "class-map": "config-cmap"}.get(keyword, "config-cp")  # fmt: skip
            return Reply()
        if self.mode == "config-ip-sla" and keyword in {"udp-jitter", "icmp-jitter"}:
            self.mode = "config-ip-sla-jitter"
        tree.apply(" ".join([keyword, *rest]), self.section if self.mode != "config" else None)
        return Reply()

    def write_memory(self, _args: list[str]) -> str:
        self.d.saved = render_config(tree_of(self.d))
        return "Building configuration...\n[OK]"

    # --- show commands -----------------------------------------------------------------------

    def show_version(self, _args: list[str]) -> str:
        d = self.d
        fw = d.firmware(OUTDATED)
        up = uptime_text(self.clock() - d.boot)
        model = d.record.model
        return f"""Cisco IOS XE Software, Version {version_string(fw)}
Cisco IOS Software [Cupertino], ISR Software (X86_64_LINUX_IOSD-UNIVERSALK9-M), Version {fw}, RELEASE SOFTWARE (fc1)
Technical Support: http://www.cisco.com/techsupport
Copyright (c) 1986-2024 by Cisco Systems, Inc.
Compiled Wed 27-Mar-24 22:31 by mcpre


ROM: 16.12(2r)

{hostname(d)} uptime is {up}
Uptime for this control processor is {up}
System returned to ROM by Reload Command
System image file is "bootflash:isr4300-universalk9.{version_string(fw)}.SPA.bin"
Last reload reason: Reload Command



cisco {model}/K9 (1RU) processor with 1795979K/6147K bytes of memory.
Processor board ID {d.serial}
Router operating mode: Autonomous
3 Gigabit Ethernet interfaces
32768K bytes of non-volatile configuration memory.
4194304K bytes of physical memory.
3223551K bytes of flash memory at bootflash:.

Configuration register is 0x2102
"""

    def _status(self, iface: Interface) -> tuple[str, str]:
        if not self.d.admin_up(iface):
            return "administratively down", "down"
        return ("up", "up") if self.d.oper_up(iface) else ("down", "down")

    def show_ip_int_brief(self, _args: list[str]) -> str:
        rows = ["Interface              IP-Address      OK? Method Status                Protocol"]
        for iface in self.d.interfaces:
            status, proto = self._status(iface)
            address = iface.address or "unassigned"
            rows.append(f"{iface.name:<23}{address:<16}YES NVRAM  {status:<22}{proto:<8}")
        return "\n".join(rows)

    def show_interfaces(self, args: list[str]) -> str:
        wanted = normalise_interface(args) if args else None
        blocks = [self._interface_block(i) for i in self.d.interfaces if wanted in (None, i.name)]
        if not blocks:
            return self._error(f"show interfaces {' '.join(args)}", MatchError.INVALID, 16).output
        return "\n".join(blocks)

    def _interface_block(self, iface: Interface) -> str:
        d, now = self.d, self.clock()
        status, proto = self._status(iface)
        head = "administratively down" if status.startswith("admin") else status
        in_pkts, out_pkts = d.in_packets(iface, now), d.out_packets(iface, now)
        errors = d.in_errors(iface, now)
        up = d.oper_up(iface)
        in_bps = int(iface.in_rate * 8) if up else 0
        out_bps = int(iface.out_rate * 8) if up else 0
        loopback = iface.if_type == 24
        hardware = (
            "Loopback"
            if loopback
            else f"{d.record.model}-3x1GE, address is {dotted_mac(iface.mac)} (bia {dotted_mac(iface.mac)})"
        )
        lines = [
            f"{iface.name} is {head}, line protocol is {proto} ",
            f"  Hardware is {hardware}",
        ]
        if iface.alias:
            lines.append(f"  Description: {iface.alias}")
        if iface.address:
            lines.append(f"  Internet address is {iface.address}/{iface.prefix_len}")
        bw = 8000000 if loopback else iface.speed_mbps * 1000
        lines += [
            f"  MTU {1514 if loopback else 1500} bytes, BW {bw} Kbit/sec, DLY {5000 if loopback else 10} usec, ",
            "     reliability 255/255, txload 1/255, rxload 1/255",
            f"  Encapsulation {'LOOPBACK' if loopback else 'ARPA'}, loopback not set",
            "  Keepalive set (10 sec)" if loopback else "  Keepalive not supported ",
        ]
        if not loopback:
            lines += [
                "  Full Duplex, 1000Mbps, link type is auto, media type is RJ45",
                "  output flow-control is off, input flow-control is off",
                "  ARP type: ARPA, ARP Timeout 04:00:00",
            ]
        lines += [
            "  Last input 00:00:00, output 00:00:00, output hang never",
            '  Last clearing of "show interface" counters never',
            "  Input queue: 0/375/0/0 (size/max/drops/flushes); Total output drops: 0",
            "  Queueing strategy: fifo",
            "  Output queue: 0/40 (size/max)",
            f"  5 minute input rate {in_bps} bits/sec, {in_bps // 4800} packets/sec",
            f"  5 minute output rate {out_bps} bits/sec, {out_bps // 4800} packets/sec",
            f"     {in_pkts} packets input, {d.in_octets(iface, now)} bytes, 0 no buffer",
            "     Received 0 broadcasts (0 IP multicasts)",
            "     0 runts, 0 giants, 0 throttles ",
            f"     {errors} input errors, {errors} CRC, 0 frame, 0 overrun, 0 ignored",
            "     0 watchdog, 0 multicast, 0 pause input",
            f"     {out_pkts} packets output, {d.out_octets(iface, now)} bytes, 0 underruns",
            "     Output 0 broadcasts (0 IP multicasts)",
            "     0 output errors, 0 collisions, 0 interface resets",
            "     0 unknown protocol drops",
            "     0 babbles, 0 late collision, 0 deferred",
            "     0 lost carrier, 0 no carrier, 0 pause output",
            "     0 output buffer failures, 0 output buffers swapped out",
        ]
        return "\n".join(lines)

    def show_running(self, _args: list[str]) -> str:
        body = render_config(tree_of(self.d))
        text = "\n".join(["!", *body, "!", "end"])
        return f"Building configuration...\n\nCurrent configuration : {len(text) + 1} bytes\n{text}\n"

    def show_startup(self, _args: list[str]) -> str:
        tree_of(self.d)
        text = "\n".join(["!", *self.d.saved, "!", "end"])
        return f"Using {len(text)} out of 33554432 bytes\n{text}\n"

    def _timestamp(self) -> str:
        moment = datetime.now(UTC)
        return (
            moment.strftime("%H:%M:%S UTC %a %b %d %Y").replace(" 0", "  ", 1)
            if False
            else moment.strftime("%H:%M:%S UTC %a %b %d %Y")
        )

    def show_sla_statistics(self, _args: list[str]) -> str:
        rtt, loss, jitter, up = self.d.sla()
        if not up:
            return f"""IPSLAs Latest Operation Statistics

IPSLA operation id: {SLA_OPERATION}
Type of operation: udp-jitter
	Latest RTT: NoConnection/Busy/Timeout
Latest operation start time: {self._timestamp()}
Latest operation return code: Timeout
Number of successes: 0
Number of failures: 1
Operation time to live: Forever
"""
        lost = round(loss)  # of 100 probes
        got = 100 - lost
        r = round(rtt)
        j = round(jitter)
        return f"""IPSLAs Latest Operation Statistics

IPSLA operation id: {SLA_OPERATION}
Type of operation: udp-jitter
	Latest RTT: {r} milliseconds
Latest operation start time: {self._timestamp()}
Latest operation return code: OK
RTT Values:
	Number Of RTT: {got}		RTT Min/Avg/Max: {round(rtt * 0.9)}/{r}/{round(rtt * 1.6)} milliseconds
Latency one-way time:
	Number of Latency one-way Samples: {got}
	Source to Destination Latency one way Min/Avg/Max: {round(rtt * 0.45)}/{r // 2}/{round(rtt * 0.8)} milliseconds
	Destination to Source Latency one way Min/Avg/Max: {round(rtt * 0.45)}/{r - r // 2}/{round(rtt * 0.8)} milliseconds
Jitter Time:
	Number of SD Jitter Samples: {max(0, got - 2)}
	Number of DS Jitter Samples: {max(0, got - 2)}
	Source to Destination Jitter Min/Avg/Max: 0/{j}/{j * 4 + 2} milliseconds
	Destination to Source Jitter Min/Avg/Max: 0/{j}/{j * 3 + 2} milliseconds
Over Threshold:
	Number Of RTT Over Threshold: 0 (0%)
Packet Loss Values:
	Loss Source to Destination: {lost // 2}
	Source to Destination Loss Periods Number: {1 if lost else 0}
	Source to Destination Loss Period Length Min/Max: {1 if lost else 0}/{lost // 2}
	Source to Destination Inter Loss Period Length Min/Max: 0/0
	Loss Destination to Source: {lost - lost // 2}
	Destination to Source Loss Periods Number: {1 if lost else 0}
	Destination to Source Loss Period Length Min/Max: {1 if lost else 0}/{lost - lost // 2}
	Destination to Source Inter Loss Period Length Min/Max: 0/0
	Out Of Sequence: 0	Tail Drop: 0
	Packet Late Arrival: 0	Packet Skipped: 0
Voice Score Values:
	Calculated Planning Impairment Factor (ICPIF): {min(40, 1 + lost * 3)}
	Mean Opinion Score (MOS): {max(1.0, 4.34 - lost * 0.2):.2f}
Number of successes: 1000
Number of failures: 0
Operation time to live: Forever
"""

    def show_sla_summary(self, _args: list[str]) -> str:
        rtt, _loss, _jitter, up = self.d.sla()
        stats = f"RTT={round(rtt)}" if up else "-"
        code = "OK" if up else "Timeout"
        return f"""IPSLAs Latest Operation Summary
Codes: * active, ^ inactive, ~ pending
All Stats are in milliseconds. Stats with u are in microseconds

ID           Type        Destination       Stats       Return      Last
                                                       Code        Run 
-----------------------------------------------------------------------
*{SLA_OPERATION:<12}udp-jitter  {BRIDGE_ADDRESS:<18}{stats:<12}{code:<12}12 seconds ago
"""

    def show_clock(self, _args: list[str]) -> str:
        moment = datetime.now(UTC)
        return (
            moment.strftime("%H:%M:%S.")
            + f"{moment.microsecond // 1000:03d}"
            + moment.strftime(" UTC %a %b %d %Y")
        )

    def show_ntp_status(self, _args: list[str]) -> str:
        return f"""Clock is synchronized, stratum 3, reference is {NTP_SERVERS[0]}
nominal freq is 250.0000 Hz, actual freq is 249.9981 Hz, precision is 2**10
clock offset is 0.4215 msec, root delay is 14.38 msec
root dispersion is 23.71 msec, peer dispersion is 1.12 msec
system poll interval is 1024, last update was 236 sec ago.
"""
