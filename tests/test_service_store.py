"""The service's records on both backends: the lease, firings recorded once, tokens kept hashed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fleet.domain.service import ApiRole, JobKind, JobRunStatus
from fleet.service import scheduler as module
from fleet.service.scheduler import EPOCH, slot_of
from fleet.settings import Settings
from fleet.store import service as repo
from fleet.store.db import Store
from fleet.store.types import utcnow

TTL = timedelta(seconds=30)


def test_one_holder_at_a_time_and_a_takeover_after_expiry(store: Store) -> None:
    now = utcnow()
    with store.session() as s:
        assert repo.acquire_lease(s, "a", TTL, now) == 1
        assert repo.acquire_lease(s, "b", TTL, now + timedelta(seconds=10)) is None
        assert repo.acquire_lease(s, "a", TTL, now + timedelta(seconds=10)) == 1  # a renewal
        # a stopped renewing at +10 s: its lease ends at +40 s, and b takes it after that.
        assert repo.acquire_lease(s, "b", TTL, now + timedelta(seconds=39)) is None
        assert repo.acquire_lease(s, "b", TTL, now + timedelta(seconds=41)) == 2
        assert repo.acquire_lease(s, "a", TTL, now + timedelta(seconds=42)) is None  # a lost it
        lease = repo.current_lease(s)
        assert lease is not None and lease.holder == "b" and lease.generation == 2
        repo.release_lease(s, "a")  # not a's to give up: nothing changes
        assert repo.current_lease(s).holder == "b"  # type: ignore[union-attr]
        repo.release_lease(s, "b")
        assert repo.acquire_lease(s, "a", TTL) == 3  # at once, without waiting for the expiry


def test_a_firing_is_claimed_once_and_orphans_are_aborted(store: Store) -> None:
    at = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    with store.session() as s:
        first = repo.claim_firing(s, "sweep", JobKind.SWEEP, at, "a")
        assert first is not None and first.status is JobRunStatus.RUNNING
        assert repo.claim_firing(s, "sweep", JobKind.SWEEP, at, "b") is None
        assert not repo.note_firing(s, "sweep", JobKind.SWEEP, at, JobRunStatus.MISSED, "late", "b")
        assert repo.abort_orphans(s, "b") == 1
        (row,) = repo.firings(s, job_id="sweep")
        assert row.status is JobRunStatus.ABORTED and row.note == "the scheduler running it died"


def test_tokens_are_checked_by_hash_and_stop_when_revoked_or_expired(store: Store) -> None:
    with store.session() as s:
        live = repo.create_token(s, "noc", ApiRole.OPERATOR, "tester")
        old = repo.create_token(s, "old", ApiRole.ADMIN, "tester", expires_at=utcnow() - timedelta(seconds=1))
        assert live.row.sha256 == repo.token_digest(live.token) and live.token not in live.row.sha256
        found = repo.authenticate(s, live.token)
        assert found is not None and found.role is ApiRole.OPERATOR
        assert repo.authenticate(s, old.token) is None
        assert repo.authenticate(s, live.token + "x") is None
        assert repo.authenticate(s, "not-a-token") is None
        repo.revoke_token(s, live.row.id or 0)
        assert repo.authenticate(s, live.token) is None
        with pytest.raises(repo.TokenInvalid, match="one line"):
            repo.create_token(s, "a\nb", ApiRole.VIEWER, "tester")


def test_sweep_slots_are_aligned_to_the_interval() -> None:
    assert slot_of(EPOCH + timedelta(seconds=299.9), 300) == EPOCH
    assert slot_of(EPOCH + timedelta(seconds=300), 300) == EPOCH + timedelta(seconds=300)
    assert ApiRole.ADMIN.may(ApiRole.OPERATOR) and not ApiRole.VIEWER.may(ApiRole.OPERATOR)


class _FakeScheduler:
    def __init__(self) -> None:
        self.stopped = False

    def shutdown(self, wait: bool = True) -> None:
        self.stopped = True


def test_a_leader_that_cannot_renew_stops_before_its_lease_could_pass_on(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store.open(Settings(database_url=sqlite_url))
    service = module.SchedulerService(store, Settings(database_url=sqlite_url, scheduler_lease=30))

    def unreachable(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("database unreachable")

    monkeypatch.setattr(module.repo, "acquire_lease", unreachable)
    fake = _FakeScheduler()
    service._aps = fake  # type: ignore[assignment]
    service._renewed = utcnow() - timedelta(seconds=11)  # one renewal (every 10 s) missed: keep going
    service._tick()
    assert service.leader and not fake.stopped
    service._renewed = utcnow() - timedelta(seconds=16)  # the next tick could come after the expiry
    service._tick()
    assert not service.leader and fake.stopped
    store.close()
