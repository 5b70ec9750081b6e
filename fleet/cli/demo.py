"""``fleet demo``: the main job on the embedded default (SQLite and the simulator).

The whole loop: import the shipped inventory, start the simulator on it with seeded faults,
enrol the SSH host keys, sweep, then create a session of every site (or of the provinces given)
and run readiness for it, which judges each site from the fresh sweep and polls the failing ones
again; the report's files are printed last. The simulator keeps running afterwards as the lab
(``fleet lab``), with its secrets and host keys beside it, so every other command works at once.
"""

from __future__ import annotations

import os
import socket
import time
from datetime import timedelta
from pathlib import Path

import typer
from rich.table import Table

from fleet.cli import deps
from fleet.cli import readiness as readiness_cli
from fleet.cli import ssh as ssh_cli
from fleet.cli.sweep import print_summary, resolve_scope, sweep_with_progress
from fleet.domain.provision import describe_selection
from fleet.inventory.problems import InventoryInvalid
from fleet.inventory.validate import Inventory, validate_paths
from fleet.sim.lab import Lab, LabConfig, lab_values_to_keep
from fleet.sim.process import free_port
from fleet.store import inventory as repo
from fleet.store import readiness as readiness_repo
from fleet.store.types import local_zone, utcnow

DEFAULT_CONTROL_PORT = 8161  # the simulator's documented control port, when it is free


def _import(inventory: Path) -> Inventory:
    started = time.perf_counter()
    with deps.store() as store:
        with deps.err.status(f"validating {inventory}…"), store.session() as session:
            result = validate_paths([inventory], repo.known(session))
        if not result.ok:
            for problem in result.problems[:50]:
                deps.err.print(str(problem), markup=False)
            raise InventoryInvalid(result.problems)
        with deps.err.status("importing…"), store.session() as session:
            report = repo.import_inventory(session, result.inventory)
        with store.session() as session:
            totals = repo.summary(session)
    elapsed = time.perf_counter() - started
    table = Table("kind", "created", "updated", "unchanged", title="inventory import")
    for kind, counts in report.counts.items():
        table.add_row(kind, f"{counts.created:,}", f"{counts.updated:,}", f"{counts.unchanged:,}")
    deps.out.print(table)
    carriers = ", ".join(f"{k} {v:,}" for k, v in totals["sites_by_carrier"].items())
    roles = ", ".join(f"{k} {v:,}" for k, v in totals["devices_by_role"].items())
    deps.out.print(
        f"inventory: {totals['sites']:,} sites in {totals['provinces']} provinces ({carriers}); "
        f"{totals['devices']:,} devices ({roles}); {elapsed:.1f} s"
    )
    return result.inventory


