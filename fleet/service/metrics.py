"""Prometheus metrics. Fleet's own figures are read from the database at each scrape, so every API
process reports the same numbers whichever process swept; request figures are this process's."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func
from sqlmodel import col, select

from fleet.domain.readiness import RunStatus, SessionStatus
from fleet.domain.sweep import SweepStatus
from fleet.store.db import Store
from fleet.store.models import DeviceState, JobRun, MeetingSession, ReadinessRun, SchedulerLease, Sweep
from fleet.store.types import utcnow

SESSION_WINDOW = timedelta(hours=6)  # sessions that started less than this ago still have a gauge


class FleetCollector(Collector):
    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        with self.store.session() as db:
            devices = GaugeMetricFamily(
                "fleet_devices", "Devices by their state after the latest sweep.", labels=["status"]
            )
            for state, count in db.exec(
                select(col(DeviceState.status), func.count()).group_by(col(DeviceState.status))
            ).all():
                devices.add_metric([str(state)], count)
            yield devices

            sweeps = CounterMetricFamily("fleet_sweeps", "Sweeps recorded.", labels=["status", "trigger"])
            for status, trigger, count in db.exec(
                select(col(Sweep.status), col(Sweep.trigger), func.count()).group_by(
                    col(Sweep.status), col(Sweep.trigger)
                )
            ).all():
                sweeps.add_metric([str(status), trigger], count)
            yield sweeps

            done = col(Sweep.status) == SweepStatus.COMPLETED
            count, total = db.exec(
                select(func.count(), func.coalesce(func.sum(col(Sweep.duration_s)), 0.0)).where(done)
            ).one()
            yield SummaryMetricFamily(
                "fleet_sweep_duration_seconds",
                "Wall time of completed sweeps.",
                count_value=count,
                sum_value=total,
            )
            last = db.exec(select(Sweep).where(done).order_by(col(Sweep.id).desc()).limit(1)).first()
            if last is not None and last.finished_at is not None:
                yield GaugeMetricFamily(
                    "fleet_last_sweep_duration_seconds",
                    "Wall time of the latest completed sweep.",
                    value=last.duration_s or 0.0,
                )
                yield GaugeMetricFamily(
                    "fleet_last_sweep_finished_timestamp_seconds",
                    "When the latest completed sweep ended (Unix time).",
                    value=last.finished_at.timestamp(),
                )

            readiness = GaugeMetricFamily(
                "fleet_readiness_sites",
                "Sites by verdict in the latest completed readiness run of each current session.",
                labels=["session", "verdict"],
            )
            since = utcnow() - SESSION_WINDOW
            meetings = db.exec(
                select(MeetingSession)
                .where(col(MeetingSession.status) == SessionStatus.SCHEDULED)
                .where(col(MeetingSession.starts_at) >= since)
            ).all()
            for meeting in meetings:
                run = db.exec(
                    select(ReadinessRun)
                    .where(col(ReadinessRun.session_id) == meeting.id)
                    .where(col(ReadinessRun.status) == RunStatus.COMPLETED)
                    .order_by(col(ReadinessRun.id).desc())
                    .limit(1)
                ).first()
                for verdict, sites in (run.counts if run is not None else {}).items():
                    readiness.add_metric([str(meeting.id), verdict], sites)
            yield readiness

            firings = CounterMetricFamily(
                "fleet_scheduled_firings", "Scheduled firings by how they ended.", labels=["kind", "status"]
            )
            for kind, firing, count in db.exec(
                select(col(JobRun.kind), col(JobRun.status), func.count()).group_by(
                    col(JobRun.kind), col(JobRun.status)
                )
            ).all():
                firings.add_metric([str(kind), str(firing)], count)
            yield firings

            lease = db.get(SchedulerLease, "scheduler")
            if lease is not None:
                yield GaugeMetricFamily(
                    "fleet_scheduler_lease_expires_timestamp_seconds",
                    "When the scheduler's lease runs out unless renewed (Unix time); past: no scheduler.",
                    value=lease.expires_at.timestamp(),
                )


class Metrics:
    """One registry per app: fleet's collector and this process's request figures."""

    def __init__(self, store: Store) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(FleetCollector(store))
        self.requests = Counter(
            "fleet_http_requests",
            "API requests answered.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "fleet_http_request_duration_seconds",
            "Time to answer an API request.",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
        )
