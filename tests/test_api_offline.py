"""What the API answers without reaching any device: its documentation pages, drift before any
backup, and provisioning runs it refuses.

One real ``fleet serve`` on a database holding a small inventory (no simulator: nothing here may
contact a device). /docs and /redoc may name no address but the server's own, and each file they
name answers with the right content type; in Chromium, with every host name but 127.0.0.1 made
unresolvable, Swagger UI shows the API's operations.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from fleet.domain.provision import ProvisionMode
from fleet.domain.readiness import RunStatus
from fleet.domain.service import ApiRole
from fleet.engine.provision import NO_BACKUP
from fleet.inventory.generator import generate
from fleet.sim.lab import lab_secrets
from fleet.store import configs as configs_repo
from fleet.store import service as service_repo
from fleet.store.db import Store, create_db_engine
from tests.browser import open_in_chromium
from tests.service_helpers import Server, fleet, fleet_env, start_server
from tests.simulator import build_test_inventory

SITES = 2
ADDRESS_BASE = 221  # never contacted: no simulator serves these addresses


@dataclass
class Lab:
    server: Server
    db: Path
    store: Store
    tokens: dict[str, str]
    devices: list[str]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    work = tmp_path_factory.mktemp("offline")
    devices = build_test_inventory(work / "inventory", SITES, ADDRESS_BASE)
    secrets = lab_secrets(generate(sites=SITES, seed=7, address_base=ADDRESS_BASE).credentials)
    env = fleet_env(f"sqlite:///{work / 'api.db'}", work, secrets)
    imported = fleet(env, "inventory", "import", str(work / "inventory"))
    assert imported.returncode == 0, imported.stderr
    store = Store(create_db_engine(env["FLEET_DATABASE_URL"]))
    with store.session() as session:
        tokens = {
            role.value: service_repo.create_token(session, f"{role.value}-bot", role, "tester").token
            for role in (ApiRole.VIEWER, ApiRole.OPERATOR, ApiRole.ADMIN)
        }
    server = start_server(env, work / "serve.log", "--no-scheduler")
    try:
        yield Lab(server, work / "api.db", store, tokens, list(devices))
    finally:
        server.stop()
        store.close()


class Links(HTMLParser):
    """Every src and href of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found += [value for name, value in attrs if name in {"src", "href"} and value]


def links(page: str) -> list[str]:
    parser = Links()
    parser.feed(page)
    return parser.found


@pytest.mark.parametrize(
    ("page", "assets"),
    [
        ("/docs", {".js": "javascript", ".css": "text/css", ".png": "image/png"}),
        ("/redoc", {".js": "javascript", ".png": "image/png"}),
    ],
)
def test_the_docs_pages_load_nothing_from_outside(lab: Lab, page: str, assets: dict[str, str]) -> None:
    answer = httpx.get(lab.server.url + page, timeout=30)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    html = answer.text
    assert re.findall(r"(?:https?:)?//[\w.-]+", html) == []  # no absolute URL anywhere, scripts included
    named = links(html)
    assert {Path(urlsplit(u).path).suffix for u in named} == set(assets), named
    for url in named:
        assert not urlsplit(url).scheme and not urlsplit(url).netloc, url
        asset = httpx.get(urljoin(lab.server.url + page, url), timeout=30)
        assert asset.status_code == 200, url
        assert assets[Path(url).suffix] in asset.headers["content-type"], (url, asset.headers["content-type"])
        assert len(asset.content) > 500, url
    assert "'/openapi.json'" in html or '"/openapi.json"' in html  # the schema, from this server too


def test_swagger_ui_shows_the_operations_with_the_outside_world_cut_off(lab: Lab) -> None:
    cut_off = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"
    with open_in_chromium(lab.server.url + "/docs", cut_off) as browser:
        WebDriverWait(browser, 30).until(lambda b: b.find_elements(By.CSS_SELECTOR, ".opblock-summary-path"))
        paths = {
            e.get_attribute("data-path")
            for e in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")
        }
        loaded = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
        title = browser.find_element(By.CSS_SELECTOR, ".info .title").text
    assert {"/api/v1/devices", "/api/v1/provision", "/healthz"} <= paths
    assert title.startswith("fleet")
    assert loaded and all(url.startswith(lab.server.url + "/") for url in loaded), loaded


