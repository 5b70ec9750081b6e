"""Pre-meeting readiness: sessions, the verdict per site, and the outcome of each check."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from fleet.domain.enums import Role
from fleet.domain.health import Party


class SessionStatus(StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class RunStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    ABORTED = "aborted"  # interrupted, or found dead by a later run
    FAILED = "failed"  # fleet could not finish or record it


class Verdict(StrEnum):
    READY = "ready"
    DEGRADED = "degraded"  # a warning failed: the site can join, with a known problem
    NOT_READY = "not_ready"  # a blocker failed
    UNKNOWN = "unknown"  # a blocker could not be checked

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").upper()


# Worst first.
VERDICT_ORDER = (Verdict.NOT_READY, Verdict.UNKNOWN, Verdict.DEGRADED, Verdict.READY)


class Severity(StrEnum):
    BLOCKER = "blocker"  # failing it means NOT READY
    WARNING = "warning"  # failing it means DEGRADED


class Outcome(StrEnum):
    PASS = "pass"  # noqa: S105 - an outcome, not a password
    FAIL = "fail"
    UNKNOWN = "unknown"  # the fact was not available
    SKIPPED = "skipped"  # not judged on its own: a blocker it requires failed (root cause)


@dataclass(slots=True)
class CheckResult:
    check: str
    title: str
    device: str
    role: Role
    outcome: Outcome
    severity: Severity
    reason: str = ""
    party: Party | None = None
    remedy: str = ""
    cause: str | None = None  # SKIPPED: the check whose failure explains this one
    first_seen: datetime | None = None

    @property
    def counts(self) -> bool:
        """Whether it weighs on the verdict (failed or unknown, not explained away)."""
        return self.outcome in (Outcome.FAIL, Outcome.UNKNOWN)


@dataclass(slots=True)
class SiteVerdict:
    site: str
    verdict: Verdict
    results: list[CheckResult] = field(default_factory=list)
    source: str = "polled"  # polled | reused: fresh sweep data was recent enough
    rechecked: bool = False
    checked_at: datetime | None = None

    @property
    def problems(self) -> list[CheckResult]:
        return [r for r in self.results if r.counts]

    @property
    def deciding(self) -> list[CheckResult]:
        """The problems that make the verdict what it is (blockers for NOT READY, and so on)."""
        problems = self.problems
        if self.verdict is Verdict.NOT_READY:
            return [r for r in problems if r.severity is Severity.BLOCKER and r.outcome is Outcome.FAIL]
        if self.verdict is Verdict.UNKNOWN:
            return [r for r in problems if r.severity is Severity.BLOCKER]
        return problems

    @property
    def reason(self) -> str:
        """'Title, Title: reason; …': checks that failed for the same reason are named together."""
        titles: dict[str, list[str]] = {}
        for r in self.deciding:
            names = titles.setdefault(r.reason, [])
            if r.title not in names:
                names.append(r.title)
        return "; ".join(f"{', '.join(names)}: {reason}" for reason, names in titles.items())

    @property
    def parties(self) -> list[Party]:
        return list(dict.fromkeys(r.party for r in self.deciding if r.party is not None))


def verdict_of(results: list[CheckResult]) -> Verdict:
    counted = [r for r in results if r.counts]
    if any(r.severity is Severity.BLOCKER and r.outcome is Outcome.FAIL for r in counted):
        return Verdict.NOT_READY
    if any(r.severity is Severity.BLOCKER for r in counted):
        return Verdict.UNKNOWN
    if counted:
        return Verdict.DEGRADED
    return Verdict.READY
