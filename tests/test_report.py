"""The readiness report: CSV for Excel, a self-contained HTML page checked in a real headless Chromium."""

from __future__ import annotations

import copy
import csv
import io
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By

from fleet.checks.checkset import load_check_set
from fleet.domain.enums import Carrier, Role
from fleet.domain.health import Party
from fleet.domain.readiness import (
    CheckResult,
    Outcome,
    RunStatus,
    SessionStatus,
    Severity,
    SiteVerdict,
    Verdict,
)
from fleet.inventory.schema import SiteRecord
from fleet.report.document import build_document
from fleet.report.readiness import CSV_COLUMNS, render_csv, render_html, write_reports
from fleet.settings import get_settings
from fleet.store.models import MeetingSession, ReadinessRun
from tests import browser, sim_helpers
from tests.browser import open_in_chromium

LABELS = {"ready": "READY", "degraded": "DEGRADED", "not_ready": "NOT READY", "unknown": "UNKNOWN"}
ROOT = Path(__file__).resolve().parent.parent
PROVINCES = {"01": "Thành phố Hà Nội", "79": "Thành phố Hồ Chí Minh", "56": "Tỉnh Khánh Hòa"}
SCRIPT_NAME = "Phường <script>alert(1)</script> Cửa Nam"


def problem(check: str, title: str, outcome: str, severity: str, party: str, reason: str, first_seen: str,
            device: str = "", role: str = "router") -> dict[str, Any]:  # fmt: skip
    return {"check": check, "title": title, "device": device, "role": role, "outcome": outcome,
            "severity": severity, "reason": reason, "party": party, "remedy": f"Fix: {title.lower()}.",
            "first_seen": first_seen}  # fmt: skip


def site(code: str, name: str, province: str, verdict: str, problems: list[dict[str, Any]] | None = None,
         carrier: str = "VNPT", contact_name: str = "Nguyễn Thị Lan", contact_phone: str = "0977 490 478") -> dict[str, Any]:  # fmt: skip
    problems = problems or []
    deciding = [p for p in problems if verdict != "degraded" or p["severity"] == "warning"]
    return {
        "site": code, "name": name, "province": province, "province_name": PROVINCES[province],
        "carrier": carrier, "contact_name": contact_name, "contact_phone": contact_phone,
        "address": f"Trụ sở UBND {name}, {PROVINCES[province]}",
        "verdict": verdict, "verdict_label": LABELS[verdict],
        "reason": "; ".join(f"{p['title']}: {p['reason']}" for p in deciding),
        "parties": list(dict.fromkeys(p["party"] for p in deciding)),
        "checked_at": "2026-11-24 14:02:40 +07:00", "source": "polled" if verdict != "ready" else "reused",
        "rechecked": verdict != "ready",
        "problems": problems,
        "skipped": [{"check": "codec_reachable", "device": f"vn{code}-codec", "cause": "router_reachable"}]
        if any(p["check"] == "router_reachable" for p in problems) else [],
    }  # fmt: skip


