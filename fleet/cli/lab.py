"""``fleet lab``: the simulated fleet the demo leaves behind, brought back or stopped.

``fleet demo`` sets up the lab (``lab_dir``, ./lab) and leaves its simulator running. ``start``
brings the same fleet back after a stop or a reboot (same inventory, seed and faults, hence the
same host keys, so the enrolled keys still match), ``stop`` ends it, ``status`` says how it is.
"""

from __future__ import annotations

import json
import urllib.request

import typer

from fleet.cli import deps
from fleet.sim.lab import Lab

app = typer.Typer(
    help="The demo's simulated fleet: start it again, stop it, see how it is.", no_args_is_help=True
)


def _lab() -> Lab:
    return Lab(deps.settings().lab_dir)


@app.command()
def start() -> None:
    """Bring the lab's simulator back (same devices, faults and host keys) in the background."""
    lab = _lab()
    config = lab.config()
    running = lab.pid()
    if running is not None:
        deps.err.print(f"the lab's simulator is already running (pid {running}) at {lab.url()}")
        return
    with deps.err.status("starting the lab's simulator…"):
        pid = lab.start()
    deps.err.print(
        f"lab simulator running (pid {pid}): inventory {config.inventory}, seed {config.seed}, "
        f"faults at {config.fault_rate:.0%}; ground truth and fault control at {lab.url()}/truth; "
        f"log {lab.log}"
    )


@app.command()
def stop() -> None:
    """Stop the lab's simulator (the lab's files stay, for 'fleet lab start')."""
    if _lab().stop():
        deps.err.print("the lab's simulator stopped")
    else:
        deps.err.print("the lab's simulator was not running")


@app.command()
def status(as_json: bool = typer.Option(False, "--json", help="Print JSON for machines.")) -> None:
    """Whether the lab's simulator runs, and its active faults. Exit 1 when it does not run."""
    lab = _lab()
    config = lab.config()
    pid = lab.pid()
    faults: list[dict[str, object]] = []
    if pid is not None:
        try:
            with urllib.request.urlopen(f"{lab.url()}/truth", timeout=5) as answer:  # noqa: S310 - loopback
                faults = json.loads(answer.read()).get("faults", [])
        except OSError as exc:
            deps.err.print(f"the simulator (pid {pid}) does not answer at {lab.url()}: {exc}")
            raise typer.Exit(1) from None
    if as_json:
        deps.print_json(
            {"running": pid is not None, "pid": pid, "url": lab.url(), "faults": len(faults)}
            | {"inventory": config.inventory, "seed": config.seed, "fault_rate": config.fault_rate}
        )
    elif pid is None:
        deps.err.print(
            f"the lab's simulator is not running: 'fleet lab start' brings it back ({lab.folder}/)"
        )
    else:
        deps.out.print(
            f"lab simulator running (pid {pid}) at {lab.url()}: inventory {config.inventory}, "
            f"seed {config.seed}, {len(faults):,} active faults; host keys in {lab.known_hosts}"
        )
    if pid is None:
        raise typer.Exit(1)
