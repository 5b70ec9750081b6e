"""The ``fleet`` command as a NOC engineer runs it: real subprocesses, real exit codes."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from tests.conftest import SHIPPED
from tests.helpers import SITES, write_inventory

SECRET_ENV = {
    "FLEET_VNPT_SNMP_AUTH_KEY": "vnpt-auth-SENTINEL",
    "FLEET_VNPT_SSH_PASSWORD": "vnpt-ssh-SENTINEL",
    "FLEET_CAMERA_SNMP_COMMUNITY": "camera-community-SENTINEL",
}


def test_import_list_show_export_round_trip(fleet_cli: Any, tmp_path: Path) -> None:
    run = fleet_cli("inventory", "import", str(SHIPPED), "--json", env=SECRET_ENV)
    assert run.code == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["counts"]["sites"]["created"] == 3321
    assert report["counts"]["devices"]["created"] == 9963
    assert report["seconds"] < 30

    again = json.loads(fleet_cli("inventory", "import", str(SHIPPED), "--json").stdout)
    assert again["changed"] is False

    listing = fleet_cli(
        "inventory", "list", "--province", "ca_mau", "--role", "codec", "--json", env=SECRET_ENV
    )
    data = json.loads(listing.stdout)
    assert data["total"] == 64
    assert {d["province_name"] for d in data["devices"]} == {"Cà Mau"}

    shown = fleet_cli("inventory", "show", "32248", "--json", env=SECRET_ENV)
    site = json.loads(shown.stdout)
    assert site["name"] == "Xã Đất Mũi"
    assert site["province"]["name"] == "Cà Mau"
    assert len(site["devices"]) == 3

    table = fleet_cli("inventory", "show", "32248")
    assert "Xã Đất Mũi" in table.stdout
    assert "vn32248-codec" in table.stdout

    out = tmp_path / "export"
    exported = fleet_cli("inventory", "export", "--output", str(out), env=SECRET_ENV)
    assert exported.code == 0, exported.stderr
    for name in ("sites.csv", "devices.csv", "credentials.yaml", "groups.yaml"):
        assert (out / name).read_bytes() == (SHIPPED / name).read_bytes(), name

    for text in (run.stdout, run.stderr, listing.stdout, shown.stdout, exported.stdout, exported.stderr):
        assert "SENTINEL" not in text


def test_invalid_file_exits_non_zero_names_every_problem_and_changes_nothing(
    fleet_cli: Any, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    good = write_inventory(tmp_path / "good")
    assert fleet_cli("inventory", "import", str(good), db=db).code == 0
    before = _dump(tmp_path / "x.db")

    sites = [
        SITES[0].replace("VNPT", "Viettel"),
        "32248,32248,96,Xã Đất Mũi,Mobifone,,,",
        "99,99999,01,X,VNPT,,,",
    ]
    bad = write_inventory(tmp_path / "bad", sites)
    run = fleet_cli("inventory", "import", str(bad), db=db)
    assert run.code == 1
    assert f"{bad / 'sites.csv'}:3: carrier='Mobifone': is not one of: VNPT, Viettel" in run.stderr
    assert f"{bad / 'sites.csv'}:4: admin_code='99999'" in run.stderr
    assert "nothing was changed" in run.stderr
    assert _dump(tmp_path / "x.db") == before  # the valid edit on line 2 did not land either

    as_json = fleet_cli("inventory", "validate", str(bad), "--json", db=db)
    assert as_json.code == 1
    problems = json.loads(as_json.stdout)["problems"]
    assert {(p["line"], p["field"]) for p in problems} == {(3, "carrier"), (4, "admin_code")}


def test_validate_does_not_create_a_database(fleet_cli: Any, tmp_path: Path) -> None:
    run = fleet_cli("inventory", "validate", str(SHIPPED), db=f"sqlite:///{tmp_path / 'new.db'}")
    assert run.code == 0, run.stderr
    assert "3,321 sites, 9,963 devices" in run.stdout
    assert not (tmp_path / "new.db").exists()


def test_generate_writes_a_larger_synthetic_inventory(fleet_cli: Any, tmp_path: Path) -> None:
    out = tmp_path / "big"
    run = fleet_cli("inventory", "generate", "--sites", "4000", "--output", str(out))
    assert run.code == 0, run.stderr
    assert (out / "sites.csv").read_text(encoding="utf-8").count("\n") == 4001
    valid = fleet_cli("inventory", "validate", str(out), "--no-db")
    assert valid.code == 0, valid.stderr


def test_unknown_site_and_bad_database_url_give_clear_errors(fleet_cli: Any, tmp_path: Path) -> None:
    fleet_cli("inventory", "import", str(write_inventory(tmp_path / "inv")))
    missing = fleet_cli("inventory", "show", "12345")
    assert missing.code == 4
    assert "no site with code or name '12345'" in missing.stderr
    assert "Traceback" not in missing.stderr

    bad = fleet_cli("inventory", "list", db="postgresql://nobody@127.0.0.1:1/none")
    assert bad.code == 3
    assert "cannot reach the database" in bad.stderr
    assert "Traceback" not in bad.stderr


def _dump(path: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        tables = [
            r[0] for r in conn.execute("select name from sqlite_master where type='table' order by name")
        ]
        return [(t, *row) for t in tables for row in conn.execute(f"select * from {t} order by 1")]  # noqa: S608
