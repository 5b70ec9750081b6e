"""The service's own vocabulary: API roles and how a scheduled run ended."""

from __future__ import annotations

from enum import StrEnum


class ApiRole(StrEnum):
    """What a token may do; each role may do everything the roles before it may."""

    VIEWER = "viewer"  # read
    OPERATOR = "operator"  # sweeps, sessions, readiness runs, provisioning dry runs
    ADMIN = "admin"  # inventory writes, provisioning apply, tokens

    @property
    def rank(self) -> int:
        return list(ApiRole).index(self)

    def may(self, needed: ApiRole) -> bool:
        return self.rank >= needed.rank


class JobKind(StrEnum):
    SWEEP = "sweep"
    READINESS = "readiness"


class JobRunStatus(StrEnum):
    """How one firing of a scheduled job ended; anything but 'completed' says why in its note."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"  # the run started and raised
    SKIPPED = "skipped"  # not started: the previous run was still going, or nothing to do
    MISSED = "missed"  # the scheduler was down past the grace time; folded into the next run
    COALESCED = "coalesced"  # several due firings were run as one
    ABORTED = "aborted"  # the scheduler running it died
