"""Lab secrets: values for an inventory's env: references, for the simulator and its clients.

Real secrets never come from here. The demo, tests and benchmarks use these so that the simulator
and fleet's pollers agree without anyone typing a password.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from fleet.domain.secrets import SecretRef, SecretScheme
from fleet.inventory.schema import CredentialRecord

SECRET_FIELDS = ("snmp_community", "snmp_auth_key", "snmp_priv_key", "ssh_password")


def lab_secrets(profiles: Iterable[CredentialRecord], salt: str = "fleet-lab") -> dict[str, str]:
    """Environment variables (name -> value) for every env: reference of these profiles."""
    env: dict[str, str] = {}
    for profile in profiles:
        for name in SECRET_FIELDS:
            ref: SecretRef | None = getattr(profile, name)
            if ref is not None and ref.scheme is SecretScheme.ENV:
                digest = hashlib.sha256(f"{salt}:{ref.target}".encode()).hexdigest()[:16]
                env[ref.target] = f"lab-{digest}"
    return env
