"""``fleet inventory``: validate, import, export, list, show and generate."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

import typer
from rich.table import Table

from fleet.cli import deps
from fleet.domain.enums import Carrier, Role
from fleet.inventory.generator import DEFAULT_SEED, generate
from fleet.inventory.problems import InventoryInvalid, Problem
from fleet.inventory.schema import Kind, Record
from fleet.inventory.validate import Known, Validation, validate_paths
from fleet.inventory.writer import SHIPPED_LAYOUT, write_inventory
from fleet.store import inventory as repo

app = typer.Typer(help="Sites, devices, credential profiles and groups.", no_args_is_help=True)

PATHS = typer.Argument(..., help="Inventory files, or directories holding them (.csv, .yaml, .yml).")
JSON = typer.Option(False, "--json", help="Print JSON for machines instead of tables.")
MAX_SHOWN = 200


def _report_problems(problems: list[Problem], as_json: bool) -> None:
    if as_json:
        deps.print_json({"ok": False, "problems": [p.to_dict() for p in problems]})
        return
    for problem in problems[:MAX_SHOWN]:
        deps.err.print(str(problem), markup=False)
    if len(problems) > MAX_SHOWN:
        deps.err.print(f"… and {len(problems) - MAX_SHOWN} more (use --json to see every one)")


def _fail(validation_problems: list[Problem], as_json: bool) -> None:
    _report_problems(validation_problems, as_json)
    error = InventoryInvalid(validation_problems)
    deps.err.print(f"[bold red]invalid:[/] {error}")
    raise typer.Exit(error.exit_code)


def _known_from_database() -> Known | None:
    """The database's inventory, when one exists already; validation never creates one."""
    settings = deps.settings()
    url = settings.database_url
    if url.startswith("sqlite") and not Path(url.split(":///", 1)[-1]).exists():
        return None
    with deps.store() as store, store.session() as session:
        return repo.known(session)


@app.command()
def validate(
    paths: list[Path] = PATHS,
    use_db: bool = typer.Option(
        True, "--db/--no-db", help="Let files refer to sites and profiles already in the database."
    ),
    as_json: bool = JSON,
) -> None:
    """Check inventory files without changing anything; every problem is reported."""
    known = _known_from_database() if use_db else None
    result = validate_paths(paths, known)
    if not result.ok:
        _fail(result.problems, as_json)
    counts = result.inventory.counts()
    if as_json:
        deps.print_json({"ok": True, "files": [str(f) for f in result.files], "counts": counts})
        return
    deps.out.print(f"valid: {_counts_text(counts)} in {len(result.files)} file(s)")


def _counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{n:,} {kind}" for kind, n in counts.items())


@app.command("import")
def import_(
    paths: list[Path] = PATHS,
    as_json: bool = JSON,
) -> None:
    """Validate files and upsert them into the database in one transaction (all or nothing)."""
    started = time.perf_counter()
    with deps.store() as store:
        with deps.err.status("validating…"), store.session() as session:
            result: Validation = validate_paths(paths, repo.known(session))
        if not result.ok:
            _fail(result.problems, as_json)
        with (
            deps.err.status(f"importing {_counts_text(result.inventory.counts())}…"),
            store.session() as session,
        ):
            report = repo.import_inventory(session, result.inventory)
    elapsed = time.perf_counter() - started
    if as_json:
        deps.print_json(
            {
                "ok": True,
                "changed": report.changed,
                "seconds": round(elapsed, 3),
                "counts": {k: asdict(v) for k, v in report.counts.items()},
            }
        )
        return
    table = Table("kind", "created", "updated", "unchanged", title=f"import of {len(result.files)} file(s)")
    for kind, counts in report.counts.items():
        table.add_row(kind, f"{counts.created:,}", f"{counts.updated:,}", f"{counts.unchanged:,}")
    deps.out.print(table)
    verdict = "changed" if report.changed else "nothing changed"
    deps.out.print(f"{verdict}; {elapsed:.2f} s")


@app.command()
def export(
    output: Path = typer.Option(..., "--output", "-o", help="Directory to write the files into."),
    fmt: str = typer.Option(
        "shipped", "--format", help="shipped (sites/devices CSV, credentials/groups YAML), csv or yaml."
    ),
) -> None:
    """Write the database's inventory as files that import back unchanged."""
    if fmt not in {"shipped", "csv", "yaml"}:
        raise typer.BadParameter("must be shipped, csv or yaml", param_hint="--format")
    with deps.store() as store, store.session() as session:
        inventory = repo.load_inventory(session)
    if not inventory.sites:
        deps.err.print("[bold red]error:[/] the inventory is empty; nothing to export")
        raise typer.Exit(1)
    layout = SHIPPED_LAYOUT if fmt == "shipped" else dict.fromkeys(Kind, fmt)
    sections: dict[Kind, list[Record]] = {
        Kind.SITES: list(inventory.sites),
        Kind.DEVICES: list(inventory.devices),
        Kind.CREDENTIALS: list(inventory.credentials),
        Kind.GROUPS: list(inventory.groups),
    }
    for path in write_inventory(output, sections, layout):
        deps.out.print(str(path))
    deps.err.print(f"exported {_counts_text(inventory.counts())}")


