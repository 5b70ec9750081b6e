"""Huawei VRP AR-series router: SNMP view and CLI as netmiko's huawei driver sees it."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from fleet.sim.cli_base import Reply, caret_error, rejected_at, reset_now
from fleet.sim.device import BRIDGE_ADDRESS, DRIFTED_NTP, NTP_SERVERS, DeviceState, Interface
from fleet.sim.models.commands import Command, MatchError, match, output_filter
from fleet.sim.models.common import interfaces, system_group, uptime_text
from fleet.sim.models.config import (
    ConfigTree,
    Ordering,
    Section,
    drift_line,
    expand_second_word,
    undo_drift,
)
from fleet.sim.snmp.mib import MibObject, MibView, column, const, gauge, integer, octets

OUTDATED = "V300R003C00SPC200"
MAIN_BOARD = (16842753,)
NQA_OWNER, NQA_TEST = "admin", "bridge"
SINGLE_VALUED = (
    "sysname", "description", "ip address", "clock timezone", "snmp-agent sys-info location",
    "snmp-agent sys-info contact", "test-type", "destination-address", "destination-port", "frequency",
    "authentication-mode", "protocol inbound", "traffic-policy",
)  # fmt: skip
VIEW_WORDS = ("interface", "nqa", "user-interface", "acl", "aaa", "traffic")
# The order 'display current-configuration' prints in, whatever the order of edits.
TOP_ORDER = (
    "sysname", "vlan", "clock timezone", "clock daylight-saving-time", "clock", "info-center", "acl", "aaa",
    "traffic classifier", "traffic behavior", "traffic policy", "traffic", "interface", "ip route-static", "ip",
    "nqa", "ntp-service", "snmp-agent sys-info location", "snmp-agent sys-info contact", "snmp-agent",
    "stelnet", "ssh", "user-interface",
)  # fmt: skip
CHILD_ORDER: dict[str, tuple[str, ...] | None] = {
    "interface": ("shutdown", "description", "port", "mtu", "ip address", "ip", "speed", "duplex",
                  "negotiation", "qos", "traffic-policy"),
    "nqa": ("test-type", "destination-address", "destination-port", "source-address", "codec-type",
            "jitter-packetnum", "probe-count", "interval", "frequency", "start", "stop"),
    "user-interface": ("authentication-mode", "user", "idle-timeout", "history-command", "screen-length",
                       "protocol"),
}  # fmt: skip
ORDERING = Ordering(top=TOP_ORDER, unknown_before="user-interface", children=CHILD_ORDER, negation="undo")


def sys_descr(d: DeviceState) -> str:
    model = d.record.model
    return (
        "Huawei Versatile Routing Platform Software\r\n"
        f"VRP (R) software, Version 5.170 ({model} {d.firmware(OUTDATED)})\r\n"
        f"Copyright (C) 2011-2022 HUAWEI TECH CO., LTD\r\nHuawei {model} Router"
    )


# --- SNMP ------------------------------------------------------------------------------------

ENTITY = "1.3.6.1.4.1.2011.5.25.31.1.1.1.1"
BOM = "1.3.6.1.4.1.2011.5.25.31.1.1.2.1"
ENT_PHYSICAL_NAME = "1.3.6.1.2.1.47.1.1.1.1.7"
NQA_JITTER = "1.3.6.1.4.1.2011.5.25.111.4.3.1"
NQA_ADMIN_TYPE = "1.3.6.1.4.1.2011.5.25.111.2.1.1.4"


def _name_index(*names: str) -> tuple[int, ...]:
    out: list[int] = []
    for name in names:
        out += [len(name), *name.encode()]
    return tuple(out)


def _sla(pick: Callable[[DeviceState], float]) -> Callable[[DeviceState, float], bytes]:
    return lambda d, _n: gauge(max(0, round(pick(d))))


def view(template: list[Interface]) -> MibView:
    test = _name_index(NQA_OWNER, NQA_TEST)
    stats = (*test, 1)
    probes = 100
    objects: list[MibObject] = [
        *system_group(sys_descr, lambda _d: "1.3.6.1.4.1.2011.2.224.279", 78),
        *interfaces(template),
        column(ENT_PHYSICAL_NAME, MAIN_BOARD, const(octets("SRU Board 0"))),
        column(f"{ENTITY}.5", MAIN_BOARD, lambda d, now: integer(d.cpu(now))),
        column(f"{ENTITY}.7", MAIN_BOARD, lambda d, now: integer(30 + d.cpu(now) // 3)),
        column(f"{ENTITY}.9", MAIN_BOARD, const(integer(2147483647))),
        column(f"{ENTITY}.11", MAIN_BOARD, const(integer(41))),
        column(f"{BOM}.2", MAIN_BOARD, lambda d, _n: octets(f"{d.record.model} main control unit")),
        column(NQA_ADMIN_TYPE, test, const(integer(5))),  # jitterAppl(5)
        column(f"{NQA_JITTER}.2", stats, lambda d, _n: integer(1 if d.sla()[3] else 2)),
        column(f"{NQA_JITTER}.8", stats, _sla(lambda d: d.sla()[0] * 0.9 if d.sla()[3] else 0)),
        column(f"{NQA_JITTER}.9", stats, _sla(lambda d: d.sla()[0] * 1.6 if d.sla()[3] else 0)),
        column(f"{NQA_JITTER}.34", stats, _sla(lambda d: d.sla()[1] / 2 if d.sla()[3] else probes / 2)),
        column(f"{NQA_JITTER}.35", stats, _sla(lambda d: d.sla()[1] / 2 if d.sla()[3] else probes / 2)),
        column(f"{NQA_JITTER}.41", stats, const(gauge(probes))),
        column(f"{NQA_JITTER}.46", stats, _sla(lambda d: d.sla()[0] if d.sla()[3] else 0)),
        column(f"{NQA_JITTER}.47", stats, _sla(lambda d: d.sla()[1] if d.sla()[3] else 100)),
        column(f"{NQA_JITTER}.48", stats, _sla(lambda d: d.sla()[2])),
        column(f"{NQA_JITTER}.67", stats, const(integer(2))),  # milliseconds
    ]
    return MibView(objects)


# --- configuration ---------------------------------------------------------------------------


def initial_config(d: DeviceState) -> ConfigTree:
    wan, lan, unused, loop = d.interfaces
    lines = [
        f"sysname {d.name}",
        "clock timezone ICT add 07:00:00",
        f"interface {wan.name}",
        f" description {wan.alias}",
        f" ip address {wan.address} 255.255.255.252",
        " traffic-policy WAN-OUT outbound",
        f"interface {lan.name}",
        f" description {lan.alias}",
        f" ip address {lan.address} 255.255.255.0",
        f"interface {unused.name}",
        " shutdown",
        f"interface {loop.name}",
        f" description {loop.alias}",
        f" ip address {d.record.mgmt_address} 255.255.255.255",
        f"nqa test-instance {NQA_OWNER} {NQA_TEST}",
        " test-type jitter",
        f" destination-address ipv4 {BRIDGE_ADDRESS}",
        " destination-port 16384",
        " frequency 60",
        " start now",
        *(f"ntp-service unicast-server {s}" for s in NTP_SERVERS),
        f"snmp-agent sys-info location {d.site.name}, {d.province_name}",
        f"snmp-agent sys-info contact NOC {d.site.carrier.value}",
        "user-interface vty 0 4",
        " authentication-mode aaa",
        " protocol inbound ssh",
    ]
    return ConfigTree.parse("\n".join(lines), SINGLE_VALUED, "undo", "#", ORDERING)


def tree_of(d: DeviceState) -> ConfigTree:
    if d.tree is None:
        d.tree = initial_config(d)
        d.saved = render_config(d.tree, d)
    return d.tree


def render_config(tree: ConfigTree, d: DeviceState) -> list[str]:
    """VRP prints global commands indented by one space and views at the margin, '#' between."""
    out = [f"[{d.firmware(OUTDATED)}]", "#"]
    for section in tree.ordered():
        if section.children or section.header.startswith(VIEW_WORDS):
            out.append(section.header)
            out.extend(" " + c for c in section.children)
        else:
            out.append(" " + section.header)
        out.append("#")
    out.append("return")
    return out


def hostname(d: DeviceState) -> str:
    return tree_of(d).value("sysname") or "Huawei"


def drift(d: DeviceState) -> None:
    server = "ntp-service unicast-server"
    drift_line(tree_of(d), d.drift_undo, f"{server} {NTP_SERVERS[0]}", f"{server} {DRIFTED_NTP}")


def undrift(d: DeviceState) -> None:
    undo_drift(tree_of(d), d.drift_undo)


# --- CLI -------------------------------------------------------------------------------------

SYSTEM_WORDS = (
    "aaa", "acl", "clock", "display", "info-center", "interface", "ip", "nqa", "ntp-service", "quit",
    "return", "snmp-agent", "ssh", "stelnet", "sysname", "traffic", "undo", "user-interface", "vlan",
)  # fmt: skip
SECOND_WORDS = {
    "ntp-service": ("authentication", "enable", "refclock-master", "source-interface", "unicast-peer",
                    "unicast-server"),
    "snmp-agent": ("community", "group", "mib-view", "sys-info", "target-host", "trap", "usm-user", "version"),
    "ip": ("address", "dhcp", "domain-name", "route-static", "vpn-instance"),
    "info-center": ("enable", "loghost", "source", "timestamp"),
    "clock": ("daylight-saving-time", "timezone"),
}  # fmt: skip
# Words each sub-view takes (besides undo, quit, return and display).
VIEW_WORDS_BY_KIND = {
    "interface": ("description", "duplex", "ip", "mtu", "negotiation", "port", "qos", "shutdown", "speed",
                  "traffic-policy"),
    "nqa": ("codec-type", "destination-address", "destination-port", "frequency", "interval",
            "jitter-packetnum", "probe-count", "source-address", "start", "stop", "test-type"),
    "user-interface": ("authentication-mode", "history-command", "idle-timeout", "protocol", "screen-length",
                       "user"),
}  # fmt: skip
NAVIGATION = ("display", "quit", "return", "undo")


class VrpCli:
    def __init__(self, state: DeviceState, clock: Callable[[], float] = time.monotonic) -> None:
        self.d = state
        self.clock = clock
        self.view = "user"  # user, system, or a sub-view suffix for the prompt
        self.view_kind = "user"  # user, system, interface, nqa or user-interface
        self.section: Section | None = None
        self.confirming = False
        self.pushed = 0
        self.table = [
            Command(("display", "version"), self.display_version),
            Command(("display", "interface", "brief"), self.display_interface_brief),
            Command(("display", "interface"), self.display_interface, takes_args=True),
            Command(("display", "current-configuration"), self.display_current),
            Command(("display", "saved-configuration"), self.display_saved),
            Command(("display", "nqa", "results"), self.display_nqa, takes_args=True),
            Command(("display", "cpu-usage"), self.display_cpu),
            Command(("display", "clock"), self.display_clock),
            Command(("display", "ntp-service", "status"), self.display_ntp),
            Command(("screen-length",), self.screen_length, takes_args=True),
            Command(("screen-width",), lambda _a: "", takes_args=True),
            Command(("system-view",), self.system_view),
            Command(("save",), self.save),
            Command(("quit",), lambda _a: None),
            Command(("return",), lambda _a: ""),
        ]

    def banner(self) -> str:
        return (
            "\nInfo: The max number of VTY users is 10, and the number\n"
            "      of current VTY users on line is 1.\n"
            "      The current login time is " + datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S") + ".\n"
        )

    def prompt(self) -> str:
        host = hostname(self.d)
        if self.view == "user":
            return f"<{host}>"
        if self.view == "system":
            return f"[{host}]"
        return f"[{host}-{self.view}]"

    def handle(self, line: str) -> Reply:
        if self.confirming:
            self.confirming = False
            if line.strip().lower() in {"y", "yes"}:
                self.d.saved = render_config(tree_of(self.d), self.d)
                return Reply(
                    "Now saving the current configuration to the slot 0.\nInfo: Save the configuration successfully."
                )
            return Reply()
        if not line.strip() or (line == "\x1a" and self.view_kind == "user"):
            return Reply()
        if self.view_kind == "user":
            return self._user(line)
        return self._system(line)

    def _error(self, line: str, error: MatchError, position: int) -> Reply:
        text = {
            MatchError.INVALID: "Error: Unrecognized command found at '^' position.",
            MatchError.INCOMPLETE: "Error:Incomplete command found at '^' position.",
            MatchError.AMBIGUOUS: "Error: Ambiguous command found at '^' position.",
        }[error]
        return Reply(caret_error(self.prompt(), line, position, text))

    def _user(self, line: str) -> Reply:
        command, keep = output_filter(line)
        found = match(command, self.table)
        if found.command is None:
            return self._error(line, found.error or MatchError.INVALID, found.position)
        result = found.command.handler(found.args)
        if result is None:
            return Reply(close=True)
        if isinstance(result, Reply):
            return result
        return Reply(keep(str(result)))

    def _system(self, line: str) -> Reply:
        words = line.split()
        first = words[0].lower()
        if first == "\x1a":  # Ctrl-Z
            first = "return"
        kind = self.view_kind
        view, section = self.view, self.section  # where a rejected line leaves the session
        allowed = SYSTEM_WORDS if kind == "system" else VIEW_WORDS_BY_KIND[kind] + NAVIGATION
        keyword = _unique(first, allowed)
        if (
            keyword == "undo"
            and kind != "system"
            and len(words) > 1
            and _unique(words[1].lower(), VIEW_WORDS_BY_KIND[kind]) is None
            and _unique(words[1].lower(), SYSTEM_WORDS) is not None
        ):
            keyword = None  # undoes a system-view command ('undo ntp-service …'): that is where it goes
        if keyword is None and kind != "system":
            # VRP runs a system-view command typed in a sub-view there, leaving the sub-view.
            keyword = _unique(first, SYSTEM_WORDS)
            if keyword is not None and (keyword not in NAVIGATION or keyword == "undo"):
                self.view, self.view_kind, self.section = "system", "system", None
        if keyword is None:
            ambiguous = [w for w in allowed if w.startswith(first)]
            return self._error(line, MatchError.AMBIGUOUS if ambiguous else MatchError.INVALID, 0)
        if keyword == "return":
            self.view, self.view_kind, self.section = "user", "user", None
            return Reply()
        if keyword == "quit":
            if self.view_kind == "system":
                self.view, self.view_kind = "user", "user"
            else:
                self.view, self.view_kind, self.section = "system", "system", None
            return Reply()
        if keyword == "display":
            return self._user(" ".join(["display", *words[1:]]))
        if len(words) == 1 and keyword in {"interface", "nqa", "user-interface", "sysname", "undo"}:
            return self._error(line, MatchError.INCOMPLETE, len(line) + 1)
        expanded = expand_second_word(words, SECOND_WORDS, keyword)
        if expanded is None:
            return self._error(line, MatchError.INVALID, line.index(words[1], len(words[0])))
        if reset_now(self.d, self.pushed):
            return Reply(reset=True)
        rejected = rejected_at(self.d, line)
        if rejected is not None:  # the 'config rejected' fault: refused as unrecognized, not applied
            self.view, self.view_kind, self.section = view, kind, section
            return self._error(line, MatchError.INVALID, rejected)
        self.pushed += 1
        rest = expanded[1:]
        tree = tree_of(self.d)
        if self.view_kind == "system" and keyword == "interface":
            name = "".join(rest)
            self.section = tree.enter(f"interface {name}")
            self.view, self.view_kind = name, "interface"
            return Reply()
        if self.view_kind == "system" and keyword == "nqa":
            if len(rest) != 3 or rest[0] != "test-instance":
                return self._error(line, MatchError.INCOMPLETE, len(line) + 1)
            self.section = tree.enter(f"nqa test-instance {rest[1]} {rest[2]}")
            self.view, self.view_kind = f"nqa-{rest[1]}-{rest[2]}", "nqa"
            return Reply()
        if self.view_kind == "system" and keyword == "user-interface":
            self.section = tree.enter("user-interface " + " ".join(rest))
            self.view = "ui-" + "".join(rest[:2]) + ("-" + rest[2] if len(rest) > 2 else "")
            self.view_kind = "user-interface"
            return Reply()
        tree.apply(" ".join([keyword, *rest]), self.section if self.view_kind != "system" else None)
        return Reply()

    # --- commands ----------------------------------------------------------------------------

    def screen_length(self, _args: list[str]) -> str:
        return "Info: The configuration takes effect on the current user terminal interface only."

    def system_view(self, _args: list[str]) -> str:
        self.view = self.view_kind = "system"
        return "Enter system view, return user view with Ctrl+Z."

    def save(self, _args: list[str]) -> Reply:
        self.confirming = True
        return Reply(
            "Warning: The current configuration will be written to the device. Continue? [Y/N]:", prompt=False
        )

    def display_version(self, _args: list[str]) -> str:
        d = self.d
        up = uptime_text(self.clock() - d.boot)
        model = d.record.model
        return f"""Huawei Versatile Routing Platform Software
