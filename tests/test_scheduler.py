"""The scheduler in real processes: one leader per database, each sweep slot run once, takeover when
the leader dies, readiness at its offsets before a session (moved and cancelled sessions follow).

The inventory's devices (127.221-223.x.y) have no simulator behind them: sweeps and readiness runs
find them unreachable, quickly, which is all these tests need of them.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from fleet.service.scheduler import EPOCH
from tests.service_helpers import Process, fleet, fleet_env, start_server, token, wait_for
from tests.simulator import build_test_inventory

INTERVAL = 2.0
LEASE = 3.0


def _lab(db_url: str, tmp_path: Path, **settings: str) -> dict[str, str]:
    build_test_inventory(tmp_path / "inventory", 2, address_base=221)
    env = fleet_env(db_url, tmp_path, settings)
    imported = fleet(env, "inventory", "import", str(tmp_path / "inventory"))
    assert imported.returncode == 0, imported.stderr
    return env


def _rows(db_url: str, sql: str) -> list[Any]:
    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql)).all())
    finally:
        engine.dispose()


def _utc(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def test_two_schedulers_run_each_sweep_once_and_the_standby_takes_over(db_url: str, tmp_path: Path) -> None:
    env = _lab(
        db_url,
        tmp_path,
        FLEET_SWEEP_INTERVAL=str(INTERVAL),
        FLEET_SCHEDULER_LEASE=str(LEASE),
        FLEET_SCHEDULER_SYNC_INTERVAL="1",
    )
    first = Process(["scheduler"], env, tmp_path / "a.log").start()
    second = Process(["scheduler"], env, tmp_path / "b.log").start()
    try:
        holder = wait_for(
            "a scheduler to take the lease", lambda: _rows(db_url, "select holder from scheduler_lease"), 30
        )
        leader_pid = int(holder[0][0].split(":")[1])
        leader, standby = (first, second) if leader_pid == first.pid else (second, first)
        assert leader.pid == leader_pid

        def completed() -> int:
            return len(
                _rows(db_url, "select id from job_run where job_id = 'sweep' and status = 'completed'")
            )

        wait_for("three scheduled sweeps", lambda: completed() >= 3, 40)
        leader.kill()
        killed_at = datetime.now(UTC)
        taken = wait_for(
            "the standby to take the lease",
            lambda: _rows(
                db_url,
                f"select holder, acquired_at from scheduler_lease where holder like '%:{standby.pid}:%'",  # noqa: S608 - a pid
            ),
            LEASE * 3,
        )
        takeover = (_utc(taken[0][1]) - killed_at).total_seconds()
        before = completed()
        wait_for("two sweeps by the new leader", lambda: completed() >= before + 2, 30)
        assert standby.stop() == 0  # a clean stop gives the lease up
        lease = _rows(db_url, "select expires_at from scheduler_lease")
        assert _utc(lease[0][0]) <= datetime.now(UTC)
    finally:
        first.kill()
        second.kill()

    print(f"takeover {takeover:.2f} s after the kill; lease {LEASE:g} s")
    # The standby took over within the lease (plus one standby poll, a sixth of it).
    assert 0 < takeover <= LEASE + LEASE / 6 + 1.0, takeover
    firings = _rows(
        db_url, "select scheduled_for, status, holder, sweep_id, note from job_run where job_id = 'sweep'"
    )
    slots = sorted(_utc(f[0]) for f in firings)
    # Each slot once: no slot recorded twice, none missing between the first and the last.
    assert len(slots) == len(set(slots))
    expected = [slots[0] + timedelta(seconds=INTERVAL * i) for i in range(len(slots))]
    assert slots == expected, "a slot between the first and the last firing has no record"
    assert all((s - EPOCH).total_seconds() % INTERVAL == 0 for s in slots)
    # Every sweep the scheduler started belongs to exactly one firing.
    sweeps = [r[0] for r in _rows(db_url, "select id from sweep where trigger = 'scheduler'")]
    linked = [f[3] for f in firings if f[3] is not None]
    assert sorted(sweeps) == sorted(linked) and len(linked) == len(set(linked))
    holders = Counter(f[2].split(":")[1] for f in firings)
    assert set(holders) == {str(leader.pid), str(standby.pid)}
    # Whatever did not complete says why.
    for _at, status, _holder, _sweep, note in firings:
        assert status in {"completed", "skipped", "coalesced", "aborted"}, status
        if status != "completed":
            assert note, status
    assert "took the lease" in standby.output()


def test_scheduled_readiness_fires_at_its_offsets_and_its_report_is_served(
    sqlite_url: str, tmp_path: Path
) -> None:
    env = _lab(
        sqlite_url,
        tmp_path,
        FLEET_READINESS_OFFSETS="[0.3, 0.15]",  # 18 s and 9 s before the start
        FLEET_SWEEP_INTERVAL="3600",
        FLEET_SCHEDULER_SYNC_INTERVAL="1",
        FLEET_READINESS_DEADLINE="20",
    )
    operator = token(env, "planner", "operator")
    server = start_server(env, tmp_path / "serve.log")
    client = server.client(operator)
    try:
        wait_for(
            "the embedded scheduler to lead",
            lambda: client.get("/api/v1/scheduler").json()["this_process"] == "leader",
            15,
        )
        start = (datetime.now(UTC) + timedelta(seconds=24)).replace(microsecond=0)
        made = client.post("/api/v1/sessions", json={"title": "Phiên họp thử", "start": start.isoformat(),
                                                     "dial_string": "8000@bridge.gov.vn", "participants": {"all": True}})  # fmt: skip
        assert made.status_code == 201, made.text
        session = made.json()
        assert [_utc(t) for t in session["readiness_at"]] == [
            start - timedelta(seconds=18),
            start - timedelta(seconds=9),
        ]

        # A second session, moved and then cancelled: its jobs follow.
        later = client.post("/api/v1/sessions", json={"title": "Sẽ dời", "start": (start + timedelta(hours=1)).isoformat(),
                                                      "dial_string": "8000@bridge.gov.vn", "participants": {"all": True}})  # fmt: skip
        other = later.json()["id"]

        def job(offset: str) -> Any:
            jobs = {j["id"]: j for j in client.get("/api/v1/scheduler").json()["jobs"]}
            return jobs.get(f"readiness-{other}-{offset}")

        first_at = start + timedelta(hours=1) - timedelta(seconds=18)
        wait_for(
            "the readiness jobs of the second session",
            lambda: job("0.3") and _utc(job("0.3")["next_run_at"]) == first_at,
            10,
        )
        moved = client.patch(
            f"/api/v1/sessions/{other}", json={"start": (start + timedelta(hours=2)).isoformat()}
        )
        assert moved.status_code == 200, moved.text
        wait_for(
            "the job to move with the session",
            lambda: _utc(job("0.3")["next_run_at"]) == first_at + timedelta(hours=1),
            10,
        )
        assert (
            client.post(f"/api/v1/sessions/{other}/cancel", json={"reason": "trùng lịch"}).status_code == 200
        )
        wait_for("the cancelled session's jobs to go", lambda: job("0.3") is None and job("0.15") is None, 10)

        def fired() -> list[dict[str, Any]]:
            rows = client.get("/api/v1/scheduler/firings", params={"session_id": session["id"]}).json()[
                "items"
            ]
            return rows if len([r for r in rows if r["status"] == "completed"]) == 2 else []

        firings = wait_for("both readiness firings to complete", fired, 60, every=0.5)
        assert sorted(_utc(f["scheduled_for"]) for f in firings) == [
            start - timedelta(seconds=18),
            start - timedelta(seconds=9),
        ]
        for f in firings:
            assert f["late_s"] < 3, f
        runs = client.get("/api/v1/readiness-runs", params={"session_id": session["id"]}).json()["items"]
        assert {r["trigger"] for r in runs} == {"scheduler"} and len(runs) == 2
        assert {f["readiness_run_id"] for f in firings} == {r["id"] for r in runs}
        html = client.get(runs[0]["reports"]["html"])
        assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
        assert "Phiên họp thử" in html.text
        report = client.get(runs[0]["reports"]["json"]).json()
        assert report["run"]["id"] == runs[0]["id"] and len(report["sites"]) == 2
        csv = client.get(runs[0]["reports"]["csv"])
        assert csv.status_code == 200 and csv.text.count("\n") >= 3
        assert httpx.get(server.url + runs[0]["reports"]["csv"]).status_code == 401
        status = fleet(env, "scheduler", "status", "--json")
        assert status.returncode == 0 and json.loads(status.stdout)["lease"]["alive"] is True
    finally:
        server.stop()


def test_a_session_created_after_its_offsets_gets_one_run_at_once(sqlite_url: str, tmp_path: Path) -> None:
    env = _lab(
        sqlite_url,
        tmp_path,
        FLEET_READINESS_OFFSETS="[60, 30, 10]",
        FLEET_SWEEP_INTERVAL="3600",
        FLEET_SCHEDULER_SYNC_INTERVAL="1",
        FLEET_READINESS_DEADLINE="20",
    )
    viewer = token(env, "wall", "viewer")
    server = start_server(env, tmp_path / "serve.log")
    try:
        start = (datetime.now(UTC) + timedelta(minutes=20)).replace(microsecond=0)
        made = fleet(env, "session", "create", "--title", "Khẩn", "--start", start.isoformat(),
                     "--dial", "8000@bridge.gov.vn", "--all", "--json")  # fmt: skip
        assert made.returncode == 0, made.stderr
        sid = json.loads(made.stdout)["id"]
        client = server.client(viewer)

        def firings() -> list[dict[str, Any]]:
            rows = client.get("/api/v1/scheduler/firings", params={"session_id": sid}).json()["items"]
            return rows if any(r["status"] == "completed" for r in rows) else []

        rows = {r["job_id"]: r for r in wait_for("the catch-up run", firings, 60, every=0.5)}
    finally:
        server.stop()
    # 60 and 30 min before had passed: 30 runs at once (the latest passed), 60 is recorded as coalesced
    # into it, 10 is still to come.
    assert rows[f"readiness-{sid}-30"]["status"] == "completed"
    assert (
        rows[f"readiness-{sid}-60"]["status"] == "coalesced"
        and "30 min" in rows[f"readiness-{sid}-60"]["note"]
    )
    assert f"readiness-{sid}-10" not in rows