@app.command("list")
def list_(
    province: str | None = typer.Option(None, "--province", "-p", help="Province code, codename or name."),
    carrier: Carrier | None = typer.Option(None, "--carrier", "-c", case_sensitive=False),
    role: Role | None = typer.Option(None, "--role", "-r", case_sensitive=False),
    group: str | None = typer.Option(None, "--group", "-g", help="A named group, e.g. wave-1-south."),
    limit: int = typer.Option(MAX_SHOWN, "--limit", "-n", min=0, help="Rows to show; 0 for all."),
    as_json: bool = JSON,
) -> None:
    """List devices with their site, province and carrier."""
    with deps.store() as store, store.session() as session:
        rows, total = repo.list_devices(
            session, province=province, carrier=carrier, role=role, group=group, limit=limit or None
        )
    if as_json:
        deps.print_json({"total": total, "devices": [asdict(r) for r in rows]})
        return
    table = Table("site", "name", "province", "carrier", "device", "role", "model", "address")
    for r in rows:
        table.add_row(
            r.site_code,
            r.site_name,
            r.province_name,
            r.carrier.value,
            r.device,
            r.role.value,
            r.model,
            r.mgmt_address,
        )
    deps.out.print(table)
    shown = f"{len(rows):,} of {total:,} device(s)"
    deps.err.print(shown + (" — use --limit 0 for all" if len(rows) < total else ""))


@app.command()
def show(
    site: str = typer.Argument(..., help="Site code (e.g. 26734) or exact site name."),
    as_json: bool = JSON,
) -> None:
    """Show one site: administrative unit, carrier, contact, devices and groups."""
    with deps.store() as store, store.session() as session:
        detail = repo.find_site(session, site)
    s = detail.site
    if as_json:
        deps.print_json(
            {
                "code": s.code,
                "name": s.name,
                "admin_unit": {
                    "code": detail.admin_unit.code,
                    "name": detail.admin_unit.name,
                    "type": detail.admin_unit.division_type.value,
                },
                "province": {"code": detail.province.code, "name": detail.province.name},
                "carrier": s.carrier.value,
                "contact": {"name": s.contact_name, "phone": s.contact_phone},
                "address": s.address,
                "groups": detail.groups,
                "devices": [asdict(d) for d in detail.devices],
            }
        )
        return
    deps.out.print(f"[bold]{s.name}[/] ({s.code})")
    unit = detail.admin_unit
    deps.out.print(f"  serves     {unit.name} ({unit.code}, {unit.division_type.value})")
    deps.out.print(f"  province   {detail.province.name} ({detail.province.code})")
    deps.out.print(f"  carrier    {s.carrier.value}")
    deps.out.print(f"  contact    {s.contact_name or '-'}  {s.contact_phone or ''}")
    deps.out.print(f"  address    {s.address or '-'}")
    deps.out.print(f"  groups     {', '.join(detail.groups) or '-'}")
    table = Table("device", "role", "vendor", "model", "driver", "address", "snmp", "ssh", "credentials")
    for d in detail.devices:
        table.add_row(
            d.device, d.role.value, d.vendor, d.model, d.driver, d.mgmt_address,
            str(d.snmp_port), str(d.ssh_port or "-"), d.credential_profile,
        )  # fmt: skip
    deps.out.print(table)


@app.command("generate")
def generate_(
    output: Path = typer.Option(Path("inventory"), "--output", "-o", help="Directory to write into."),
    sites: int | None = typer.Option(
        None,
        "--sites",
        min=1,
        help="Number of sites (default: one per commune, 3,321). More reuses communes.",
    ),
    seed: int = typer.Option(DEFAULT_SEED, "--seed", help="Random seed; the same seed gives the same files."),
) -> None:
    """Generate the national inventory (or a larger synthetic one for scale tests)."""
    with deps.err.status("generating…"):
        generated = generate(sites=sites, seed=seed)
        paths = write_inventory(output, generated.sections(), SHIPPED_LAYOUT)
    for path in paths:
        deps.out.print(str(path))
    counts = {kind.value: len(records) for kind, records in generated.sections().items()}
    deps.err.print(f"generated {_counts_text(counts)} (seed {seed})")