VRP (R) software, Version 5.170 ({model} {d.firmware(OUTDATED)})
Copyright (C) 2011-2022 HUAWEI TECH CO., LTD
Huawei {model} Router uptime is {up}

MPU 0(Master) : uptime is {up}
SDRAM Memory Size    : 2048    M bytes
Flash 0 Memory Size  : 2048    M bytes
MPU version information : 
1. PCB      Version  : AR-SRU{model[2:]} VER.A
2. MAB      Version  : 0
3. Board    Type     : {model}
4. CPLD0    Version  : 102
5. BootROM  Version  : 1
"""

    def _phy(self, iface: Interface) -> tuple[str, str]:
        if not self.d.admin_up(iface):
            return "*down", "down"
        if iface.if_type == 24:
            return "up", "up(s)"
        return ("up", "up") if self.d.oper_up(iface) else ("down", "down")

    def display_interface_brief(self, _args: list[str]) -> str:
        now = self.clock()
        rows = [
            "PHY: Physical",
            "*down: administratively down",
            "(l): loopback",
            "(s): spoofing",
            "(b): BFD down",
            "^down: standby",
            "(e): ETHOAM down",
            "(v): VirtualPort",
            "InUti/OutUti: input utility/output utility",
            "Interface                   PHY   Protocol  InUti OutUti   inErrors  outErrors",
        ]
        for iface in self.d.interfaces:
            phy, proto = self._phy(iface)
            up = self.d.oper_up(iface)
            in_uti = (
                f"{iface.in_rate * 8 / (iface.speed_mbps * 10_000):.2f}%" if up and iface.speed_mbps else "0%"
            )
            out_uti = (
                f"{iface.out_rate * 8 / (iface.speed_mbps * 10_000):.2f}%"
                if up and iface.speed_mbps
                else "0%"
            )
            errors = self.d.in_errors(iface, now)
            rows.append(f"{iface.name:<28}{phy:<6}{proto:<9}{in_uti:>6}{out_uti:>7}{errors:>11}{0:>11}")
        return "\n".join(rows)

    def display_interface(self, args: list[str]) -> str | Reply:
        wanted = "".join(args) if args else None
        now = self.clock()
        blocks = []
        for iface in self.d.interfaces:
            if wanted not in (None, iface.name):
                continue
            phy, proto = self._phy(iface)
            state = "Administratively DOWN" if phy == "*down" else ("UP" if phy == "up" else "DOWN")
            errors = self.d.in_errors(iface, now)
            mac = iface.mac.hex() if iface.mac else "0000000000"
            blocks.append(
                f"""{iface.name} current state : {state}
