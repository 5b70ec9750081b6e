"""``fleet ssh``: enrol devices' SSH host keys (``trust``) and drop them (``forget``).

fleet logs in only to devices whose host key is enrolled in its known_hosts file, and never
adds a key on its own. ``trust`` fetches the keys of the devices selected (no login), records the
new ones and refuses a key that differs from the one recorded unless ``--replace`` is given.
Both record what they did in the audit trail, with the actor (``--actor``, FLEET_ACTOR, the login).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fleet.cli import deps
from fleet.domain.enums import Carrier, Role
from fleet.domain.provision import AuditEntry, describe_selection
from fleet.drivers.registry import REGISTRY
from fleet.errors import NotFoundError
from fleet.store import configs as audit_repo
from fleet.store import inventory as repo
from fleet.store.inventory import DeviceRow

if TYPE_CHECKING:  # paramiko loads only for the commands that talk SSH or read keys
    from fleet.engine.enrol import Outcome

app = typer.Typer(help="SSH host keys: enrol them before fleet logs in to devices.", no_args_is_help=True)

KNOWN_HOSTS = typer.Option(
    None, "--known-hosts", help="known_hosts file (default: the ssh_known_hosts setting, ./known_hosts)."
)
JSON = typer.Option(False, "--json", help="Print JSON for machines instead of tables.")
MAX_SHOWN = 200


def _known_hosts_path(option: Path | None) -> Path:
    return option if option is not None else deps.settings().ssh_known_hosts


def select_devices(
    provinces: list[str],
    carrier: Carrier | None,
    role: Role | None,
    group: str | None,
    names: list[str],
    sites: list[str],
) -> list[DeviceRow]:
    """SSH-capable devices of the database's inventory matching every filter given."""
    with deps.store() as store, store.session() as session:
        codes = {repo.resolve_province(session, p).code for p in provinces}
        rows, _total = repo.list_devices(session, carrier=carrier, role=role, group=group)
    wanted_names, site_codes = set(names), {r.site_code for r in rows}
    missing = sorted(wanted_names - {r.device for r in rows})
    if missing:
        raise NotFoundError(f"no device named {', '.join(missing)} (among those matching the other filters)")
    wanted_sites = {s.zfill(5) if s.isdigit() else s for s in sites} | set(sites)
    unknown_sites = sorted(s for s in sites if not {s, s.zfill(5)} & site_codes)
    if unknown_sites:
        raise NotFoundError(
            f"no site with code {', '.join(unknown_sites)} (among those matching the other filters)"
        )
    chosen = [
        r
        for r in rows
        if (not codes or r.province_code in codes)
        and (not names or r.device in wanted_names)
        and (not sites or r.site_code in wanted_sites)
    ]
    ssh = [r for r in chosen if r.driver in REGISTRY and REGISTRY.get(r.driver).uses_ssh and r.ssh_port]
    if not ssh:
        what = "device" if not chosen else "SSH-capable device (cameras are SNMP only)"
        raise NotFoundError(f"no {what} matches the filters given")
    return ssh


def audit(entries: list[AuditEntry], actor: str) -> None:
    """Record host-key changes in the audit trail."""
    with deps.store() as store, store.session() as session:
        audit_repo.add_audit(session, entries, actor, None)


def _line(o: Outcome) -> str:
    from fleet.transports.known_hosts import Enrolment  # noqa: PLC0415 - see the imports

    d = o.device
    where = f"{d.device} ({o.host})"
    if o.error is not None:
        return f"{where}: {o.error.kind.value}: {o.error.detail}"
    assert o.key is not None  # noqa: S101 - every outcome has a key or an error
    if o.enrolment is Enrolment.CHANGED:
        recorded = ", ".join(k.fingerprint for k in o.recorded or [])
        return (
            f"{where}: host key CHANGED: the device offers {o.key.fingerprint}, {recorded} is enrolled; "
            "refused (check with the site, then use --replace)"
        )
    if o.enrolment is Enrolment.REPLACED:
        return f"{where}: host key replaced: now {o.key.fingerprint}"
    return f"{where}: {o.enrolment.value if o.enrolment else '?'} {o.key.fingerprint}"


