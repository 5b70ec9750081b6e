"""fleet's SSH status readers over every codec of the inventory: asyncssh against the netmiko baseline.

Starts `fleet sim` on the shipped inventory in a subprocess, enrols the codecs' host keys the way
`fleet ssh trust` does (key exchange only, no login), then runs each reader asked for over all
codecs with the commands a sweep sends them (the netmiko collector of before first: the baseline)
and prints codecs/s, wall time, client CPU per session beside the simulator's, peak RSS, session
latency, errors by kind, whether the answers parse, and each reader's ratio to the baseline.
Target: >= 200 sessions/s on 2 cores, client and simulator together.

    .venv/bin/python bench/ssh_collector.py [--readers netmiko,asyncssh] [--workers 50]
        [--in-flight 200] [--commands sweep|one] [--codecs N] [--address-base 231]

--address-base serves the same national inventory on other loopback addresses (127.B.x.y), for
when another simulator already holds the shipped inventory's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import socket
import statistics
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fleet.domain.secrets import SecretRef
from fleet.drivers.parsers import ParseError
from fleet.drivers.parsers.xapi import codec_status, parse_leaves
from fleet.drivers.ssh_health import CODEC_COMMANDS, read_codec
from fleet.inventory.generator import DEFAULT_SEED, generate
from fleet.inventory.schema import DeviceRecord
from fleet.inventory.validate import validate_paths
from fleet.inventory.writer import SHIPPED_LAYOUT, write_inventory
from fleet.sim.lab import lab_secrets
from fleet.sim.process import SimulatorProcess
from fleet.transports.errors import TransportError
from fleet.transports.known_hosts import KnownHosts, fetch_host_key
from fleet.transports.ssh import SshClient, SshResult, SshTarget
from fleet.transports.ssh_read import StatusReader

TICKS = os.sysconf("SC_CLK_TCK")
COMMAND_SETS = {"sweep": list(CODEC_COMMANDS), "one": ["xStatus"]}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def address_free(address: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((address, port))
        except OSError:
            return False
    return True


def enrol(codecs: list[DeviceRecord], path: Path, workers: int) -> str:
    known = KnownHosts.load(path)
    started = time.perf_counter()

    def fetch(d: DeviceRecord) -> object:
        try:
            return fetch_host_key(d.mgmt_address, d.ssh_port or 22, 10.0)
        except TransportError as exc:
            return exc

    with ThreadPoolExecutor(workers) as pool:
        keys = list(pool.map(fetch, codecs))
    failed = Counter(k.kind.value for k in keys if isinstance(k, TransportError))
    for d, key in zip(codecs, keys, strict=True):
        if not isinstance(key, TransportError):
            known.enrol(d.mgmt_address, d.ssh_port or 22, key)  # type: ignore[arg-type]
    known.save()
    secs = time.perf_counter() - started
    return f"enrolled {len(known):,} host keys in {secs:.1f} s ({len(codecs) / secs:,.0f}/s); failed {dict(failed) or 'none'}"


def parse_failures(results: list[SshResult]) -> int:
    """Answers the sweep's codec reader cannot read (the single 'xStatus' holds every leaf it needs)."""
    bad = 0
    for r in results:
        if r.ok:
            try:
                if "xStatus" in r.outputs:
                    codec_status(parse_leaves(r.outputs["xStatus"]))
                else:
                    read_codec(r.outputs)
            except (ParseError, KeyError):
                bad += 1
    return bad


