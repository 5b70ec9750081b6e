"""The REST API, through a real ``fleet serve`` process against a simulator of 3 sites (127.211-213).

Every route is checked three ways: no token (401), each role below the one it needs (403), and
the role it needs (success). The table of routes must cover the OpenAPI schema, so a new route
without a row fails here. A schemathesis run over the schema finds no server error and no answer
that breaks the schema.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.service_helpers import Server, fleet, fleet_env, start_server, token, wait_for
from tests.simulator import SimHandle, start_simulator

ROLES = ["viewer", "operator", "admin"]
SITES = 3


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    work = tmp_path_factory.mktemp("api")
    sim: SimHandle = start_simulator(work / "sim", SITES, None, address_base=211)
    db = f"sqlite:///{work / 'api.db'}"
    env = fleet_env(db, work, sim.env | {"FLEET_ACTOR": "api-tester"})
    try:
        assert fleet(env, "inventory", "import", str(sim.inventory_dir)).returncode == 0
        trust = fleet(env, "ssh", "trust")
        assert trust.returncode == 0, trust.stderr
        tokens = {role: token(env, f"{role}-bot", role) for role in ROLES}
        spare = json.loads(fleet(env, "token", "create", "spare", "--role", "viewer", "--json").stdout)
        assert fleet(env, "sweep").returncode in (0, 1)
        start = (datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")) + timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
        made = fleet(env, "session", "create", "--title", "Họp trực tuyến", "--start", start,
                     "--dial", "8000@bridge.gov.vn", "--all", "--json")  # fmt: skip
        assert made.returncode == 0, made.stderr
        session_id = json.loads(made.stdout)["id"]
        ready = fleet(env, "ready", str(session_id), "--deadline", "30", "--json")
        assert ready.returncode == 0, ready.stderr
        run_id = json.loads(ready.stdout)["run"]["id"]
        assert fleet(env, "provision", "baseline").returncode in (0, 1)
        server = start_server(env, work / "serve.log", "--no-scheduler")
        names = list(sim.devices)
        yield {
            "env": env,
            "db": work / "api.db",
            "server": server,
            "tokens": tokens,
            "ids": {
                "site": sim.devices[names[0]].site_code,
                "device": names[0],
                "session": session_id,
                "run": run_id,
                "sweep": 1,
                "prun": 1,
                "token": spare["id"],
            },
            "work": work,
        }
        server.stop()
    finally:
        sim.stop()


# method, path, JSON body, the role it needs, the status on success
ROUTES: list[tuple[str, str, dict[str, Any] | None, str, int]] = [
    ("GET", "/metrics", None, "viewer", 200),
    ("GET", "/api/v1/me", None, "viewer", 200),
    ("GET", "/api/v1/inventory", None, "viewer", 200),
    ("GET", "/api/v1/sites", None, "viewer", 200),
    ("GET", "/api/v1/sites/{site}", None, "viewer", 200),
    ("PATCH", "/api/v1/sites/{site}", {"contact_phone": "0900 000 111"}, "admin", 200),
    ("GET", "/api/v1/devices", None, "viewer", 200),
    ("GET", "/api/v1/devices/{device}", None, "viewer", 200),
    ("PATCH", "/api/v1/devices/{device}", {"expected_firmware": "17.9.5"}, "admin", 200),
    ("GET", "/api/v1/state", None, "viewer", 200),
    ("GET", "/api/v1/devices/{device}/state", None, "viewer", 200),
    ("GET", "/api/v1/devices/{device}/history", None, "viewer", 200),
    ("GET", "/api/v1/devices/{device}/config", None, "viewer", 200),
    ("GET", "/api/v1/devices/{device}/config/history", None, "viewer", 200),
    ("GET", "/api/v1/drift", None, "viewer", 200),
    ("POST", "/api/v1/sweeps", {"roles": ["router"]}, "operator", 202),
    ("GET", "/api/v1/sweeps", None, "viewer", 200),
    ("GET", "/api/v1/sweeps/{sweep}", None, "viewer", 200),
    ("GET", "/api/v1/sweeps/{sweep}/results", None, "viewer", 200),
    (
        "POST",
        "/api/v1/sessions",
        {
            "title": "Giao ban",
            "start": "2031-01-05 08:00",
            "dial_string": "8000@bridge.gov.vn",
            "participants": {"provinces": ["01"]},
        },
        "operator",
        201,
    ),
    ("GET", "/api/v1/sessions", None, "viewer", 200),
    ("GET", "/api/v1/sessions/{session}", None, "viewer", 200),
    ("PATCH", "/api/v1/sessions/{session}", {"start": "2031-01-06 08:30"}, "operator", 200),
    ("POST", "/api/v1/sessions/{session}/readiness", {"deadline": 30}, "operator", 202),
    ("POST", "/api/v1/sessions/{session}/cancel", {"reason": "hoãn"}, "operator", 200),
    ("GET", "/api/v1/readiness-runs", None, "viewer", 200),
    ("GET", "/api/v1/readiness-runs/{run}", None, "viewer", 200),
    ("GET", "/api/v1/readiness-runs/{run}/verdicts", None, "viewer", 200),
    ("GET", "/api/v1/readiness-runs/{run}/report.{fmt}", None, "viewer", 200),
    ("POST", "/api/v1/provision", {"playbook": "baseline"}, "operator", 202),
    ("POST", "/api/v1/provision", {"playbook": "baseline", "apply": True, "roles": ["codec"]}, "admin", 202),
    ("GET", "/api/v1/provision/runs", None, "viewer", 200),
    ("GET", "/api/v1/provision/runs/{prun}", None, "viewer", 200),
    ("GET", "/api/v1/provision/runs/{prun}/results", None, "viewer", 200),
    ("GET", "/api/v1/audit", None, "viewer", 200),
    ("GET", "/api/v1/tokens", None, "admin", 200),
    ("POST", "/api/v1/tokens", {"name": "wall display", "role": "viewer"}, "admin", 201),
    ("DELETE", "/api/v1/tokens/{token}", None, "admin", 200),
    ("GET", "/api/v1/scheduler", None, "viewer", 200),
    ("GET", "/api/v1/scheduler/firings", None, "viewer", 200),
]
UNAUTHENTICATED = {("GET", "/healthz")}  # liveness only: no data


def _settle(client: httpx.Client, answer: dict[str, Any], path: str) -> None:
    """Wait (bounded) for a run started by a request to end, so the next one finds nothing running."""
    if "/sweeps" in path:
        url = f"/api/v1/sweeps/{answer['id']}"
    elif "/readiness" in path:
        url = f"/api/v1/readiness-runs/{answer['id']}"
    else:
        url = f"/api/v1/provision/runs/{answer['id']}"
    wait_for(f"{url} to end", lambda: client.get(url).json()["status"] != "running", 90, every=0.3)


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def test_every_route_is_in_the_table(lab: dict[str, Any]) -> None:
    schema = httpx.get(lab["server"].url + "/openapi.json").json()
    served = {(m.upper(), _shape(p)) for p, ops in schema["paths"].items() for m in ops}
    listed = {(m, _shape(p)) for m, p, *_ in ROUTES} | UNAUTHENTICATED
    assert served - listed == set(), "routes without a row in ROUTES"
    assert listed - served == set(), "rows for routes that do not exist"


def test_every_route_checks_the_token_and_the_role(lab: dict[str, Any]) -> None:
    server: Server = lab["server"]
    ids, tokens = lab["ids"], lab["tokens"]
    anonymous = server.client()
    bad = server.client("fleet_not-a-real-token")
    for method, template, body, needed, ok in ROUTES:
        path = template.format(fmt="html", **ids)
        for client, why in ((anonymous, "no token"), (bad, "an unknown token")):
            answer = client.request(method, path, json=body)
            assert answer.status_code == 401, (method, path, why, answer.text)
            assert answer.json()["error"]["message"], (method, path)
            assert answer.headers["www-authenticate"] == "Bearer"
        for role in ROLES[: ROLES.index(needed)]:
            answer = server.client(tokens[role]).request(method, path, json=body)
            assert answer.status_code == 403, (method, path, role, answer.text)
            assert "role" in answer.json()["error"]["message"] and role in answer.json()["error"]["message"]
        client = server.client(tokens[needed])
        answer = client.request(method, path, json=body)
        assert answer.status_code == ok, (method, path, needed, answer.text)
        if ok == 202:
            _settle(client, answer.json(), path)


def test_a_write_is_audited_with_the_owner_and_the_request_id(lab: dict[str, Any]) -> None:
    server: Server = lab["server"]
    admin = server.client(lab["tokens"]["admin"], **{"X-Request-ID": "noc-change-4711"})
    site = lab["ids"]["site"]
    answer = admin.patch(f"/api/v1/sites/{site}", json={"contact_name": "Nguyễn Văn An"})
    assert answer.status_code == 200 and answer.json()["contact_name"] == "Nguyễn Văn An"
    assert answer.headers["x-request-id"] == "noc-change-4711"
    viewer = server.client(lab["tokens"]["viewer"])
    entries = viewer.get("/api/v1/audit", params={"request_id": "noc-change-4711"}).json()["items"]
    assert len(entries) == 1
    assert entries[0]["actor"] == "admin-bot" and entries[0]["action"] == "inventory"
    assert "Nguyễn Văn An" in entries[0]["detail"] and site in entries[0]["detail"]
    # The CLI sees the same entry.
    listed = fleet(lab["env"], "audit", "--json")
    assert "noc-change-4711" in listed.stdout


def test_errors_are_json_with_a_clear_message(lab: dict[str, Any]) -> None:
    viewer = lab["server"].client(lab["tokens"]["viewer"])
    operator = lab["server"].client(lab["tokens"]["operator"])
    missing = viewer.get("/api/v1/devices/no-such-device")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "no device named 'no-such-device'"
    invalid = operator.post("/api/v1/sessions", json={"title": "x", "start": "2031-13-01 08:00",
                                                       "dial_string": "8000@b.vn", "participants": {"all": True}})  # fmt: skip
    assert invalid.status_code == 422
    assert "start='2031-13-01 08:00': not a date and time" in invalid.json()["error"]["message"]
    dated = operator.post("/api/v1/sessions", json={"title": "x", "start": "2031-12-05", "dial_string": "8000@b.vn",
                                                     "participants": {"all": True}})  # fmt: skip
    moved = operator.patch(f"/api/v1/sessions/{lab['ids']['session']}", json={"start": "2031-12-05"})
    for answer in (dated, moved):  # a date alone is refused, not read as midnight
        assert answer.status_code == 422, answer.text
        assert [p["where"] for p in answer.json()["error"]["problems"]] == ["body.start"]
        assert (
            "body.start: Value error, '2031-12-05': a date alone is not a start time; give the time too, "
            "e.g. '2031-12-05 08:00'" in answer.json()["error"]["message"]
        )
    both = operator.post("/api/v1/sweeps", json={"roles": ["toaster"]})
    assert both.status_code == 422 and both.json()["error"]["problems"][0]["where"].startswith("body.roles")
    page = viewer.get("/api/v1/devices", params={"limit": 2})
    assert page.status_code == 200 and len(page.json()["items"]) == 2 and page.json()["next_offset"] == 2
    nul = viewer.get("/api/v1/devices", params={"province": "a\x00b"})
    assert nul.status_code == 400


def test_tokens_are_shown_once_and_kept_hashed(lab: dict[str, Any]) -> None:
    admin = lab["server"].client(lab["tokens"]["admin"])
    made = admin.post("/api/v1/tokens", json={"name": "nms", "role": "operator"}).json()
    value = made["token"]
    assert value.startswith("fleet_") and made["prefix"] == value[:12]
    listed = admin.get("/api/v1/tokens").json()
    assert all("token" not in t for t in listed)
    with sqlite3.connect(lab["db"]) as conn:
        dump = "\n".join(conn.iterdump())
    assert value not in dump and value[12:] not in dump
    assert lab["server"].client(value).get("/api/v1/me").json()["role"] == "operator"
    assert admin.delete(f"/api/v1/tokens/{made['id']}").status_code == 200
    assert lab["server"].client(value).get("/api/v1/me").status_code == 401
    me = admin.get("/api/v1/me").json()
    assert admin.delete(f"/api/v1/tokens/{me['token_id']}").status_code == 409


def test_metrics_report_devices_sweeps_and_readiness(lab: dict[str, Any]) -> None:
    operator = lab["server"].client(lab["tokens"]["operator"])
    start = (datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")) + timedelta(days=2)).strftime("%Y-%m-%d %H:%M")
    made = operator.post("/api/v1/sessions", json={"title": "Metrics", "start": start, "dial_string": "8000@b.vn",
                                                   "participants": {"all": True}})  # fmt: skip
    assert made.status_code == 201, made.text
    assert made.json()["starts_at"] == datetime.fromisoformat(start).isoformat() + "+07:00"  # the NOC's zone
    run = operator.post(f"/api/v1/sessions/{made.json()['id']}/readiness", json={"deadline": 30})
    assert run.status_code == 202, run.text
    _settle(operator, run.json(), "/readiness")
    text = lab["server"].client(lab["tokens"]["viewer"]).get("/metrics").text
    assert 'fleet_devices{status="up"}' in text
    assert "fleet_sweep_duration_seconds_count" in text
    assert "fleet_http_request_duration_seconds_bucket" in text
    assert f'fleet_readiness_sites{{session="{made.json()["id"]}",verdict="ready"}}' in text
    assert 'route="/api/v1/devices/{name}"' in text


def test_schemathesis_finds_no_server_error_and_no_schema_violation(lab: dict[str, Any]) -> None:
    # A server of its own on a copy of the database: the fuzzer changes what it touches.
    work: Path = lab["work"]
    shutil.copy(lab["db"], work / "fuzz.db")
    env = lab["env"] | {"FLEET_DATABASE_URL": f"sqlite:///{work / 'fuzz.db'}"}
    server = start_server(env, work / "fuzz.log", "--no-scheduler")
    try:
        run = subprocess.run(
            [str(Path(sys.executable).with_name("schemathesis")), "run", f"{server.url}/openapi.json",
             "-H", f"Authorization: Bearer {lab['tokens']['admin']}",
             "--checks", "not_a_server_error,response_schema_conformance,content_type_conformance,"
                         "status_code_conformance,response_headers_conformance",
             "--max-examples", "8", "--seed", "4711", "--request-timeout", "60", "--no-color"],
            capture_output=True, text=True, timeout=400, check=False, cwd=work,
        )  # fmt: skip
    finally:
        server.stop()
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "500" not in [line.split()[-1] for line in server.process.output().splitlines() if '" 5' in line]
