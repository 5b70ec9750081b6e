"""``fleet sim``: serve every device of an inventory on its own loopback address."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from fleet.cli import deps
from fleet.inventory.problems import InventoryInvalid
from fleet.inventory.validate import Inventory, validate_paths
from fleet.sim.errors import SimError
from fleet.sim.faults import Scenario, ScenarioError, choose_faults, load_scenario
from fleet.sim.lab import lab_secrets
from fleet.sim.plan import Boot, default_processes, plan

if TYPE_CHECKING:
    from fleet.sim.runtime import Simulator
    from fleet.sim.shards import ShardedSimulator


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
    processes: int | None = typer.Option(
        None,
        "--processes",
        min=1,
        help="Processes to serve the devices, each a share of the sites "
        "(default: the CPUs, at most 4, or more if the open-file limit needs it).",
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
    effective_seed = seed if seed is not None else (parsed.seed if parsed is not None and parsed.seed else 1)
    count = processes if processes is not None else default_processes(inv)
    try:
        if count > 1 and len(inv.sites) > 1:
            sharded = _sharded(inv, parsed, effective_seed, fault_rate, truth_file, count)
            del inv  # the shards hold the devices now; the parent keeps their names only
            asyncio.run(_serve_sharded(sharded, control_port, started))
            return
        from fleet.sim.runtime import Simulator  # noqa: PLC0415 - asyncssh and the models: only to serve

        simulator = Simulator(inv, parsed, seed=effective_seed, fault_rate=fault_rate, truth_file=truth_file)
        asyncio.run(_serve(simulator, control_port, started))
    except SimError as exc:
        deps.err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(1) from None


def _sharded(
    inv: Inventory,
    scenario: Scenario | None,
    seed: int,
    rate: float,
    truth_file: Path | None,
    count: int,
) -> ShardedSimulator:
    """Shards of the sites, with the faults one process would choose (over the whole inventory)."""
    from fleet.sim.credentials import check_secrets  # noqa: PLC0415 - only to serve
    from fleet.sim.shards import ShardedSimulator  # noqa: PLC0415

    check_secrets(inv)  # reported once, here, rather than by every shard
    faults = choose_faults([(d.name, d.role) for d in inv.devices], scenario or Scenario(), rate, seed)
    specs = plan(inv, count, faults, seed, Boot.now())
    return ShardedSimulator(specs, [d.name for d in inv.devices], truth_file, _say)


def _say(text: str) -> None:
    deps.err.print(text, markup=False, highlight=False)


def _signals(stop: Callable[[], None]) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop)


async def _serve(simulator: Simulator, control_port: int, started: float) -> None:
    stop = asyncio.Event()
    _signals(stop.set)
    with deps.err.status(f"starting {len(simulator.inventory.devices):,} devices…"):
        simulator.build()
        await simulator.start(control_port)
    _ready(simulator.summary(), started, f"{_rss_mb('self'):.0f} MB")
    host, port = simulator.control_address or ("127.0.0.1", control_port)
    deps.err.print(f"ground truth and fault control: http://{host}:{port}/truth   (Ctrl-C to stop)")
    await stop.wait()
    deps.err.print("stopping…")
    await simulator.stop()
    snmp = simulator.stats.snmp
    _stopped({"requests": snmp.requests, "malformed": snmp.malformed, "bad_community": snmp.bad_community})


async def _serve_sharded(sharded: ShardedSimulator, control_port: int, started: float) -> None:
    _signals(sharded.finished.set)
    with deps.err.status(f"starting {len(sharded.order):,} devices in {len(sharded.specs)} processes…"):
        if not await sharded.start(control_port):
            deps.err.print("stopped before it was ready")
            return
    pids = ["self", *(str(s.process.pid) for s in sharded.shards)]
    _ready(sharded.summary(), started, f"{sum(map(_rss_mb, pids)):.0f} MB in {len(pids)} processes")
    host, port = sharded.control_address or ("127.0.0.1", control_port)
    deps.err.print(f"ground truth and fault control: http://{host}:{port}/truth   (Ctrl-C to stop)")
    await sharded.finished.wait()
    if sharded.failure is None:
        deps.err.print("stopping…")
    await sharded.stop()
    if sharded.failure is not None:
        raise SimError(sharded.failure)
    _stopped(sharded.answered())


def _ready(info: dict[str, Any], started: float, memory: str) -> None:
    elapsed = time.perf_counter() - started
    deps.err.print(
        f"[bold green]fleet sim ready[/] in {elapsed:.1f} s: {info['devices']:,} devices "
        f"({info['routers']:,} routers, {info['codecs']:,} codecs, {info['cameras']:,} cameras) "
        f"on {info['first_address']} … {info['last_address']}; "
        f"SNMP udp/{_ports(info['snmp_ports'])}, SSH tcp/{_ports(info['ssh_ports'])}; "
        f"{info['faults']} fault(s) active; {memory}"
    )


def _stopped(answered: dict[str, int]) -> None:
    deps.err.print(
        f"stopped: answered {answered.get('requests', 0):,} SNMP requests "
        f"({answered.get('malformed', 0):,} malformed, {answered.get('bad_community', 0):,} bad community)"
    )


def _ports(ports: list[int]) -> str:
    return ",".join(map(str, ports))


def _rss_mb(pid: str) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0
