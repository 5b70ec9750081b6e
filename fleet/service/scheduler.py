"""The scheduler: health sweeps at an interval, readiness runs before every session.

Exactly one scheduler acts on a database at a time, however many processes start one: each
tries to take a lease row (``scheduler_lease``) and only the holder runs APScheduler. The holder
renews the lease every third of its length and stops scheduling if it cannot; a standby tries
every sixth and takes over once the lease has expired.

Every firing is recorded in ``job_run`` under a unique (job, scheduled time) key before it runs,
so a firing never runs twice, even across a takeover. Sweep slots are aligned to the interval
from a fixed epoch, so every process agrees which slot a firing belongs to, and a slot that
passed with no run (no scheduler alive, or the previous sweep still going) is recorded as
missed, coalesced or skipped with the reason: nothing is dropped silently.

Readiness jobs are derived from the sessions table: a sync job (every ``scheduler_sync_interval``)
adds a job per session and offset, moves it when the session moves and removes it when the
session is cancelled. An offset already past when the session is created (or while no scheduler
ran) runs once at once, for the latest such offset; the earlier ones are recorded as coalesced.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
    JobSubmissionEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from fleet.domain.readiness import SessionStatus
from fleet.domain.service import JobKind, JobRunStatus
from fleet.engine.readiness import NothingToCheck, run_readiness
from fleet.engine.runner import NothingToSweep, run_sweep
from fleet.engine.targets import Scope
from fleet.errors import FleetError
from fleet.service.options import readiness_options, sweep_options
from fleet.settings import Settings
from fleet.store import readiness as sessions_repo
from fleet.store import service as repo
from fleet.store import sweeps as sweeps_repo
from fleet.store.db import Store
from fleet.store.models import Sweep
from fleet.store.types import show_time, utcnow

log = logging.getLogger(__name__)

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)  # sweep slots are counted from here
SWEEP_JOB = "sweep"
SYNC_JOB = "sync-sessions"
MAX_GAP_ROWS = 288  # missed slots recorded one by one; beyond that, one row says how many more


def slot_of(moment: datetime, interval: float) -> datetime:
    """The start of the sweep slot holding ``moment``."""
    elapsed = (moment - EPOCH).total_seconds()
    return EPOCH + timedelta(seconds=(elapsed // interval) * interval)


def readiness_job_id(session_id: int, offset: float) -> str:
    return f"readiness-{session_id}-{offset:g}"


def default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


# APScheduler keeps jobs in the database by a textual reference to a module-level function, so the
# jobs call these, which hand over to the scheduler that is running in this process.
class _Active:
    service: SchedulerService | None = None


def scheduled_sweep() -> None:
    if _Active.service is not None:
        _Active.service.run_sweep_firing()


def scheduled_readiness(session_id: int, offset: float) -> None:
    if _Active.service is not None:
        _Active.service.run_readiness_firing(session_id, offset)


class SchedulerService:
    """Compete for the lease; while holding it, run APScheduler with fleet's jobs."""

    def __init__(self, store: Store, settings: Settings, holder: str | None = None) -> None:
        self.store, self.settings = store, settings
        self.holder = holder or default_holder()
        self.lease = timedelta(seconds=settings.scheduler_lease)
        self.interval = settings.sweep_interval
        self._aps: BackgroundScheduler | None = None
        self._renewed: datetime | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # --- life cycle ---------------------------------------------------------------------------------

    @property
    def leader(self) -> bool:
        return self._aps is not None

    def start(self) -> None:
        """Run in a background thread (``fleet serve`` embeds the scheduler this way)."""
        self._thread = threading.Thread(target=self.run, name="fleet-scheduler", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """Ask ``run`` to give up the lease and return (safe from a signal handler)."""
        self._stop.set()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self) -> None:
        """Until stopped: hold or wait for the lease, and schedule while holding it."""
        renew_every = self.lease.total_seconds() / 3
        standby_every = self.lease.total_seconds() / 6
        log.info("scheduler %s: waiting for the lease (%g s)", self.holder, self.lease.total_seconds())
        try:
            while not self._stop.is_set():
                self._tick()
                self._stop.wait(renew_every if self.leader else standby_every)
        finally:
            self._demote("stopped")
            try:
                with self.store.session() as session:
                    repo.release_lease(session, self.holder)
            except Exception:  # the lease expires by itself
                log.warning("could not release the scheduler lease; it expires in %s", self.lease)

    def _tick(self) -> None:
        now = utcnow()
        try:
            with self.store.session() as session:
                generation = repo.acquire_lease(session, self.holder, self.lease, now)
        except Exception as exc:
            log.warning("scheduler %s: cannot reach the lease: %s", self.holder, exc)
            # Without a renewal we must stop before the lease can pass to someone else: ticks come
            # every third of the lease, so half of it means the next tick could already be too late.
            if self.leader and self._renewed and utcnow() - self._renewed > self.lease / 2:
                self._demote("the lease could not be renewed in time")
            return
        if generation is None:
            if self.leader:
                self._demote("another scheduler holds the lease")
            return
        self._renewed = now
        if not self.leader:
            self._promote(generation)

    def _promote(self, generation: int) -> None:
        with self._lock:
            with self.store.session() as session:
                orphans = repo.abort_orphans(session, self.holder)
            log.warning(
                "scheduler %s took the lease (generation %d)%s",
                self.holder,
                generation,
                f"; {orphans} firing(s) of the previous holder marked aborted" if orphans else "",
            )
            aps = BackgroundScheduler(
                jobstores={
                    "default": SQLAlchemyJobStore(engine=self.store.engine, tablename="scheduler_job"),
                    "local": MemoryJobStore(),
                },
                executors={"default": ThreadPoolExecutor(4)},
                # Coalesce missed firings into one; never two of a job at once; run late rather
                # than never (the firing records how late it was).
                job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
                timezone=UTC,
            )
            aps.add_listener(self._on_event, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED | EVENT_JOB_ERROR)
            _Active.service = self
            aps.start()
            self._aps = aps
            self._ensure_sweep_job(aps)
            aps.add_job(
                self.sync,
                IntervalTrigger(seconds=self.settings.scheduler_sync_interval, timezone=UTC),
                id=SYNC_JOB,
                jobstore="local",
                next_run_time=utcnow(),
            )

    def _demote(self, why: str) -> None:
        with self._lock:
            aps, self._aps = self._aps, None
            if aps is None:
                return
            if _Active.service is self:
                _Active.service = None
            log.warning("scheduler %s stops scheduling: %s", self.holder, why)
            aps.shutdown(wait=False)

    def _ensure_sweep_job(self, aps: BackgroundScheduler) -> None:
        wanted = timedelta(seconds=self.interval)
        job = aps.get_job(SWEEP_JOB)
        trigger = getattr(job, "trigger", None)
        if isinstance(trigger, IntervalTrigger) and trigger.interval == wanted:
            return  # keep its next run time: a takeover does not move the schedule
        aps.add_job(
            scheduled_sweep,
            IntervalTrigger(seconds=self.interval, start_date=EPOCH, timezone=UTC),
            id=SWEEP_JOB,
            name="health sweep",
            replace_existing=True,
        )

    def sync_soon(self) -> None:
        """Read the sessions table now (a session was just created, moved or cancelled here)."""
        aps = self._aps
        if aps is not None:
            with contextlib.suppress(JobLookupError):
                aps.modify_job(SYNC_JOB, jobstore="local", next_run_time=utcnow())

    # --- events -------------------------------------------------------------------------------------

    def _on_event(self, event: Any) -> None:
        if isinstance(event, JobSubmissionEvent) and event.code == EVENT_JOB_MAX_INSTANCES:
            for moment in event.scheduled_run_times:
                self._note_not_run(
                    event.job_id, moment, JobRunStatus.SKIPPED, "the previous run was still going"
                )
        elif isinstance(event, JobExecutionEvent) and event.code == EVENT_JOB_MISSED:
            self._note_not_run(
                event.job_id,
                event.scheduled_run_time,
                JobRunStatus.MISSED,
                "missed its time (scheduler busy)",
            )
        elif isinstance(event, JobExecutionEvent) and event.code == EVENT_JOB_ERROR:
            log.error("scheduled job %s raised: %r", event.job_id, event.exception)

    def _shown(self, moment: datetime) -> str:
        """A time for the log and the firing notes: in the NOC's zone, with its offset."""
        return show_time(moment, self.settings.timezone, seconds=True)

    def _note_not_run(self, job_id: str, moment: datetime, status: JobRunStatus, note: str) -> None:
        if job_id == SYNC_JOB:
            return
        kind = JobKind.SWEEP if job_id == SWEEP_JOB else JobKind.READINESS
        scheduled_for = slot_of(moment, self.interval) if kind is JobKind.SWEEP else moment
        log.warning("%s firing of %s: %s", job_id, self._shown(scheduled_for), note)
        try:
            with self.store.session() as session:
                repo.note_firing(session, job_id, kind, scheduled_for, status, note, self.holder)
        except Exception:
            log.exception("could not record the %s firing of %s", status.value, job_id)

    # --- the sweep ----------------------------------------------------------------------------------

    def _fill_gap(self, current: datetime) -> None:
        """Record the slots between the last recorded firing and this one that never ran."""
        step = timedelta(seconds=self.interval)
        with self.store.session() as session:
            last = repo.last_firing(session, SWEEP_JOB)
            if last is None or last.scheduled_for >= current - step:
                return
            missing: list[datetime] = []
            moment = last.scheduled_for + step
            while moment < current and len(missing) <= MAX_GAP_ROWS:
                missing.append(moment)
                moment += step
            more = int((current - moment).total_seconds() // self.interval)
            for index, moment in enumerate(missing):
                note = (
                    "no sweep ran in this slot (no scheduler was running); "
                    f"folded into {self._shown(current)}"
                )
                if index == len(missing) - 1 and more > 0:
                    note += f"; {more} later slot(s) before it were missed too"
                repo.note_firing(
                    session, SWEEP_JOB, JobKind.SWEEP, moment, JobRunStatus.COALESCED, note, self.holder
                )
        log.warning("%d sweep slot(s) before %s had no run", len(missing) + more, self._shown(current))

    def run_sweep_firing(self) -> None:
        if not self.leader:
            return
        now = utcnow()
        slot = slot_of(now, self.interval)
        try:
            self._fill_gap(slot)
            with self.store.session() as session:
                claim = repo.claim_firing(session, SWEEP_JOB, JobKind.SWEEP, slot, self.holder, now=now)
        except Exception:
            log.exception("could not record the sweep firing of %s", self._shown(slot))
            return
        if claim is None:
            log.info("the sweep of %s has already run", self._shown(slot))
            return
        if claim.late_s > self.settings.scheduler_late_after:
            log.warning("the sweep of %s started %.0f s late", self._shown(slot), claim.late_s)
        running = self._running_sweep()
        if running is not None:
            started = self._shown(running.started_at)
            note = f"sweep {running.id} ({running.trigger}, started {started}) was still running"
            self._finish(claim.id or 0, JobRunStatus.SKIPPED, note)
            return
        sweep_ids: list[int] = []
        try:
            done = run_sweep(
                self.store,
                Scope(),
                sweep_options(self.settings),
                retention=self.settings.sample_retention,
                trigger="scheduler",
                on_begin=sweep_ids.append,
            )
        except NothingToSweep as exc:
            self._finish(claim.id or 0, JobRunStatus.SKIPPED, str(exc))
        except Exception as exc:
            log.exception("the scheduled sweep of %s failed", self._shown(slot))
            self._finish(claim.id or 0, JobRunStatus.FAILED, f"{type(exc).__name__}: {exc}", sweep_ids)
        else:
            counts = ", ".join(f"{v} {k}" for k, v in sorted(done.sweep.counts.items()))
            note = f"{done.sweep.devices} devices in {done.sweep.duration_s or 0:.1f} s: {counts}"
            self._finish(claim.id or 0, JobRunStatus.COMPLETED, note, sweep_ids)

    def _running_sweep(self) -> Sweep | None:
        with self.store.session() as session:
            sweeps_repo.reap_dead_sweeps(session)
            return sweeps_repo.running_sweep(session)

    def _finish(
        self,
        claim_id: int,
        status: JobRunStatus,
        note: str,
        sweep_ids: list[int] | None = None,
        readiness_run_id: int | None = None,
    ) -> None:
        if status is not JobRunStatus.COMPLETED:
            log.warning("scheduled firing %d: %s: %s", claim_id, status.value, note)
        try:
            with self.store.session() as session:
                repo.finish_firing(
                    session,
                    claim_id,
                    status,
                    note=note,
                    sweep_id=sweep_ids[0] if sweep_ids else None,
                    readiness_run_id=readiness_run_id,
                )
        except Exception:
            log.exception("could not record how firing %d ended", claim_id)

    # --- readiness --------------------------------------------------------------------------------------

    def sync(self) -> None:
        """Bring the readiness jobs in line with the sessions table."""
        aps = self._aps
        if aps is None:
            return
        now = utcnow()
        offsets = self.settings.readiness_offsets
        wanted: dict[str, tuple[int, float, datetime]] = {}
        with self.store.session() as session:
            upcoming = sessions_repo.list_sessions(session, since=now, limit=100_000)
            for meeting in upcoming:
                sid = meeting.id or 0
                fires = [(o, meeting.starts_at - timedelta(minutes=o)) for o in offsets]
                past = sorted((f, o) for o, f in fires if f <= now)
                for o, f in fires:
                    if f > now:
                        wanted[readiness_job_id(sid, o)] = (sid, o, f)
                if not past:
                    continue
                latest_at, latest = past[-1]
                if not repo.firing_recorded(session, readiness_job_id(sid, latest), latest_at):
                    wanted[readiness_job_id(sid, latest)] = (sid, latest, latest_at)  # runs at once
                for at, o in past[:-1]:
                    if repo.firing_recorded(session, readiness_job_id(sid, o), at):
                        continue  # read first: a failed insert at every sync would be noise in the server log
                    repo.note_firing(
                        session,
                        readiness_job_id(sid, o),
                        JobKind.READINESS,
                        at,
                        JobRunStatus.COALESCED,
                        f"its time had passed when the scheduler saw the session; the run for "
                        f"{latest:g} min before the start covers it",
                        self.holder,
                        session_id=sid,
                    )
        existing = {
            job.id: job for job in aps.get_jobs(jobstore="default") if job.id.startswith("readiness-")
        }
        for job_id in existing.keys() - wanted.keys():
            try:
                aps.remove_job(job_id, jobstore="default")
                log.info("readiness job %s removed (session cancelled, moved or started)", job_id)
            except JobLookupError:
                pass
        for job_id, (sid, offset, at) in wanted.items():
            job = existing.get(job_id)
            if job is not None and getattr(job.trigger, "run_date", None) == at:
                continue
            aps.add_job(
                scheduled_readiness,
                DateTrigger(run_date=at, timezone=UTC),
                id=job_id,
                name=f"readiness of session {sid}, {offset:g} min before",
                kwargs={"session_id": sid, "offset": offset},
                replace_existing=True,
            )
            log.info("readiness job %s set for %s", job_id, self._shown(at))

    def run_readiness_firing(self, session_id: int, offset: float) -> None:
        if not self.leader:
            return
        job_id = readiness_job_id(session_id, offset)
        try:
            with self.store.session() as session:
                meeting = sessions_repo.get_session(session, session_id)
                at = meeting.starts_at - timedelta(minutes=offset)
                now = utcnow()
                if meeting.status is SessionStatus.CANCELLED:
                    repo.note_firing(
                        session, job_id, JobKind.READINESS, at, JobRunStatus.SKIPPED,
                        f"the session was cancelled: {meeting.note}", self.holder, session_id=session_id,
                    )  # fmt: skip
                    return
                if at > now + timedelta(seconds=1):
                    log.info("session %d moved: %s now fires at %s", session_id, job_id, self._shown(at))
                    self.sync_soon()
                    return
                claim = repo.claim_firing(
                    session, job_id, JobKind.READINESS, at, self.holder, session_id=session_id, now=now
                )
        except FleetError as exc:
            log.warning("readiness firing %s: %s", job_id, exc)
            return
        except Exception:
            log.exception("could not record the readiness firing %s", job_id)
            return
        if claim is None:
            log.info("readiness firing %s of %s has already run", job_id, self._shown(at))
            return
        if claim.late_s > self.settings.scheduler_late_after:
            log.warning("readiness firing %s started %.0f s late", job_id, claim.late_s)
        run_ids: list[int] = []
        try:
            done = run_readiness(
                self.store,
                session_id,
                readiness_options(self.settings),
                trigger="scheduler",
                on_begin=run_ids.append,
            )
        except (NothingToCheck, sessions_repo.SessionStateError) as exc:
            self._finish(claim.id or 0, JobRunStatus.SKIPPED, str(exc))
        except Exception as exc:
            log.exception("scheduled readiness %s failed", job_id)
            rid = run_ids[0] if run_ids else None
            self._finish(
                claim.id or 0, JobRunStatus.FAILED, f"{type(exc).__name__}: {exc}", readiness_run_id=rid
            )
        else:
            counts = ", ".join(f"{v} {k}" for k, v in sorted(done.run.counts.items()))
            self._finish(
                claim.id or 0,
                JobRunStatus.COMPLETED,
                f"{done.run.sites} sites: {counts}; report {done.run.report_dir}",
                readiness_run_id=done.run.id,
            )