Line protocol current state : {"UP" if proto.startswith("up") else "DOWN"}
Description:{iface.alias}
Route Port,The Maximum Transmit Unit is 1500
Internet Address is {iface.address or "unassigned"}/{iface.prefix_len}
IP Sending Frames' Format is PKTFMT_ETHNT_2, Hardware address is {mac[0:4]}-{mac[4:8]}-{mac[8:12]}
Speed : {iface.speed_mbps},  Loopback: NONE
Duplex: FULL,  Negotiation: ENABLE
Last 300 seconds input rate {int(iface.in_rate * 8)} bits/sec, {int(iface.in_rate / 600)} packets/sec
Last 300 seconds output rate {int(iface.out_rate * 8)} bits/sec, {int(iface.out_rate / 600)} packets/sec

Input:  {self.d.in_packets(iface, now)} packets, {self.d.in_octets(iface, now)} bytes
  Unicast:         {self.d.in_packets(iface, now)},  Multicast:                   0
  Broadcast:                0,  Jumbo:                       -
  Discard:                  0,  Total Error:        {errors:>10}

  CRC:             {errors:>10},  Giants:                      0

Output:  {self.d.out_packets(iface, now)} packets, {self.d.out_octets(iface, now)} bytes
  Discard:                  0,  Total Error:                 0
