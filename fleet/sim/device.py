"""The simulated state of one device: identity, interfaces and counters, faults, configuration.

Everything a model's SNMP view or CLI reports is derived from here, so a fault changes what
every client sees at once. Counters are computed from time, not stored per tick.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from enum import StrEnum

from fleet.domain.enums import Carrier, Role
from fleet.inventory.schema import DeviceRecord, SiteRecord
from fleet.sim.faults import Fault, FaultKind
from fleet.sim.models.config import ConfigTree
from fleet.snmp.usm import LocalKeys

# Where the national conference bridge and the NOC's services sit, as configured on devices.
BRIDGE_ADDRESS = "10.10.0.10"
NTP_SERVERS = ("10.10.0.1", "10.10.0.2")
SIP_REGISTRAR = {Carrier.VNPT: "sip.vnpt.hoinghi.gov.vn", Carrier.VIETTEL: "sip.viettel.hoinghi.gov.vn"}
DRIFTED_NTP = "10.99.0.1"
DRIFTED_REGISTRAR = "sip.old-registrar.local"

ENTERPRISE = {"cisco_ios": 9, "cisco_ce": 9, "huawei_vrp": 2011, "axis_ptz": 368}


class IfRole(StrEnum):
    WAN = "wan"
    LAN = "lan"
    UNUSED = "unused"
    LOOPBACK = "loopback"


@dataclass(slots=True)
class Interface:
    index: int
    name: str
    role: IfRole
    if_type: int  # IANAifType: 6 ethernetCsmacd, 24 softwareLoopback
    speed_mbps: int
    mac: bytes
    alias: str = ""
    in_rate: float = 0.0  # octets per second while up
    out_rate: float = 0.0
    base_octets: int = 0
    address: str = ""
    prefix_len: int = 24


@dataclass(slots=True)
class DeviceState:
    record: DeviceRecord
    site: SiteRecord
    province_name: str
    boot: float  # monotonic time the device booted (before the simulator started)
    serial: str
    engine_id: bytes
    interfaces: list[Interface]
    cpu_base: int
    rtt_base_ms: float
    jitter_base_ms: float
    config: list[str] = field(default_factory=list)  # routers: running configuration lines
    settings: dict[str, str] = field(default_factory=dict)  # codecs: xConfiguration path -> value
    faults: dict[FaultKind, Fault] = field(default_factory=dict)
    fault_since: dict[FaultKind, float] = field(default_factory=dict)  # monotonic
    drift_undo: list[tuple[str, str]] = field(default_factory=list)  # (drifted, original)
    # What finished faults left behind, so counters never jump or run backwards when one clears.
    wan_down_seconds: float = 0.0
    error_backlog: int = 0
    snmp_keys: dict[bytes, LocalKeys] = field(default_factory=dict)
    ssh_user: str = ""
    tree: ConfigTree | None = None  # routers: running configuration, built on first use
    saved: list[str] = field(default_factory=list)  # configuration as last saved

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def role(self) -> Role:
        return self.record.role

    @property
    def driver(self) -> str:
        return self.record.driver

    def has(self, kind: FaultKind) -> bool:
        return kind in self.faults

    @property
    def wan(self) -> Interface | None:
        return next((i for i in self.interfaces if i.role is IfRole.WAN), None)

    def firmware(self, outdated_default: str) -> str:
        fault = self.faults.get(FaultKind.OUTDATED_SOFTWARE)
        if fault is None:
            return self.record.expected_firmware
        return str(fault.param("version")) or outdated_default

    def uptime_ticks(self, now: float) -> int:
        return int((now - self.boot) * 100)

    def oper_up(self, iface: Interface) -> bool:
        if iface.role is IfRole.UNUSED:
            return False
        return not (iface.role is IfRole.WAN and self.has(FaultKind.WAN_DOWN))

    def admin_up(self, iface: Interface) -> bool:
        return iface.role is not IfRole.UNUSED

    def _active_seconds(self, iface: Interface, now: float) -> float:
        """Seconds the interface has carried traffic (it stops counting while down)."""
        if iface.role is IfRole.UNUSED:
            return 0.0
        seconds = now - self.boot
        if iface.role is IfRole.WAN:
            seconds -= self.wan_down_seconds
            if FaultKind.WAN_DOWN in self.fault_since:
                seconds -= max(0.0, now - self.fault_since[FaultKind.WAN_DOWN])
        return max(0.0, seconds)

    def _fault_errors(self, iface: Interface, now: float) -> int:
        fault = self.faults.get(FaultKind.IF_ERRORS)
        if fault is None or iface.role is not IfRole.WAN:
            return 0
        since = self.fault_since[FaultKind.IF_ERRORS]
        packets_since = iface.in_rate / 600 * max(0.0, now - since)
        # A bad line has errored the same share of packets for a while before the fault was noticed.
        return int(fault.number("error_rate") * (packets_since + iface.in_rate / 600 * 3600))

    def end_fault(self, kind: FaultKind, now: float) -> None:
        """Carry what an ending fault did into the counters' base (call before removing it)."""
        wan = self.wan
        if kind is FaultKind.WAN_DOWN and kind in self.fault_since:
            self.wan_down_seconds += max(0.0, now - self.fault_since[kind])
        if kind is FaultKind.IF_ERRORS and wan is not None:
            self.error_backlog += self._fault_errors(wan, now)

    def in_octets(self, iface: Interface, now: float) -> int:
        return iface.base_octets + int(iface.in_rate * self._active_seconds(iface, now))

    def out_octets(self, iface: Interface, now: float) -> int:
        return iface.base_octets // 2 + int(iface.out_rate * self._active_seconds(iface, now))

    def in_packets(self, iface: Interface, now: float) -> int:
        return self.in_octets(iface, now) // 600

    def out_packets(self, iface: Interface, now: float) -> int:
        return self.out_octets(iface, now) // 600

    def in_errors(self, iface: Interface, now: float) -> int:
        base = self.in_packets(iface, now) // 2_000_000  # a healthy line: a handful a day
        if iface.role is not IfRole.WAN:
            return base
        return base + self.error_backlog + self._fault_errors(iface, now)

    def sla(self) -> tuple[float, float, float, bool]:
        """(rtt ms, loss %, jitter ms, reachable) of the probe toward the bridge."""
        if self.has(FaultKind.WAN_DOWN):
            return 0.0, 100.0, 0.0, False
        fault = self.faults.get(FaultKind.POOR_LINK)
        if fault is not None:
            return fault.number("rtt_ms"), fault.number("loss_pct"), fault.number("jitter_ms"), True
        return self.rtt_base_ms, 0.0, self.jitter_base_ms, True

    def cpu(self, now: float) -> int:
        wobble = int(now / 7 + self.cpu_base) % 5
        return min(100, self.cpu_base + wobble)