def build_sites() -> list[dict[str, Any]]:
    return [
        site("00004", "Phường Ba Đình", "01", "not_ready", [
            problem("router_reachable", "Router answers", "fail", "blocker", "Viettel", "no answer to SNMP (2 x 1.0 s)",
                    "2026-11-24 13:31:05 +07:00", "vn00004-rtr")], carrier="Viettel", contact_name="Dương Minh Mai"),
        site("00008", "Phường Ngọc Hà", "01", "not_ready", [
            problem("wan_link_up", "WAN link up", "fail", "blocker", "VNPT", "ge0/0 is down", "2026-11-24 14:02:30 +07:00",
                    "vn00008-rtr")]),
        site("00012", "Phường Hoàn Kiếm", "01", "ready"),
        site("00016", SCRIPT_NAME, "01", "degraded", [
            problem("camera_preset", "Camera preset set", "fail", "warning", "site staff", "preset 1 is empty",
                    "2026-11-24 12:10:00 +07:00", "vn00016-cam", "camera")]),
        site("26734", "Phường Sài Gòn", "79", "ready", carrier="Viettel", contact_phone="+84 28 3829 1234"),
        site("26740", "Phường Tân Định", "79", "unknown", [
            problem("codec_registered", "Codec registered to the bridge", "unknown", "blocker", "NOC",
                    "SSH login timed out", "2026-11-24 14:02:50 +07:00", "vn26740-codec", "codec")], carrier="Viettel"),
        site("26743", "Phường Bến Thành", "79", "not_ready", [
            problem("wan_link_up", "WAN link up", "fail", "blocker", "VNPT", "packet loss 35 %", "2026-11-24 13:50:00 +07:00",
                    "vn26743-rtr"),
            problem("display_on", "Display is on", "fail", "blocker", "site staff", "HDMI 1: no signal",
                    "2026-11-24 13:40:12 +07:00", "vn26743-codec", "codec")]),
        site("26750", "Phường Xuân Hòa", "79", "ready", contact_name="=HYPERLINK(\"http://evil\";\"x\")"),
        site("22333", "Phường Nha Trang", "56", "ready"),
        site("22366", "Xã Tân Hưng", "56", "not_ready", [
            problem("speed_dial", "Speed dial points at the session", "fail", "blocker", "NOC",
                    "speed dial 1 is hop@old.hoinghi.gov.vn", "2026-11-24 14:02:41 +07:00", "vn22366-codec", "codec")],
            carrier="Viettel", contact_name="Trần Văn Đức"),
        site("22370", "Xã Cam Lâm", "56", "degraded", [
            problem("wan_latency", "WAN latency", "fail", "warning", "VNPT", "RTT 180 ms > 150 ms",
                    "2026-11-24 11:00:00 +07:00", "vn22370-rtr")]),
        site("22375", "Xã Vạn Ninh", "56", "ready"),
    ]  # fmt: skip


def build_doc(sites: list[dict[str, Any]] | None = None, previous_run: int | None = 6) -> dict[str, Any]:
    sites = build_sites() if sites is None else sites
    counts = {"sites": len(sites)} | {v: sum(s["verdict"] == v for s in sites) for v in LABELS}
    provinces = []
    for code, name in PROVINCES.items():
        mine = [s for s in sites if s["province"] == code]
        provinces.append(
            {"code": code, "name": name, "sites": len(mine)}
            | {v: sum(s["verdict"] == v for s in mine) for v in LABELS}
        )
    parties = []
    for party, slug in (
        ("VNPT", "vnpt"),
        ("Viettel", "viettel"),
        ("site staff", "site-staff"),
        ("NOC", "noc"),
    ):
        codes = [s["site"] for s in sites if any(p["party"] == party for p in s["problems"])]
        if codes:
            parties.append({"party": party, "slug": slug, "sites": codes})
    by_code = {s["site"]: s for s in sites}

    def change(code: str, previous: str) -> dict[str, Any]:
        s = by_code[code]
        return {"site": code, "name": s["name"], "province_name": s["province_name"], "verdict_label": s["verdict_label"],
                "previous_label": previous, "reason": s["reason"]}  # fmt: skip

    changes: dict[str, Any] = {"previous_run": previous_run, "newly_broken": [], "repaired": [], "other": []}
    if previous_run is not None and sites:
        changes |= {"newly_broken": [change("00008", "READY")], "repaired": [change("00012", "NOT READY")],
                    "other": [change("26740", "DEGRADED")]}  # fmt: skip
    return {
        "report": "readiness", "version": 1,
        "run": {
            "id": 7, "status": "completed",
            "session": {"id": 2, "title": "Hội nghị trực tuyến toàn quốc về chuyển đổi số",
                        "starts_at": "2026-12-01 08:00 +07:00", "dial_string": "hop@bridge.hoinghi.gov.vn",
                        "bridge": "10.10.0.10", "participants": "all sites"},
            "check_set": {"name": "default", "checks": 21},
            "started_at": "2026-11-24 14:02:11 +07:00", "finished_at": "2026-11-24 14:03:02 +07:00", "duration_s": 51.3,
            "polled_devices": 36, "reused_devices": 0, "rechecked_sites": 7, "deadline_s": 110.0, "deadline_hit": False,
            "previous_run": previous_run,
        },
        "counts": counts,
        "provinces": provinces,
        "sites": sites,
        "parties": parties,
        "changes": changes,
    }  # fmt: skip


def read_csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


# ---------------------------------------------------------------------------------------------------- CSV