def test_drift_before_any_backup_counts_every_device_as_not_compared(lab: Lab) -> None:
    viewer = lab.server.client(lab.tokens["viewer"])
    report = viewer.get("/api/v1/drift").json()
    configurable = [d for d in lab.devices if not d.endswith("-cam")]
    assert (report["checked"], report["differ"], report["not_compared"]) == (
        len(configurable),
        0,
        len(configurable),
    )
    assert report["not_compared_reasons"] == {NO_BACKUP: len(configurable)}
    assert sorted(d["device"] for d in report["devices"]) == sorted(configurable)
    assert {(d["drift"], d["reason"]) for d in report["devices"]} == {(False, NO_BACKUP)}


def refusals(lab: Lab, request_id: str) -> list[dict[str, Any]]:
    viewer = lab.server.client(lab.tokens["viewer"])
    found: list[dict[str, Any]] = viewer.get("/api/v1/audit", params={"request_id": request_id}).json()[
        "items"
    ]
    return found


def test_a_refused_provisioning_run_is_audited_and_leaves_no_run(lab: Lab) -> None:
    devices = [n for n in lab.devices if not n.endswith("-cam")]
    site = devices[0].removeprefix("vn").split("-")[0]
    with sqlite3.connect(lab.db) as conn:  # a value carrying a command, as if written around the importer
        (name,) = conn.execute("SELECT name FROM site WHERE code = ?", (site,)).fetchone()
        conn.execute("UPDATE site SET name = ? WHERE code = ?", (name + "\nreload", site))
    try:
        admin = lab.server.client(lab.tokens["admin"], **{"X-Request-ID": "refused-422"})
        answer = admin.post(
            "/api/v1/provision", json={"playbook": "baseline", "apply": True, "roles": ["router"]}
        )
    finally:
        with sqlite3.connect(lab.db) as conn:
            conn.execute("UPDATE site SET name = ? WHERE code = ?", (name, site))
    assert answer.status_code == 422, answer.text
    (entry,) = refusals(lab, "refused-422")
    assert (entry["actor"], entry["action"], entry["outcome"], entry["run_id"]) == (
        "admin-bot",
        "provision",
        "failed",
        None,
    )
    detail = entry["detail"]
    assert detail.startswith(
        "apply of playbook baseline refused, nothing sent to any device (scope: role router)"
    )
    assert "line break" in detail and f"site {site}" in detail
    assert lab.server.client(lab.tokens["viewer"]).get("/api/v1/provision/runs").json()["items"] == []

    # An apply while another apply runs: 409, audited; the running one is the only run.
    with lab.store.session() as session:
        running = configs_repo.begin_run(
            session, mode=ProvisionMode.APPLY, actor="someone", playbook="baseline"
        )
    try:
        admin = lab.server.client(lab.tokens["admin"], **{"X-Request-ID": "refused-409"})
        busy = admin.post("/api/v1/provision", json={"playbook": "baseline", "apply": True})
    finally:
        with lab.store.session() as session:
            configs_repo.end_run(session, running.id or 0, RunStatus.COMPLETED, {})
    assert busy.status_code == 409, busy.text
    (entry,) = refusals(lab, "refused-409")
    assert entry["outcome"] == "failed" and entry["detail"].startswith(
        "apply of playbook baseline refused, nothing sent to any device (scope: every device)"
    )
    assert f"provisioning run {running.id} (apply) is still running" in entry["detail"]
    runs = lab.server.client(lab.tokens["viewer"]).get("/api/v1/provision/runs").json()["items"]
    assert [r["id"] for r in runs] == [running.id]
