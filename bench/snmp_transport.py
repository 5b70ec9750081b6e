"""fleet's SNMP transport (pysnmp 7) over the whole shipped inventory against the simulator.

Starts `fleet sim` in a subprocess, registers every target, then sweeps twice (cold, warm) with a
GET of 5 objects per device and prints wall time, devices/s, client CPU, errors by kind and peak
memory. Issue 4 must bring a full sweep under 15 s and 400 MB; this measures where it stands.

    .venv/bin/python bench/snmp_transport.py [--inventory inventory] [--devices N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import time
from collections import Counter
from pathlib import Path

from fleet.domain.enums import SnmpVersion
from fleet.inventory.schema import CredentialRecord
from fleet.inventory.validate import validate_paths
from fleet.sim.lab import lab_secrets
from fleet.sim.process import SimulatorProcess
from fleet.transports.snmp import SnmpClient, SnmpCredentials, SnmpTarget

OIDS = [
    "1.3.6.1.2.1.1.3.0",
    "1.3.6.1.2.1.1.5.0",
    "1.3.6.1.2.1.2.2.1.8.1",
    "1.3.6.1.2.1.2.2.1.10.1",
    "1.3.6.1.2.1.31.1.1.1.6.1",
]


def credentials(profile: CredentialRecord, env: dict[str, str]) -> SnmpCredentials:
    def value(ref: object) -> str:
        return env[getattr(ref, "target", "")]

    if profile.snmp_version is SnmpVersion.V2C:
        return SnmpCredentials(profile.snmp_version, community=value(profile.snmp_community))
    return SnmpCredentials(
        profile.snmp_version, user=profile.snmp_user, auth_protocol=profile.snmp_auth_protocol,
        auth_key=value(profile.snmp_auth_key), priv_protocol=profile.snmp_priv_protocol,
        priv_key=value(profile.snmp_priv_key),
    )  # fmt: skip


async def sweep(targets: list[SnmpTarget]) -> None:
    client = SnmpClient(timeout=1.0, retries=1, in_flight=200)
    t0, c0 = time.perf_counter(), time.process_time()
    await client.prepare(targets)
    print(
        f"register {len(targets):,} targets: {time.perf_counter() - t0:.1f} s wall, {time.process_time() - c0:.1f} s CPU"
    )
    for label in ("cold", "warm"):
        t0, c0 = time.perf_counter(), time.process_time()
        results = await asyncio.gather(*(client.get(t, OIDS) for t in targets))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        errors = Counter(r.error.value for r in results if r.error is not None)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"{label} sweep: {wall:.1f} s wall, {len(targets) / wall:,.0f} devices/s, client CPU {cpu:.1f} s "
            f"({cpu / len(targets) * 1e6:,.0f} us/device), errors {dict(errors) or 'none'}, peak RSS {peak:.0f} MB"
        )
    client.close()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--inventory", default="inventory")
    parser.add_argument("--devices", type=int, default=0, help="only the first N devices (0: all)")
    args = parser.parse_args()
    inventory = validate_paths([Path(args.inventory)]).inventory
    env = os.environ | lab_secrets(inventory.credentials)
    profiles = {p.name: credentials(p, env) for p in inventory.credentials}
    devices = inventory.devices[: args.devices or None]
    targets = [
        SnmpTarget(d.name, d.mgmt_address, d.snmp_port, profiles[d.credential_profile]) for d in devices
    ]
    sim = SimulatorProcess.start(Path(args.inventory), env)
    try:
        sim.wait_ready(120)
        asyncio.run(sweep(targets))
    finally:
        sim.stop(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