"""
            )
        if not blocks:
            return self._error("display interface " + " ".join(args), MatchError.INVALID, 18)
        return "\n".join(blocks)

    def display_current(self, _args: list[str]) -> str:
        return "\n".join(render_config(tree_of(self.d), self.d))

    def display_saved(self, _args: list[str]) -> str:
        tree_of(self.d)
        return "\n".join(self.d.saved)

    def display_nqa(self, _args: list[str]) -> str:
        rtt, loss, jitter, up = self.d.sla()
        if not up:
            return f""" NQA entry({NQA_OWNER}, {NQA_TEST}) :testflag is active ,testtype is jitter
  1 . Test 1 result   The test is finished
   SendProbe:100                          ResponseProbe:0
   Completion:failed                      RTD OverThresholds number:0
   Packet Loss Ratio:100 %
"""
        got = 100 - round(loss)
        r, j = round(rtt), round(jitter)
        return f""" NQA entry({NQA_OWNER}, {NQA_TEST}) :testflag is active ,testtype is jitter
  1 . Test 1 result   The test is finished
   SendProbe:100                          ResponseProbe:{got}
   Completion:success                     RTD OverThresholds number:0
   Min/Max/Avg/Sum RTT:{round(rtt * 0.9)}/{round(rtt * 1.6)}/{r}/{r * got}     RTT Square Sum:{r * r * got}
   NumOfRTT:{got}                           Drop operation number:0
   Min Delay SD:{round(rtt * 0.45)}                        Min Delay DS:{round(rtt * 0.45)}
   Avg Delay SD:{r // 2}                        Avg Delay DS:{r - r // 2}
   Packet Loss SD:{round(loss) // 2}                       Packet Loss DS:{round(loss) - round(loss) // 2}
   Packet Loss Unknown:0                  Average of Jitter:{j}
   Average of Jitter SD:{j}                 Average of Jitter DS:{j}
   NumberOfOWD:{got}                        Packet Loss Ratio:{round(loss)} %
   ICPIF value:{min(40, 1 + round(loss) * 3)}                          MOS-CQ value:{max(100, 434 - round(loss) * 20)}
   TimeStamp unit:ms
"""

    def display_cpu(self, _args: list[str]) -> str:
        cpu = self.d.cpu(self.clock())
        stamp = datetime.now(UTC).strftime("%Y-%m-%d  %H:%M:%S")
        return f"""CPU Usage Stat. Cycle: 60 (Second)
CPU Usage            : {cpu}% Max: {min(100, cpu + 20)}%
CPU Usage Stat. Time : {stamp} 
CPU utilization for five seconds: {cpu}%: one minute: {cpu}%: five minutes: {cpu}%
"""

    def display_clock(self, _args: list[str]) -> str:
        now = datetime.now(UTC)
        return now.strftime("%Y-%m-%d %H:%M:%S") + "\n" + now.strftime("%A") + "\nTime Zone(ICT) : UTC+07:00"

    def display_ntp(self, _args: list[str]) -> str:
        return f""" clock status: synchronized
 clock stratum: 3
 reference clock ID: {NTP_SERVERS[0]}
 synchronization state: clock synchronized
"""


def _unique(word: str, allowed: tuple[str, ...]) -> str | None:
    if word in allowed:
        return word
    candidates = [w for w in allowed if w.startswith(word)]
    return candidates[0] if len(candidates) == 1 else None