def test_csv_has_bom_crlf_and_one_row_per_site_in_order() -> None:
    doc = build_doc()
    data = render_csv(doc)
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.endswith(b"\r\n")
    assert data.count(b"\r\n") == len(doc["sites"]) + 1
    assert data[3:].split(b"\r\n", 1)[0].decode() == ",".join(CSV_COLUMNS)
    rows = read_csv(data)
    assert [r["site"] for r in rows] == [s["site"] for s in doc["sites"]]


def test_csv_keeps_vietnamese_and_fills_the_columns() -> None:
    rows = {r["site"]: r for r in read_csv(render_csv(build_doc()))}
    ba_dinh = rows["00004"]
    assert ba_dinh["name"] == "Phường Ba Đình"
    assert ba_dinh["province_name"] == "Thành phố Hà Nội"
    assert ba_dinh["contact_name"] == "Dương Minh Mai"
    assert ba_dinh["contact_phone"] == "0977 490 478"  # starts with 0: not guarded
    assert ba_dinh["verdict"] == "NOT READY"
    assert ba_dinh["failed_checks"] == "router_reachable"
    assert ba_dinh["first_seen"] == "2026-11-24 13:31:05 +07:00"
    assert rows["22366"]["name"] == "Xã Tân Hưng"

    ben_thanh = rows["26743"]
    assert ben_thanh["parties"] == "VNPT; site staff"
    assert ben_thanh["failed_checks"] == "wan_link_up; display_on"
    assert ben_thanh["first_seen"] == "2026-11-24 13:40:12 +07:00"  # the earliest of the two
    assert rows["26740"]["unknown_checks"] == "codec_registered"
    assert rows["26740"]["failed_checks"] == ""

    ready = rows["22333"]
    assert (ready["verdict"], ready["parties"], ready["first_seen"], ready["reason"]) == ("READY", "", "", "")


def test_csv_guards_formulas() -> None:
    rows = {r["site"]: r for r in read_csv(render_csv(build_doc()))}
    assert rows["26750"]["contact_name"] == '\'=HYPERLINK("http://evil";"x")'
    assert rows["26734"]["contact_phone"] == "'+84 28 3829 1234"
    for row in rows.values():
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r"))


def test_csv_of_no_sites_is_just_the_header() -> None:
    assert render_csv(build_doc(sites=[])) == ("\ufeff" + ",".join(CSV_COLUMNS) + "\r\n").encode()


# ---------------------------------------------------------------------------------------------------- HTML


def test_html_is_self_contained() -> None:
    page = render_html(build_doc())
    assert '<meta charset="utf-8">' in page
    assert "http://" not in page
    assert "https://" not in page
    assert not re.search(r"""(?:src|href|action|xlink:href)\s*=\s*["']?[^"'\s>]*//""", page, re.IGNORECASE)
    assert not re.search(r"url\(", page, re.IGNORECASE)
    assert not re.search(r"@import|@font-face", page, re.IGNORECASE)
    assert "<link" not in page.lower()
    assert "<script" not in page.lower()
    assert "<iframe" not in page.lower() and "<img" not in page.lower()


def test_html_escapes_document_text() -> None:
    doc = build_doc()
    doc["run"]["session"]["title"] = 'Họp "A" & <b>B</b>'
    page = render_html(doc)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>B</b>" not in page
    assert "Họp &#34;A&#34; &amp; &lt;b&gt;B&lt;/b&gt;" in page


def test_html_layout_and_counts() -> None:
    doc = build_doc()
    page = render_html(doc)
    order = [
        "Headline",
        "By province",
        "Not ready, by responsible party",
        "Changed since run 6",
        "Every site not READY",
    ]
    positions = [page.index(f"<h2>{title}") for title in order]
    assert positions == sorted(positions)
    for key, value in doc["counts"].items():
        ident = "count-sites" if key == "sites" else f"count-{key.replace('_', '-')}"
        assert re.search(rf'id="{ident}">{value}<', page), ident
    # One heat tile per province, labelled ready/total, with per-verdict counts in the tooltip.
    assert page.count("<g data-province=") == len(doc["provinces"])
    assert "1/4</text>" in page  # Hà Nội: 1 ready of 4
    assert (
        "<title>Thành phố Hà Nội (01): 4 sites: 1 READY, 1 DEGRADED, 2 NOT READY, 0 UNKNOWN</title>" in page
    )
    assert "Phường Ba Đình" in page and "Xã Tân Hưng" in page


