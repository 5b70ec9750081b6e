"""The simulator's secrets: resolved once each, every missing one reported together, v3 keys checked.

A sharded simulator's parent runs `check_secrets` over the whole inventory before it starts any
shard, so that a missing secret is reported once, as a single process reports it.
"""

from __future__ import annotations

from typing import Any

from fleet.domain.enums import SnmpVersion
from fleet.errors import SecretError
from fleet.inventory.validate import Inventory
from fleet.sim.errors import SimError
from fleet.snmp import usm


class Secrets:
    """Resolve secret references once each; a missing one reads as '' and is remembered."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.missing: set[str] = set()

    def __call__(self, ref: Any) -> str:
        if ref is None:
            return ""
        key = str(ref)
        if key not in self.values:
            try:
                self.values[key] = ref.resolve()
            except SecretError:
                self.missing.add(key)
                self.values[key] = ""
        return self.values[key]

    def raise_missing(self) -> None:
        if self.missing:
            names = ", ".join(sorted(self.missing))
            raise SimError(f"cannot start: these secrets are not available: {names}")


def check_v3_profiles(inventory: Inventory, secret: Secrets) -> None:
    """Refuse at start-up keys that would fail on every packet later (once per profile)."""
    for profile in inventory.credentials:
        auth, priv = profile.snmp_auth_protocol, profile.snmp_priv_protocol
        if profile.snmp_version is not SnmpVersion.V3 or auth is None or priv is None:
            continue
        auth_pw, priv_pw = secret(profile.snmp_auth_key), secret(profile.snmp_priv_key)
        if not auth_pw or not priv_pw:
            continue  # missing secrets are reported together once all are known
        try:
            usm.local_keys(auth, auth_pw, priv, priv_pw, b"\x80\x00\x00\x00\x05check")
        except ValueError as exc:
            raise SimError(f"credential profile {profile.name}: {exc}") from None


def check_secrets(inventory: Inventory) -> None:
    """Raise SimError as `Simulator.build` would for these devices' secrets, without building them."""
    secret = Secrets()
    check_v3_profiles(inventory, secret)
    profiles = {p.name: p for p in inventory.credentials}
    for name in dict.fromkeys(d.credential_profile for d in inventory.devices):
        profile = profiles[name]
        secret(profile.ssh_password)
        if profile.snmp_version is SnmpVersion.V2C:
            secret(profile.snmp_community)
        else:
            secret(profile.snmp_auth_key)
            secret(profile.snmp_priv_key)
    secret.raise_missing()