def main() -> int:  # noqa: PLR0915 - the benchmark's steps, in order
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--inventory", default="inventory")
    parser.add_argument(
        "--address-base", type=int, default=0, help="serve the inventory on 127.B.x.y instead"
    )
    parser.add_argument("--codecs", type=int, default=0, help="only the first N codecs (0: all)")
    parser.add_argument(
        "--readers", default="netmiko,asyncssh", help="in this order; the first is the baseline"
    )
    parser.add_argument("--workers", type=int, default=50, help="netmiko threads")
    parser.add_argument("--in-flight", type=int, default=200, help="asyncssh sessions at once")
    parser.add_argument("--time-limit", type=float, default=30.0)
    parser.add_argument("--commands", choices=sorted(COMMAND_SETS), default="sweep")
    parser.add_argument("--rounds", type=int, default=1, help="collector runs over the same codecs")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="fleet-ssh-bench-"))
    inventory_dir = Path(args.inventory)
    if args.address_base:
        inventory_dir = work / "inventory"
        write_inventory(
            inventory_dir,
            generate(seed=DEFAULT_SEED, address_base=args.address_base).sections(),
            SHIPPED_LAYOUT,
        )
    inventory = validate_paths([inventory_dir]).inventory
    codecs = [d for d in inventory.devices if d.driver == "cisco_ce"][: args.codecs or None]
    if not address_free(codecs[0].mgmt_address, codecs[0].ssh_port or 22):
        print(f"{codecs[0].mgmt_address}:{codecs[0].ssh_port} is taken: another simulator is running on these "
              "addresses; wait for it, or use --address-base", file=sys.stderr)  # fmt: skip
        return 2
    env = os.environ | lab_secrets(inventory.credentials)
    profiles = {p.name: p for p in inventory.credentials}

    def target(d: DeviceRecord) -> SshTarget:
        profile = profiles[d.credential_profile]
        ref: SecretRef | None = profile.ssh_password
        assert ref is not None  # noqa: S101 - codecs have SSH credentials
        return SshTarget(
            d.name, d.mgmt_address, d.ssh_port or 22, "cisco_tp", profile.ssh_user, env[ref.target]
        )

    commands = COMMAND_SETS[args.commands]
    started = time.perf_counter()
    sim = SimulatorProcess.start(inventory_dir, env, log=work / "sim.log")
    try:
        sim.wait_ready(180)
        print(f"simulator: {len(inventory.devices):,} devices ready in {time.perf_counter() - started:.1f} s")
        known_hosts = work / "known_hosts"
        print(enrol(codecs, known_hosts, args.workers))
        jobs = [(target(d), commands) for d in codecs]
        print(f"{len(jobs):,} codecs, time limit {args.time_limit:g} s, commands: {commands}")
        rates: dict[str, float] = {}
        runs = [(reader, n) for n in range(1, args.rounds + 1) for reader in args.readers.split(",")]
        for reader, round_ in runs:
            client: SshClient | StatusReader
            if reader == "netmiko":
                client = SshClient(known_hosts, workers=args.workers, time_limit=args.time_limit)
            else:
                client = StatusReader(known_hosts, in_flight=args.in_flight, time_limit=args.time_limit)
            sim_cpu0, cpu0, t0 = cpu_seconds(sim.process.pid), time.process_time(), time.perf_counter()
            results = asyncio.run(client.run_many(jobs))
            wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
            sim_cpu = cpu_seconds(sim.process.pid) - sim_cpu0
            client.close()
            errors = Counter(r.error.value for r in results if r.error is not None)
            latencies = sorted(r.elapsed for r in results if r.ok) or [0.0]
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            rates.setdefault(reader, len(results) / wall)
            print(
                f"{reader} round {round_}: {len(results):,} codecs in {wall:.1f} s = {len(results) / wall:.1f} codecs/s; "
                f"client CPU {cpu:.1f} s = {cpu / len(results) * 1000:.1f} ms/session; "
                f"simulator CPU {sim_cpu / len(results) * 1000:.1f} ms/session; peak RSS {peak:.0f} MB"
            )
            print(
                f"  session latency p50 {statistics.median(latencies):.3f} s, "
                f"p95 {latencies[int(len(latencies) * 0.95)]:.3f} s, max {latencies[-1]:.3f} s; "
                f"errors {dict(errors) or 'none'}; answers that do not parse: {parse_failures(results)}"
            )
            for r in [r for r in results if not r.ok][:5]:
                print(f"  e.g. {r.name}: {r.error}: {r.detail}")
        base = next(iter(rates.values()))
        for reader, rate in rates.items():
            print(f"{reader:>9}: {rate:.0f} sessions/s (first round), {rate / base:.2f}x the baseline")
    finally:
        sim.stop(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