def test_html_parties_in_fixed_order_whatever_the_document_says() -> None:
    doc = build_doc()
    doc["parties"].reverse()
    page = render_html(doc)
    positions = [page.index(f'id="party-{slug}"') for slug in ("vnpt", "viettel", "site-staff", "noc")]
    assert positions == sorted(positions)
    # A party lists only its own checks: Bến Thành's display problem is under site staff, not VNPT.
    vnpt = page[positions[0] : positions[1]]
    staff = page[positions[2] : positions[3]]
    assert 'data-site="26743"' in vnpt and 'data-site="26743"' in staff
    assert "HDMI 1: no signal" in staff and "HDMI 1: no signal" not in vnpt


def test_html_when_everything_is_ready_and_there_is_no_previous_run() -> None:
    sites = [s for s in build_sites() if s["verdict"] == "ready"]
    page = render_html(build_doc(sites=sites, previous_run=None))
    assert "Every site is ready." in page
    assert "There is no previous run to compare with." in page
    assert 'id="party-' not in page
    empty = render_html(build_doc(sites=[], previous_run=None) | {"provinces": []})
    assert 'id="count-sites">0<' in empty


def test_html_when_nothing_changed() -> None:
    doc = build_doc()
    doc["changes"] |= {"newly_broken": [], "repaired": [], "other": []}
    page = render_html(doc)
    assert "No site changed verdict since run 6." in page


def test_html_warns_about_incomplete_runs() -> None:
    doc = build_doc()
    doc["run"] |= {"status": "aborted", "deadline_hit": True}
    page = render_html(doc)
    assert 'id="run-status-alert"' in page and 'id="deadline-alert"' in page
    assert 'id="run-status-alert"' not in render_html(build_doc())


# ---------------------------------------------------------------------------------------------------- files


def test_write_reports_writes_three_files_and_json_round_trips(tmp_path: Path) -> None:
    doc = build_doc()
    target = tmp_path / "reports" / "session-2"
    paths = write_reports(copy.deepcopy(doc), target, "run-7")
    assert paths == {kind: target / f"run-7.{kind}" for kind in ("json", "html", "csv")}
    assert sorted(p.name for p in target.iterdir()) == [
        "run-7.csv",
        "run-7.html",
        "run-7.json",
    ]  # no temp files left
    text = paths["json"].read_text(encoding="utf-8")
    assert "Phường Ba Đình" in text  # ensure_ascii=False
    assert json.loads(text) == doc
    assert paths["csv"].read_bytes() == render_csv(doc)
    assert paths["html"].read_text(encoding="utf-8") == render_html(doc)
    write_reports(doc, target, "run-7")  # overwriting in place works too


# ---------------------------------------------------------------------------------------------------- times