def demo(
    inventory: Path = typer.Option(Path("inventory"), "--inventory", help="Inventory directory to import."),
    seed: int = typer.Option(2026, "--seed", help="Seed of the simulator's random faults."),
    fault_rate: float = typer.Option(
        0.02, "--fault-rate", min=0, max=1, help="Share of devices with a fault."
    ),
    province: list[str] = typer.Option([], "--province", "-p", help="Sweep only these provinces."),
    snmp_only: bool = typer.Option(False, "--snmp-only", help="Sweep over SNMP only (faster)."),
    import_only: bool = typer.Option(False, "--import-only", help="Stop after the import."),
) -> None:
    """Import the shipped inventory, run the simulator with seeded faults, sweep, and report."""
    # The engine (SNMP and SSH stacks) loads here, not for every fleet command.
    from fleet.engine.enrol import enrol_host_keys, trust_audit  # noqa: PLC0415
    from fleet.engine.readiness import ReadinessOptions  # noqa: PLC0415
    from fleet.service.options import sweep_options  # noqa: PLC0415

    if not inventory.is_dir():
        deps.err.print(f"[bold red]error:[/] {inventory} is not a directory; run from the project's root")
        raise typer.Exit(2)
    settings = deps.settings()
    deps.err.print(f"database: {settings.database_url}")
    loaded = _import(inventory)
    if import_only:
        return
    # The simulator and fleet must agree on the secrets the inventory refers to: lab values,
    # unless the operator has set real ones in the environment. They are kept in the lab (0600)
    # so that every later command run here finds them without anyone typing one.
    lab = Lab(settings.lab_dir)
    if lab.stop():
        deps.err.print("stopped the previous demo's simulator")
    secrets = lab_values_to_keep(loaded.credentials, os.environ)
    os.environ.update(secrets)
    port = DEFAULT_CONTROL_PORT if _port_free(DEFAULT_CONTROL_PORT) else free_port()
    lab.save(LabConfig(str(inventory.resolve()), seed, fault_rate, port), secrets)
    lab.known_hosts.unlink(missing_ok=True)  # enrolled anew below; the NOC's own file is never touched
    with deps.err.status("starting the simulator…"):
        lab.start()
    finished = False
    try:
        deps.err.print(
            f"simulator: {len(loaded.devices):,} devices, faults seeded {seed} at {fault_rate:.0%}"
        )
        scope = resolve_scope(province, [], [], None, snmp_only)
        if not snmp_only:
            devices = ssh_cli.select_devices(province, None, None, None, [], [])
            with deps.err.status(f"enrolling the SSH host keys of {len(devices):,} routers and codecs…"):
                outcomes = enrol_host_keys(
                    devices,
                    lab.known_hosts,
                    workers=settings.ssh_workers,
                    timeout=settings.ssh_connect_timeout,
                )
            selection = describe_selection(province) if province else "every router and codec"
            ssh_cli.audit(
                trust_audit(outcomes, lab.known_hosts, f"demo, {selection}", replace=False), deps.actor()
            )
            failed = sum(o.error is not None for o in outcomes)
            deps.err.print(
                f"host keys: {len(outcomes) - failed:,} enrolled in {lab.known_hosts}, {failed:,} could not "
                "be asked (the sweep reports why)"
            )
        options = sweep_options(settings, known_hosts=lab.known_hosts)
        done = sweep_with_progress(scope, options)
        print_summary(done)
        if snmp_only:
            deps.err.print("readiness needs the codecs' SSH answers: skipped with --snmp-only")
        else:
            session_id = _demo_session(province)
            readiness = ReadinessOptions(
                sweep=options,
                deadline_s=settings.readiness_deadline,
                report_dir=settings.report_dir,
                retention=settings.sample_retention,
            )
            outcome = readiness_cli.readiness_with_progress(session_id, readiness)
            readiness_cli.print_outcome(outcome)
            deps.out.print(
                f"next: open {outcome.reports['html']}  |  fleet session show {session_id}  |  "
                "fleet status --faults"
            )
        finished = True
    finally:
        if not finished:  # a demo that failed leaves nothing running behind it
            lab.stop()
    deps.out.print(
        f"lab: the simulator keeps running at {lab.url()} (fleet lab status | stop | start); "
        f"its secrets and host keys are in {lab.folder}/, used by every fleet command run here"
    )


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _demo_session(province: list[str]) -> int:
    """A session of every site (or of the provinces given) an hour from now, on the simulator's bridge."""
    from fleet.engine.sessions import build_session, options_definition  # noqa: PLC0415 - see demo()
    from fleet.sim.models.cisco_ce import BRIDGE_DIAL  # noqa: PLC0415

    start = (utcnow() + timedelta(hours=1)).astimezone(local_zone()).strftime("%Y-%m-%d %H:%M")
    fields = options_definition(
        title="Phiên họp trực tuyến toàn quốc (demo)",
        start=start,
        dial_string=BRIDGE_DIAL,
        participants={"provinces": province} if province else "all",
    )
    with deps.store() as store, store.session() as db:
        meeting = readiness_repo.add_session(db, build_session(db, fields, Path("demo")))
        sites = len(readiness_repo.participant_codes(db, meeting))
    deps.err.print(
        f"session {meeting.id}: {meeting.title}, {deps.local_time(meeting.starts_at)}, {sites:,} sites, "
        f"dial {BRIDGE_DIAL}"
    )
    return meeting.id or 0
