"""``fleet drivers``: the device platforms fleet can talk to."""

from __future__ import annotations

import typer
from rich.table import Table

from fleet.cli import deps
from fleet.drivers import REGISTRY


def drivers(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List the drivers: role, vendor, models and how fleet reaches them."""
    if as_json:
        deps.print_json(
            [
                {
                    "name": d.name,
                    "role": d.role.value,
                    "vendor": d.vendor,
                    "models": list(d.models),
                    "netmiko_device_type": d.netmiko_device_type,
                    "description": d.description,
                }
                for d in REGISTRY
            ]
        )
        return
    table = Table("driver", "role", "vendor", "models", "SSH (netmiko)", "description")
    for d in REGISTRY:
        table.add_row(
            d.name, d.role.value, d.vendor, ", ".join(d.models), d.netmiko_device_type or "-", d.description
        )
    deps.out.print(table)
