"""The driver registry.

A driver says everything fleet needs to talk to one device platform: identity (role, vendor,
models), the netmiko device type, the SNMP objects a sweep reads and the SSH commands it runs with
the parsers that read them, and how its configuration is read and changed (``config``). The
registry refuses a second driver under a name already taken.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from fleet.domain.enums import Role
from fleet.drivers.configs import IOS, VRP, XAPI, ConfigSyntax
from fleet.drivers.snmp_health import SNMP_HEALTH, SnmpHealth
from fleet.drivers.ssh_health import SSH_HEALTH, SshHealth


@dataclass(frozen=True, slots=True)
class Driver:
    name: str
    role: Role
    vendor: str
    models: tuple[str, ...]
    netmiko_device_type: str | None
    description: str
    snmp: SnmpHealth
    ssh: SshHealth | None = None  # what a sweep runs over SSH; None: SNMP only
    config: ConfigSyntax | None = None  # how fleet reads and pushes configuration; None: not provisioned

    @property
    def uses_ssh(self) -> bool:
        return self.netmiko_device_type is not None


class DriverRegistry:
    def __init__(self) -> None:
        self._drivers: dict[str, Driver] = {}

    def register(self, driver: Driver) -> Driver:
        if driver.name in self._drivers:
            raise ValueError(f"a driver named '{driver.name}' is already registered")
        self._drivers[driver.name] = driver
        return driver

    def get(self, name: str) -> Driver:
        try:
            return self._drivers[name]
        except KeyError:
            known = ", ".join(sorted(self._drivers))
            raise KeyError(f"no driver named '{name}' (known: {known})") from None

    def __contains__(self, name: object) -> bool:
        return name in self._drivers

    def __iter__(self) -> Iterator[Driver]:
        return iter(sorted(self._drivers.values(), key=lambda d: d.name))

    def names(self) -> list[str]:
        return sorted(self._drivers)


REGISTRY = DriverRegistry()

REGISTRY.register(
    Driver(
        name="cisco_ios",
        role=Role.ROUTER,
        vendor="Cisco",
        models=("ISR4321", "ISR4331", "ISR1111-8P"),
        netmiko_device_type="cisco_ios",
        description="Cisco IOS / IOS XE branch router",
        snmp=SNMP_HEALTH["cisco_ios"],
        ssh=SSH_HEALTH["cisco_ios"],
        config=IOS,
    )
)
REGISTRY.register(
    Driver(
        name="huawei_vrp",
        role=Role.ROUTER,
        vendor="Huawei",
        models=("AR6120", "AR651", "AR161"),
        netmiko_device_type="huawei",
        description="Huawei VRP AR-series branch router",
        snmp=SNMP_HEALTH["huawei_vrp"],
        ssh=SSH_HEALTH["huawei_vrp"],
        config=VRP,
    )
)
REGISTRY.register(
    Driver(
        name="cisco_ce",
        role=Role.CODEC,
        vendor="Cisco",
        models=("Room Kit", "Room Kit Mini", "Room Bar"),
        netmiko_device_type="cisco_tp",
        description="Cisco TelePresence / Webex room codec running CE software (xAPI over SSH)",
        snmp=SNMP_HEALTH["cisco_ce"],
        ssh=SSH_HEALTH["cisco_ce"],
        config=XAPI,
    )
)
REGISTRY.register(
    Driver(
        name="axis_ptz",
        role=Role.CAMERA,
        vendor="Axis",
        models=("V5925", "Q6135-LE"),
        netmiko_device_type=None,
        description="Axis PTZ network camera, managed over SNMP only",
        snmp=SNMP_HEALTH["axis_ptz"],
    )
)
