"""Start ``fleet sim`` in a subprocess for tests, on addresses no developer's simulator uses."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from fleet.domain.enums import Role
from fleet.inventory.generator import generate
from fleet.inventory.schema import DeviceRecord, Kind
from fleet.inventory.writer import SHIPPED_LAYOUT, write_inventory
from fleet.sim.lab import lab_secrets
from fleet.sim.process import SimulatorProcess

ADDRESS_BASE = 201  # routers 127.201.x.y, codecs 127.202.x.y, cameras 127.203.x.y
READY_SECONDS = 30.0


@dataclass
class SimHandle:
    url: str
    env: dict[str, str]
    devices: dict[str, DeviceRecord]
    inventory_dir: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    child: SimulatorProcess | None = None

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=10) as response:  # noqa: S310 - loopback
            body = response.read().decode()
        return json.loads(body) if response.headers.get_content_type() == "application/json" else body

    def send(self, method: str, path: str, data: dict[str, Any]) -> Any:
        request = urllib.request.Request(  # noqa: S310 - loopback
            self.url + path,
            data=json.dumps(data).encode(),
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return json.loads(response.read())

    def device(self, name: str) -> DeviceRecord:
        return self.devices[name]

    def password(self, name: str) -> str:
        carrier = "VIETTEL" if self.devices[name].credential_profile.startswith("viettel") else "VNPT"
        return self.env[f"FLEET_{carrier}_SSH_PASSWORD"]

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop()


def simulator_pids(pid: int) -> list[int]:
    """A simulator's process and every process under it (its shards), from /proc."""
    found = [pid]
    for each in found:
        for task in Path(f"/proc/{each}/task").glob("*"):
            try:
                found.extend(int(child) for child in (task / "children").read_text().split())
            except OSError:
                continue
    return found


def build_test_inventory(
    directory: Path, sites: int, address_base: int = ADDRESS_BASE
) -> dict[str, DeviceRecord]:
    """A small inventory whose routers alternate Cisco IOS and Huawei VRP, on the test addresses."""
    generated = generate(sites=sites, seed=7, address_base=address_base)
    devices = []
    for i, original in enumerate(generated.devices):
        dev = original
        if dev.role is Role.ROUTER and (i // 3) % 2 == 0:
            dev = replace(
                dev, driver="cisco_ios", vendor="Cisco", model="ISR4331", expected_firmware="17.9.5"
            )
        elif dev.role is Role.ROUTER:
            dev = replace(
                dev,
                driver="huawei_vrp",
                vendor="Huawei",
                model="AR6120",
                expected_firmware="V300R021C10SPC100",
            )
        devices.append(dev)
    sections = generated.sections()
    sections[Kind.DEVICES] = list(devices)
    write_inventory(directory, sections, SHIPPED_LAYOUT)
    return {d.name: d for d in devices}


def start_simulator(
    workdir: Path,
    sites: int,
    scenario: str | None = None,
    seed: int = 1,
    address_base: int = ADDRESS_BASE,
    extra: Sequence[str] = (),
) -> SimHandle:
    """``address_base`` keeps simulators of one test run apart (each takes three /16s from it)."""
    inventory_dir = workdir / "inventory"
    devices = build_test_inventory(inventory_dir, sites, address_base)
    generated = generate(sites=sites, seed=7, address_base=address_base)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEET_")}
    env |= lab_secrets(generated.credentials)
    env["SNMP_PERSISTENT_DIR"] = str(workdir / "snmp")
    args = ["--seed", str(seed)]
    if os.environ.get("FLEET_TEST_SIM_PROCESSES"):  # the default is the CPUs; 1 for a single process
        args += ["--processes", os.environ["FLEET_TEST_SIM_PROCESSES"]]
    if scenario is not None:
        path = workdir / "scenario.yaml"
        path.write_text(scenario, encoding="utf-8")
        args += ["--scenario", str(path)]
    child = SimulatorProcess.start(inventory_dir, env, args=[*args, *extra], log=workdir / "sim.log")
    handle = SimHandle(child.url, env, devices, inventory_dir, workdir / "sim.log", child.process)
    handle.child = child
    child.wait_ready(READY_SECONDS)
    return handle
