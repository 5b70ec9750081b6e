"""The inventory store, run against SQLite and PostgreSQL alike."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlmodel import SQLModel, col, select

from fleet.inventory.validate import validate_paths
from fleet.store import inventory as repo
from fleet.store.db import HEAD_REVISION, Store, alembic_config, create_db_engine, schema_is_current
from fleet.store.models import CredentialProfile, Device, Site
from tests.conftest import SHIPPED
from tests.helpers import DEVICES, SITES, write_inventory


def import_paths(store: Store, *paths: Path) -> repo.ImportReport:
    with store.session() as session:
        result = validate_paths(list(paths), repo.known(session))
        assert result.problems == []
        return repo.import_inventory(session, result.inventory)


def table_counts(store: Store) -> dict[str, int]:
    with store.engine.connect() as conn:
        names = inspect(conn).get_table_names()
        return {n: conn.execute(text(f"select count(*) from {n}")).scalar_one() for n in names}  # noqa: S608


def test_shipped_inventory_imports_once_and_then_changes_nothing(store: Store) -> None:
    first = import_paths(store, SHIPPED)
    assert first.counts["sites"].created == 3321
    assert first.counts["devices"].created == 9963
    with store.session() as session:
        stamps = dict(session.exec(select(col(Device.name), col(Device.updated_at))).all())
    before = table_counts(store)

    second = import_paths(store, SHIPPED)
    assert not second.changed
    assert second.counts["sites"].unchanged == 3321
    assert second.counts["devices"].unchanged == 9963
    assert table_counts(store) == before
    with store.session() as session:
        assert dict(session.exec(select(col(Device.name), col(Device.updated_at))).all()) == stamps


def test_changed_records_are_updated_in_place(store: Store, tmp_path: Path) -> None:
    import_paths(store, write_inventory(tmp_path / "a"))
    edited = [SITES[0].replace("VNPT", "Viettel"), SITES[1]]
    report = import_paths(store, write_inventory(tmp_path / "b", edited))
    assert (report.counts["sites"].updated, report.counts["sites"].unchanged) == (1, 1)
    assert report.counts["devices"].unchanged == 4
    with store.session() as session:
        site = session.exec(select(Site).where(col(Site.code) == "00004")).one()
        assert site.carrier.value == "Viettel"
        assert site.updated_at > site.created_at


def test_two_devices_can_swap_addresses_in_one_import(store: Store, tmp_path: Path) -> None:
    import_paths(store, write_inventory(tmp_path / "a"))
    swapped = [
        DEVICES[0].replace("127.1.0.1", "127.1.0.2"),
        *DEVICES[1:3],
        DEVICES[3].replace("127.1.0.2", "127.1.0.1"),
    ]
    report = import_paths(store, write_inventory(tmp_path / "b", devices=swapped))
    assert report.counts["devices"].updated == 2
    with store.session() as session:
        rows = dict(session.exec(select(col(Device.name), col(Device.mgmt_address))).all())
    assert rows["vn00004-rtr"] == "127.1.0.2"
    assert rows["vn32248-rtr"] == "127.1.0.1"


def test_vietnamese_names_round_trip_byte_identical(store: Store, tmp_path: Path) -> None:
    nfd = unicodedata.normalize("NFD", "Xã Đất Mũi")
    sites = [SITES[0], SITES[1].replace("Xã Đất Mũi", nfd)]
    import_paths(store, write_inventory(tmp_path, sites))
    with store.session() as session:
        names = {s.code: s.name for s in session.exec(select(Site))}
    assert names["00004"].encode() == "Phường Ba Đình".encode()
    assert names["32248"].encode() == unicodedata.normalize("NFC", "Xã Đất Mũi").encode()
    with store.session() as session:
        exported = repo.load_inventory(session)
    assert [s.name for s in exported.sites] == ["Phường Ba Đình", "Xã Đất Mũi"]


def test_database_holds_secret_references_never_values(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("LAB_AUTH", "LAB_PRIV", "LAB_SSH"):
        monkeypatch.setenv(name, f"value-of-{name}-must-not-be-stored")
    import_paths(store, write_inventory(tmp_path))
    with store.engine.connect() as conn:
        dump = "\n".join(
            repr(tuple(row))
            for table in inspect(conn).get_table_names()
            for row in conn.execute(text(f"select * from {table}"))  # noqa: S608
        )
    assert "must-not-be-stored" not in dump
    with store.session() as session:
        profile = session.exec(select(CredentialProfile).where(col(CredentialProfile.name) == "lab-v3")).one()
    assert profile.snmp_auth_key_ref == "env:LAB_AUTH"


def test_queries_filter_by_province_carrier_role_and_group(store: Store) -> None:
    import_paths(store, SHIPPED)
    with store.session() as session:
        _rows, total = repo.list_devices(session, province="ho_chi_minh")
        assert total == 168 * 3
        rows, total = repo.list_devices(session, province="Hồ Chí Minh", role=repo.Role.ROUTER, limit=5)
        assert total == 168
        assert len(rows) == 5
        assert {r.province_code for r in rows} == {"79"}
        _rows, south = repo.list_devices(session, group="wave-1-south", role=repo.Role.CODEC)
        assert south == 854
        _rows, viettel = repo.list_devices(session, carrier=repo.Carrier.VIETTEL, role=repo.Role.CODEC)
        _rows, vnpt = repo.list_devices(session, carrier=repo.Carrier.VNPT, role=repo.Role.CODEC)
        assert viettel + vnpt == 3321
        assert min(viettel, vnpt) > 900
        detail = repo.find_site(session, "25747")
        assert detail.site.name == "Phường Thủ Dầu Một"
        assert detail.province.code == "79"
        assert [d.role.value for d in detail.devices] == ["camera", "codec", "router"]
        assert detail.groups == ["wave-1-south"]
        with pytest.raises(repo.NotFoundError, match="names 5 sites"):
            repo.find_site(session, "xa tan phu")
        with pytest.raises(repo.NotFoundError, match="no province matches"):
            repo.list_devices(session, province="Atlantis")


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(sqlite_url: str) -> None:
    engine = create_db_engine(sqlite_url, busy_timeout_ms=7000)
    with engine.connect() as conn:
        assert conn.execute(text("pragma journal_mode")).scalar_one() == "wal"
        assert conn.execute(text("pragma busy_timeout")).scalar_one() == 7000
        assert conn.execute(text("pragma foreign_keys")).scalar_one() == 1
    engine.dispose()


def test_migrations_reach_the_same_schema_as_the_models(store: Store) -> None:
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
        assert MigrationContext.configure(conn).get_current_revision() == HEAD_REVISION
    assert diff == []
    # The revision every command checks without loading Alembic is Alembic's own head.
    assert ScriptDirectory.from_config(alembic_config(store.engine)).get_current_head() == HEAD_REVISION
    assert schema_is_current(store.engine)


def test_a_devices_file_may_refer_to_sites_and_profiles_already_in_the_database(
    store: Store, tmp_path: Path
) -> None:
    import_paths(store, write_inventory(tmp_path / "a"))
    only_devices = tmp_path / "b"
    only_devices.mkdir()
    header = (tmp_path / "a" / "devices.csv").read_text(encoding="utf-8").splitlines()[0]
    row = DEVICES[0].replace("vn00004-rtr", "vn00004-rtr2").replace("127.1.0.1", "127.1.0.9")
    (only_devices / "devices.csv").write_text(f"{header}\n{row}\n", encoding="utf-8")
    report = import_paths(store, only_devices)
    assert report.counts["devices"].created == 1
    assert report.counts["sites"].total == 0
