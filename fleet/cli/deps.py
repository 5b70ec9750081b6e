"""What CLI commands need, built in one place: settings, the store, consoles, output helpers."""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import typer
from rich.console import Console

from fleet.domain.text import unsafe
from fleet.errors import FleetError
from fleet.settings import Settings, get_settings
from fleet.sim.lab import Lab
from fleet.store.db import Store
from fleet.store.types import show_time

# Data (tables, JSON) goes to stdout; messages and progress go to stderr.
# Piped output is not squeezed to 80 columns: cut-off names and addresses are useless to grep.
out = Console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, soft_wrap=True)  # never break a message line

_overrides: dict[str, Any] = {}


def set_overrides(**values: Any) -> None:
    _overrides.update({k: v for k, v in values.items() if v is not None})


ACTOR = typer.Option(
    None, "--actor", envvar="FLEET_ACTOR", help="Who is acting, for the audit trail (default: your login)."
)


def actor(given: str | None = None) -> str:
    """Who acts, for the audit trail: --actor (or FLEET_ACTOR), else the login behind sudo, else the login."""
    who = given or os.environ.get("FLEET_ACTOR") or os.environ.get("SUDO_USER") or getpass.getuser()
    if not who.strip() or unsafe(who):
        raise FleetError(f"--actor {who!r}: must be one line of text")
    return who.strip()


def use_lab() -> None:
    """Beside a lab (``lab_dir``), use its secrets for unset variables and its host keys by default."""
    lab = Lab(settings().lab_dir)
    if not lab.exists():
        return
    filled = lab.fill_environment()
    used = [f"its secrets for {len(filled)} unset variable(s)"] if filled else []
    if "ssh_known_hosts" not in get_settings().model_fields_set:
        set_overrides(ssh_known_hosts=lab.known_hosts)
        used.append(f"its host keys ({lab.known_hosts})")
    if used:  # said every time: a lab's values must never pass unnoticed for the real ones
        err.print(f"[dim]lab {lab.folder}/: using {' and '.join(used)}[/]")


def settings() -> Settings:
    base = get_settings()
    return base.model_copy(update=_overrides) if _overrides else base


@contextmanager
def store() -> Iterator[Store]:
    opened = Store.open(settings())
    try:
        yield opened
    finally:
        opened.close()


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
    sys.stdout.flush()


def local_time(moment: datetime, *, seconds: bool = False) -> str:
    """A stored UTC time as staff read it: in the NOC's zone, with its offset (``show_time``)."""
    return show_time(moment, seconds=seconds)
