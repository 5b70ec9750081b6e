"""From inventory records to sweep targets: scope filters, drivers, and credentials resolved once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fleet.checks.health import DeviceRef
from fleet.domain.enums import Carrier, Role, SnmpVersion
from fleet.domain.secrets import SecretRef
from fleet.drivers.registry import REGISTRY
from fleet.errors import ConfigError, FleetError, SecretError
from fleet.inventory.schema import CredentialRecord, DeviceRecord, SiteRecord
from fleet.inventory.validate import Inventory
from fleet.transports.snmp import SnmpCredentials, SnmpTarget
from fleet.transports.ssh_types import SshTarget


@dataclass(frozen=True, slots=True)
class Scope:
    """Which devices a sweep covers: every filter given must match (empty: no filter)."""

    provinces: frozenset[str] = frozenset()  # province codes
    carriers: frozenset[Carrier] = frozenset()
    roles: frozenset[Role] = frozenset()
    sites: frozenset[str] | None = None  # site codes (a group expands to these); None: no filter
    snmp_only: bool = False
    group: str | None = None  # recorded with the sweep

    def matches(self, device: DeviceRecord, site: SiteRecord) -> bool:
        return (
            (not self.provinces or site.province_code in self.provinces)
            and (not self.carriers or site.carrier in self.carriers)
            and (not self.roles or device.role in self.roles)
            and (self.sites is None or site.code in self.sites)
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "provinces": sorted(self.provinces),
            "carriers": sorted(c.value for c in self.carriers),
            "roles": sorted(r.value for r in self.roles),
            "group": self.group,
            "sites": len(self.sites) if self.sites is not None else None,
            "snmp_only": self.snmp_only,
        }
        return {k: v for k, v in out.items() if v}


@dataclass(frozen=True, slots=True)
class Target:
    """One device to sweep: who it is, how to reach it, and a credential problem if any."""

    ref: DeviceRef
    site_name: str
    province_code: str
    snmp: SnmpTarget | None
    ssh: SshTarget | None
    snmp_problems: tuple[str, ...] = field(default=(), repr=False)
    ssh_problems: tuple[str, ...] = field(default=(), repr=False)  # only when the sweep uses SSH

    @property
    def secret_problem(self) -> str:
        return "; ".join(self.snmp_problems + self.ssh_problems)


@dataclass(frozen=True, slots=True)
class _Resolved:
    snmp: SnmpCredentials | None
    ssh_user: str
    ssh_password: str | None
    snmp_problems: tuple[str, ...]
    ssh_problems: tuple[str, ...]

    def __repr__(self) -> str:  # never show a secret, even in a traceback
        return f"_Resolved(snmp={self.snmp!r}, ssh_user={self.ssh_user!r})"


class CredentialsMissing(FleetError):
    """Credential references a run needs do not resolve: it must not start, so nothing is recorded."""

    exit_code = 6

    def __init__(self, problems: dict[str, int]) -> None:
        self.problems = problems  # "profile P: secret env:X is not set ..." -> devices that need it
        lines = [
            f"  {problem} ({count:,} device{'s' if count != 1 else ''})"
            for problem, count in problems.items()
        ]
        super().__init__(
            f"{len(problems)} credential reference(s) do not resolve; "
            "the run did not start, no device was contacted:\n"
            + "\n".join(lines)
            + "\nset them (or the file they name), then run the command again"
        )


def require_credentials(targets: list[Target], *, snmp: bool = True) -> None:
    """Refuse a run before it touches anything when a credential its devices need does not resolve.

    ``snmp`` False: only the SSH credentials count (provisioning never uses SNMP).
    """
    needed: dict[str, int] = {}
    for target in targets:
        for problem in (target.snmp_problems if snmp else ()) + target.ssh_problems:
            needed[problem] = needed.get(problem, 0) + 1
    if needed:
        raise CredentialsMissing(needed)


def _resolve(ref: SecretRef | None, what: str, profile: str, problems: list[str]) -> str | None:
    """The secret, or None with the reason appended to ``problems`` (each reference named)."""
    try:
        if ref is None:
            raise SecretError(f"the profile has no {what}")
        return ref.resolve()
    except SecretError as exc:
        problems.append(f"profile {profile}: {exc}")
        return None


def _resolve_profile(profile: CredentialRecord) -> _Resolved:
    snmp: SnmpCredentials | None = None
    snmp_problems: list[str] = []
    ssh_problems: list[str] = []
    if profile.snmp_version is SnmpVersion.V2C:
        community = _resolve(profile.snmp_community, "community", profile.name, snmp_problems)
        if community is not None:
            snmp = SnmpCredentials(SnmpVersion.V2C, community=community)
    else:  # every reference is tried, so one message names all that are missing
        auth = _resolve(profile.snmp_auth_key, "SNMP auth key", profile.name, snmp_problems)
        priv = _resolve(profile.snmp_priv_key, "SNMP priv key", profile.name, snmp_problems)
        if auth is not None and priv is not None:
            snmp = SnmpCredentials(
                SnmpVersion.V3,
                user=profile.snmp_user,
                auth_protocol=profile.snmp_auth_protocol,
                auth_key=auth,
                priv_protocol=profile.snmp_priv_protocol,
                priv_key=priv,
            )
    password: str | None = None
    if profile.ssh_user:
        password = _resolve(profile.ssh_password, "SSH password", profile.name, ssh_problems)
    return _Resolved(snmp, profile.ssh_user, password, tuple(snmp_problems), tuple(ssh_problems))


def build_targets(inventory: Inventory, scope: Scope) -> list[Target]:
    """Targets for every device in scope, in inventory order; secrets are resolved once per profile."""
    sites = {s.code: s for s in inventory.sites}
    profiles = {p.name: p for p in inventory.credentials}
    resolved: dict[str, _Resolved] = {}
    targets = []
    for device in inventory.devices:
        site = sites[device.site_code]
        if not scope.matches(device, site):
            continue
        if device.driver not in REGISTRY:
            raise ConfigError(f"device {device.name}: no driver named '{device.driver}'")
        driver = REGISTRY.get(device.driver)
        profile_name = device.credential_profile
        if profile_name not in resolved:
            resolved[profile_name] = _resolve_profile(profiles[profile_name])
        creds = resolved[profile_name]
        ref = DeviceRef(device.name, site.code, device.role, site.carrier, driver, device.expected_firmware)
        snmp = (
            None
            if creds.snmp is None
            else SnmpTarget(device.name, device.mgmt_address, device.snmp_port, creds.snmp)
        )
        ssh = None
        wants_ssh = driver.ssh is not None and driver.netmiko_device_type and device.ssh_port
        if wants_ssh and not scope.snmp_only and creds.ssh_password is not None and driver.ssh is not None:
            ssh = SshTarget(
                name=device.name,
                address=device.mgmt_address,
                port=device.ssh_port or 22,
                device_type=driver.netmiko_device_type or "",
                username=creds.ssh_user,
                password=creds.ssh_password,
                expect_string=driver.ssh.expect,
            )
        ssh_problems = creds.ssh_problems if wants_ssh and not scope.snmp_only else ()
        targets.append(
            Target(ref, site.name, site.province_code, snmp, ssh, creds.snmp_problems, ssh_problems)
        )
    return targets
