"""Enrol devices' SSH host keys: fetch each key (no login), record new ones, refuse changed ones.

Used by ``fleet ssh trust`` and by the demo; the known_hosts file is only ever written here and
by ``fleet ssh forget``. What ``trust`` and ``forget`` changed goes to the audit trail
(``trust_audit``, ``forget_audit``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from fleet.domain.provision import AuditAction, AuditEntry, AuditOutcome
from fleet.store.inventory import DeviceRow
from fleet.transports.errors import TransportError
from fleet.transports.known_hosts import Enrolment, HostKey, KnownHosts, fetch_host_key, host_name


@dataclass(slots=True)
class Outcome:
    device: DeviceRow
    enrolment: Enrolment | None = None
    key: HostKey | None = None
    recorded: list[HostKey] | None = None
    error: TransportError | None = None

    @property
    def host(self) -> str:
        return host_name(self.device.mgmt_address, self.device.ssh_port or 22)


def enrol_host_keys(
    devices: Sequence[DeviceRow],
    path: Path,
    *,
    workers: int,
    timeout: float,
    replace: bool = False,
    on_done: Callable[[], None] | None = None,
) -> list[Outcome]:
    """One outcome per device, in order; the file is saved (atomically) only when it changed."""
    known = KnownHosts.load(path)
    outcomes = [Outcome(d, recorded=known.lookup(d.mgmt_address, d.ssh_port or 22)) for d in devices]
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fleet-keyscan")
    try:
        futures = {
            pool.submit(
                fetch_host_key,
                o.device.mgmt_address,
                o.device.ssh_port or 22,
                timeout,
                [k.key_type for k in o.recorded or []],
            ): o
            for o in outcomes
        }
        for future in as_completed(futures):
            outcome = futures[future]
            try:
                outcome.key = future.result()
            except TransportError as exc:
                outcome.error = exc
            if on_done is not None:
                on_done()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    for o in outcomes:  # in inventory order, so the file's order does not depend on who answered first
        if o.key is not None:
            o.enrolment = known.enrol(o.device.mgmt_address, o.device.ssh_port or 22, o.key, replace=replace)
    if known.changed:
        known.save()
    return outcomes


def trust_audit(
    outcomes: Sequence[Outcome], path: Path, selection: str, *, replace: bool
) -> list[AuditEntry]:
    """One entry for the run (its counts; failed when a key was refused or a device not asked), and
    one per device whose key was replaced, with the fingerprints it had and has now."""
    counts = Counter(o.enrolment.value if o.enrolment else "failed" for o in outcomes)
    refused, failed = counts[Enrolment.CHANGED.value], counts["failed"]
    summary = (
        f"ssh trust{' --replace' if replace else ''} of {len(outcomes)} device(s) ({selection}) "
        f"into {path}: new {counts[Enrolment.NEW.value]}, known {counts[Enrolment.KNOWN.value]}, "
        f"changed (refused) {refused}, replaced {counts[Enrolment.REPLACED.value]}, failed {failed}"
    )
    entries = [
        AuditEntry(
            AuditAction.HOST_KEY,
            AuditOutcome.FAILED if refused or failed else AuditOutcome.OK,
            detail=summary,
        )
    ]
    for o in outcomes:
        if o.enrolment is Enrolment.REPLACED and o.key is not None:
            old = ", ".join(k.fingerprint for k in o.recorded or []) or "none"
            detail = f"host key of {o.host} replaced: was {old}, now {o.key.fingerprint} ({o.key.key_type})"
            entries.append(AuditEntry(AuditAction.HOST_KEY, AuditOutcome.OK, o.device.device, detail))
    return entries


def forget_audit(
    device: str, host: str, keys: Sequence[HostKey], removed: int, path: Path
) -> list[AuditEntry]:
    """One entry per key forgotten (a line fleet could not read as a key is counted in the last one)."""
    entries = [
        AuditEntry(
            AuditAction.HOST_KEY,
            AuditOutcome.OK,
            device,
            f"host key of {host} forgotten from {path}: {key.fingerprint} ({key.key_type})",
        )
        for key in keys
    ]
    if removed > len(keys):
        unread = removed - len(keys)
        detail = f"{unread} line(s) for {host} forgotten from {path} (not readable as keys)"
        entries.append(AuditEntry(AuditAction.HOST_KEY, AuditOutcome.OK, device, detail))
    return entries