@app.command()
def trust(
    province: list[str] = typer.Option(
        [], "--province", "-p", help="Province code, codename or name (repeatable)."
    ),
    carrier: Carrier | None = typer.Option(None, "--carrier", "-c", case_sensitive=False),
    role: Role | None = typer.Option(None, "--role", "-r", case_sensitive=False),
    group: str | None = typer.Option(None, "--group", "-g", help="A named group, e.g. wave-1-south."),
    device: list[str] = typer.Option([], "--device", "-d", help="Device name (repeatable)."),
    site: list[str] = typer.Option([], "--site", "-s", help="Site code (repeatable)."),
    replace: bool = typer.Option(
        False, "--replace", help="Replace a recorded key that differs (only when the change is expected)."
    ),
    known_hosts: Path | None = KNOWN_HOSTS,
    workers: int = typer.Option(50, "--workers", min=1, max=500, help="Devices asked at a time."),
    timeout: float | None = typer.Option(
        None,
        "--timeout",
        min=0.1,
        help="Seconds per device in all (default: the ssh_connect_timeout setting).",
    ),
    actor: str | None = deps.ACTOR,
    as_json: bool = JSON,
) -> None:
    """Fetch the host keys of the selected devices (no login) and enrol the new ones.

    Exits 1 when a device's key differs from the one enrolled (refused without --replace) or when
    a device could not be asked.
    """
    from fleet.engine.enrol import enrol_host_keys, trust_audit  # noqa: PLC0415 - see the imports
    from fleet.transports.known_hosts import Enrolment  # noqa: PLC0415

    who = deps.actor(actor)
    path = _known_hosts_path(known_hosts)
    devices = select_devices(province, carrier, role, group, device, site)
    progress = Progress(
        TextColumn("fetching host keys"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=deps.err,
        transient=True,
    )
    with progress:
        task = progress.add_task("keys", total=len(devices))
        outcomes = enrol_host_keys(
            devices,
            path,
            workers=workers,
            timeout=timeout or deps.settings().ssh_connect_timeout,
            replace=replace,
            on_done=lambda: progress.advance(task),
        )
    carriers, roles = [carrier.value] if carrier else [], [role.value] if role else []
    selection = describe_selection(province, carriers, roles, group, device=device, site=site)
    audit(trust_audit(outcomes, path, selection, replace=replace), who)
    counts = Counter(o.enrolment.value if o.enrolment else "failed" for o in outcomes)
    errors = Counter(o.error.kind.value for o in outcomes if o.error is not None)
    refused = counts[Enrolment.CHANGED.value]
    failed = counts["failed"]
    if as_json:
        deps.print_json(
            {
                "ok": not refused and not failed,
                "known_hosts": str(path),
                "devices": len(outcomes),
                "counts": {e.value: counts[e.value] for e in Enrolment} | {"failed": failed},
                "failures_by_kind": dict(errors),
                "changed": [_line(o) for o in outcomes if o.enrolment is Enrolment.CHANGED],
                "replaced": [_line(o) for o in outcomes if o.enrolment is Enrolment.REPLACED],
                "failed": [
                    {
                        "device": o.device.device,
                        "host": o.host,
                        "error": o.error.kind.value,
                        "detail": o.error.detail,
                    }
                    for o in outcomes
                    if o.error is not None
                ],
            }
        )
    else:
        notable = [
            o
            for o in outcomes
            if o.error is not None or o.enrolment in {Enrolment.CHANGED, Enrolment.REPLACED}
        ]
        for o in notable[:MAX_SHOWN]:
            deps.err.print(_line(o), markup=False)
        if len(notable) > MAX_SHOWN:
            deps.err.print(f"… and {len(notable) - MAX_SHOWN} more (use --json to see every one)")
        table = Table(
            "new", "already known", "changed (refused)", "replaced", "failed", title=f"host keys: {path}"
        )
        table.add_row(
            f"{counts[Enrolment.NEW.value]:,}",
            f"{counts[Enrolment.KNOWN.value]:,}",
            f"{refused:,}",
            f"{counts[Enrolment.REPLACED.value]:,}",
            f"{failed:,}"
            + (f" ({', '.join(f'{k} {n}' for k, n in errors.most_common())})" if errors else ""),
        )
        deps.out.print(table)
    if refused or failed:
        raise typer.Exit(1)


@app.command()
def forget(
    devices: list[str] = typer.Argument(..., help="Device names whose enrolled host keys to remove."),
    known_hosts: Path | None = KNOWN_HOSTS,
    actor: str | None = deps.ACTOR,
) -> None:
    """Remove devices' enrolled host keys (a device replaced on purpose; 'trust' then enrols the new key)."""
    from fleet.engine.enrol import forget_audit  # noqa: PLC0415 - see the imports
    from fleet.transports.known_hosts import KnownHosts, host_name  # noqa: PLC0415

    who = deps.actor(actor)
    path = _known_hosts_path(known_hosts)
    rows = select_devices([], None, None, None, devices, [])
    known = KnownHosts.load(path)
    entries: list[AuditEntry] = []
    for row in rows:
        host = host_name(row.mgmt_address, row.ssh_port or 22)
        keys = known.lookup(row.mgmt_address, row.ssh_port or 22)
        removed = known.forget(row.mgmt_address, row.ssh_port or 22)
        entries += forget_audit(row.device, host, keys, removed, path)
        status = f"removed {removed} key(s)" if removed else "nothing enrolled"
        deps.err.print(f"{row.device} ({host}): {status}", markup=False)
    if known.changed:
        known.save()
    if entries:
        audit(entries, who)
