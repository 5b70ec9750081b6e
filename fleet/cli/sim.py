"""``fleet sim``: serve every device of an inventory on its own loopback address."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from fleet.cli import deps
from fleet.inventory.problems import InventoryInvalid
from fleet.inventory.validate import Inventory, validate_paths
from fleet.sim.errors import SimError
from fleet.sim.faults import ScenarioError, load_scenario
from fleet.sim.lab import lab_secrets

if TYPE_CHECKING:
    from fleet.sim.runtime import Simulator


def load_inventory(paths: list[Path], sites: int | None) -> Inventory:
    result = validate_paths(paths)
    if not result.ok:
        for problem in result.problems[:50]:
            deps.err.print(str(problem), markup=False)
        raise InventoryInvalid(result.problems)
    inventory = result.inventory
    if sites is not None:
        keep = {s.code for s in inventory.sites[:sites]}
        inventory = Inventory(
            sites=[s for s in inventory.sites if s.code in keep],
            devices=[d for d in inventory.devices if d.site_code in keep],
            credentials=inventory.credentials,
            groups=[],
        )
    return inventory


def sim(
    inventory: list[Path] = typer.Option(
        [Path("inventory")], "--inventory", "-i", help="Inventory files or directories."
    ),
    scenario: Path | None = typer.Option(None, "--scenario", "-s", help="A YAML file of faults to inject."),
    seed: int | None = typer.Option(
        None, "--seed", help="Seed for random faults and packet loss (default: the scenario's seed, else 1)."
    ),
    fault_rate: float = typer.Option(
        0.0, "--fault-rate", min=0.0, max=1.0, help="Share of devices given a random fault."
    ),
    control_port: int = typer.Option(
        8161, "--control-port", help="Loopback HTTP port for ground truth and fault control."
    ),
    truth_file: Path | None = typer.Option(
        None, "--truth-file", help="Also write the ground truth (JSON) here."
    ),
    sites: int | None = typer.Option(None, "--sites", min=1, help="Serve only the first N sites."),
    lab: bool = typer.Option(
        False,
        "--lab-secrets",
        help="Fill unset env: secrets with fixed lab values (a drill, never production).",
    ),
) -> None:
    """Run the fleet simulator in the foreground until Ctrl-C."""
    started = time.perf_counter()
    inv = load_inventory(inventory, sites)
    if lab:
        filled = [
            name
            for name, value in lab_secrets(inv.credentials).items()
            if os.environ.setdefault(name, value) == value
        ]
        if filled:
            deps.err.print(f"lab secrets in use for: {', '.join(sorted(filled))}")
    parsed = None
    if scenario is not None:
        try:
            everything = load_inventory(inventory, None) if sites is not None else inv
            parsed = load_scenario(scenario, {d.name: d.role for d in everything.devices})
        except ScenarioError as exc:
            for problem in exc.problems:
                deps.err.print(str(problem), markup=False)
            deps.err.print(f"[bold red]error:[/] invalid scenario {scenario}; the simulator was not started")
            raise typer.Exit(1) from None
    if parsed is not None and sites is not None:
        served = {d.name for d in inv.devices}
        skipped = sorted(set(parsed.faults) - served)
        if skipped:
            deps.err.print(f"not among the first {sites} sites, so not served: {', '.join(skipped[:10])}")
            parsed = replace(parsed, faults={k: v for k, v in parsed.faults.items() if k in served})
    from fleet.sim.runtime import Simulator  # noqa: PLC0415 - asyncssh and the models: only to serve

    effective_seed = seed if seed is not None else (parsed.seed if parsed is not None and parsed.seed else 1)
    simulator = Simulator(inv, parsed, seed=effective_seed, fault_rate=fault_rate, truth_file=truth_file)
    try:
        asyncio.run(_serve(simulator, control_port, started))
    except SimError as exc:
        deps.err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(1) from None


async def _serve(simulator: Simulator, control_port: int, started: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    with deps.err.status(f"starting {len(simulator.inventory.devices):,} devices…"):
        simulator.build()
        await simulator.start(control_port)
    info = simulator.summary()
    elapsed = time.perf_counter() - started
    rss = _rss_mb()
    deps.err.print(
        f"[bold green]fleet sim ready[/] in {elapsed:.1f} s: {info['devices']:,} devices "
        f"({info['routers']:,} routers, {info['codecs']:,} codecs, {info['cameras']:,} cameras) "
        f"on {info['first_address']} … {info['last_address']}; "
        f"SNMP udp/{_ports(info['snmp_ports'])}, SSH tcp/{_ports(info['ssh_ports'])}; "
        f"{info['faults']} fault(s) active; {rss:.0f} MB"
    )
    host, port = simulator.control_address or ("127.0.0.1", control_port)
    deps.err.print(f"ground truth and fault control: http://{host}:{port}/truth   (Ctrl-C to stop)")
    await stop.wait()
    deps.err.print("stopping…")
    await simulator.stop()
    snmp = simulator.stats.snmp
    deps.err.print(
        f"stopped: answered {snmp.requests:,} SNMP requests "
        f"({snmp.malformed:,} malformed, {snmp.bad_community:,} bad community)"
    )


def _ports(ports: list[int]) -> str:
    return ",".join(map(str, ports))


def _rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0