def _seeded(name: str, seed: int) -> random.Random:
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))  # noqa: S311 - simulation data


def _mac(rng: random.Random, oui: bytes) -> bytes:
    return oui + bytes(rng.randrange(256) for _ in range(3))


OUI = {
    "cisco_ios": b"\x00\x1e\x7a",
    "cisco_ce": b"\x00\x50\x60",
    "huawei_vrp": b"\x4c\x1f\xcc",
    "axis_ptz": b"\xac\xcc\x8e",
}


def build_state(
    record: DeviceRecord, site: SiteRecord, province_name: str, now: float, seed: int
) -> DeviceState:
    rng = _seeded(record.name, seed)
    oui = OUI.get(record.driver, b"\x02\x00\x00")
    carrier = site.carrier.value
    if record.role is Role.ROUTER:
        cisco = record.driver == "cisco_ios"
        names = (
            ("GigabitEthernet0/0/0", "GigabitEthernet0/0/1", "GigabitEthernet0/0/2", "Loopback0")
            if cisco
            else ("GigabitEthernet0/0/0", "GigabitEthernet0/0/1", "GigabitEthernet0/0/2", "LoopBack0")
        )
        wan_rate = rng.uniform(20_000, 120_000)
        wan_ip = f"100.{64 + rng.randrange(60)}.{rng.randrange(256)}.{rng.randrange(1, 254)}"
        octets = rng.randrange(10**9, 10**11)
        interfaces = [
            Interface(1, names[0], IfRole.WAN, 6, 1000, _mac(rng, oui), f"WAN to {carrier}",
                      wan_rate, wan_rate * 0.6, octets, wan_ip, 30),
            Interface(2, names[1], IfRole.LAN, 6, 1000, _mac(rng, oui), "LAN to codec and camera",
                      wan_rate * 0.58, wan_rate * 0.95, octets // 3, "192.168.10.1", 24),
            Interface(3, names[2], IfRole.UNUSED, 6, 1000, _mac(rng, oui), "", 0.0, 0.0, 0),
            Interface(4, names[3], IfRole.LOOPBACK, 24, 8000, b"", "Management", 5.0, 5.0, 0,
                      record.mgmt_address, 32),
        ]  # fmt: skip
    else:
        rate = rng.uniform(2_000, 9_000) if record.role is Role.CODEC else rng.uniform(150_000, 400_000)
        interfaces = [
            Interface(1, "eth0", IfRole.LAN, 6, 1000, _mac(rng, oui), "", rate, rate * 1.1,
                      rng.randrange(10**8, 10**10), record.mgmt_address, 24),
        ]  # fmt: skip
    digest = hashlib.sha1(record.name.encode()).digest()[:8]  # noqa: S324 - an identifier, not security
    enterprise = ENTERPRISE.get(record.driver, 8072)
    engine_id = (0x80000000 | enterprise).to_bytes(4, "big") + b"\x05" + digest
    serial_prefix = {"cisco_ios": "FDO", "cisco_ce": "FOC", "huawei_vrp": "2102", "axis_ptz": "ACCC"}.get(
        record.driver, "SN"
    )
    return DeviceState(
        record=record,
        site=site,
        province_name=province_name,
        boot=now - rng.uniform(3600, 90 * 86400),
        serial=f"{serial_prefix}{rng.randrange(16**8):08X}",
        engine_id=engine_id,
        interfaces=interfaces,
        cpu_base=rng.randrange(3, 25),
        rtt_base_ms=round(rng.uniform(18, 45), 1),
        jitter_base_ms=round(rng.uniform(0.5, 4.0), 1),
    )