@pytest.fixture
def noc_zone(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """The NOC's zone as the settings give it (Asia/Ho_Chi_Minh), whatever this machine's environment."""
    monkeypatch.setenv("FLEET_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("FLEET_TIMEZONE", "Asia/Ho_Chi_Minh")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_every_time_in_the_report_is_in_the_noc_zone_with_its_offset(noc_zone: None) -> None:
    at = datetime(2026, 11, 24, 7, 2, 11, tzinfo=UTC)  # stored in UTC: 14:02:11 in Hanoi
    run = ReadinessRun(id=7, session_id=3, status=RunStatus.COMPLETED, check_set="default",
                       started_at=at, finished_at=at + timedelta(seconds=51), duration_s=51.0)  # fmt: skip
    # The session's own zone is another: its start is shown in both, every other time in the NOC's.
    meeting = MeetingSession(id=3, title="Hội nghị", starts_at=datetime(2026, 12, 1, 1, 0, tzinfo=UTC),
                             timezone="Asia/Tokyo", dial_string="hop@bridge.hoinghi.gov.vn",
                             participants={"all": True}, status=SessionStatus.SCHEDULED)  # fmt: skip
    wan = CheckResult("wan_up", "WAN link up", "vn00004-rtr", Role.ROUTER, Outcome.FAIL, Severity.BLOCKER,
                      "ge0/0 is down", Party.VNPT, first_seen=at - timedelta(minutes=31))  # fmt: skip
    verdict = SiteVerdict("00004", Verdict.NOT_READY, [wan], checked_at=at + timedelta(seconds=29))
    site_record = SiteRecord("00004", "00004", "01", "Phường Ba Đình", Carrier.VNPT)
    check_set = load_check_set(ROOT / "playbooks" / "readiness" / "default.yaml")
    doc = build_document(run, meeting, check_set, [verdict], {"00004": site_record}, PROVINCES, None, {})

    assert (
        doc["run"]["session"]["starts_at"]
        == "2026-12-01 08:00 +07:00 (2026-12-01 10:00 +09:00 in Asia/Tokyo)"
    )
    assert doc["run"]["started_at"] == "2026-11-24 14:02:11 +07:00"
    assert doc["run"]["finished_at"] == "2026-11-24 14:03:02 +07:00"
    assert doc["sites"][0]["checked_at"] == "2026-11-24 14:02:40 +07:00"
    assert doc["sites"][0]["problems"][0]["first_seen"] == "2026-11-24 13:31:11 +07:00"
    row = next(csv.DictReader(io.StringIO(render_csv(doc).decode("utf-8-sig"))))
    assert (row["checked_at"], row["first_seen"]) == (
        "2026-11-24 14:02:40 +07:00",
        "2026-11-24 13:31:11 +07:00",
    )
    page = render_html(doc)
    assert "Starts 2026-12-01 08:00 +07:00 (2026-12-01 10:00 +09:00 in Asia/Tokyo)" in page
    assert "2026-11-24 14:02:11 +07:00" in page and "first seen 2026-11-24 13:31:11 +07:00" in page


# ---------------------------------------------------------------------------------------------------- browser


def test_report_in_headless_chromium(tmp_path: Path) -> None:
    doc = build_doc()
    html = write_reports(doc, tmp_path, "run-7")["html"]
    started = time.monotonic()
    with open_in_chromium(html) as driver:
        assert driver.execute_script("return document.characterSet") == "UTF-8"
        assert driver.execute_script("return performance.getEntriesByType('resource').length") == 0
        for key, value in doc["counts"].items():
            ident = "count-sites" if key == "sites" else f"count-{key.replace('_', '-')}"
            element = driver.find_element(By.ID, ident)
            assert element.text == str(value), ident
            assert element.is_displayed()

        # Xã Tân Hưng is NOT READY because of the NOC: its row shows under #party-noc with its contact.
        row = driver.find_element(By.CSS_SELECTOR, '#party-noc tr[data-site="22366"]')
        name = row.find_element(By.CSS_SELECTOR, ".site-name")
        assert name.text == "Xã Tân Hưng"
        assert name.is_displayed()
        assert "Trần Văn Đức" in row.text and "0977 490 478" in row.text
        assert "NOT READY" in row.text
        assert not driver.find_elements(By.CSS_SELECTOR, '#party-vnpt tr[data-site="22366"]')

        # The <script> in a site name is shown as text, not run.
        escaped = driver.find_element(By.CSS_SELECTOR, '#party-site-staff tr[data-site="00016"] .site-name')
        assert escaped.text == SCRIPT_NAME
        assert driver.find_elements(By.TAG_NAME, "script") == []

        listed = [
            r.get_attribute("data-site")
            for r in driver.find_elements(By.CSS_SELECTOR, "#not-ready-table tbody tr")
        ]
        assert listed == [s["site"] for s in doc["sites"] if s["verdict"] != "ready"]
        assert len(driver.find_elements(By.CSS_SELECTOR, "#heat-grid g[data-province]")) == len(
            doc["provinces"]
        )
        assert driver.find_element(
            By.CSS_SELECTOR, '#changes-newly-broken tr[data-site="00008"]'
        ).is_displayed()
        assert driver.execute_script("return performance.getEntriesByType('resource').length") == 0
    assert time.monotonic() - started < 10


def test_missing_browser_skips_or_fails_by_policy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(browser, "CHROMIUM", tmp_path / "no-chromium")
    expected = pytest.fail.Exception if sim_helpers.REQUIRED else pytest.skip.Exception
    with pytest.raises(expected, match="Chromium"), open_in_chromium(tmp_path / "page.html"):
        pass
