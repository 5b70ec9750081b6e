"""Provisioning against the simulator: dry run, apply, restore on failure, canary, freeze, refusals.

One simulator of 4 sites (routers alternate Cisco IOS and Huawei VRP) on 127.241-243.x.y, apart from
the shared test simulator. Each test drifts the devices it needs and clears its faults at the end;
the baseline playbook matches the simulator's initial configuration, so clearing a drift (or
applying the playbook) brings a device back to where every test starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from fleet.domain.enums import Carrier, DivisionType
from fleet.domain.provision import AuditAction, AuditOutcome, DeviceOutcome, DeviceProvision, Step
from fleet.domain.readiness import SessionStatus
from fleet.drivers.configs import IOS
from fleet.engine.provision import BackupNotStored, Freeze, Writer, frozen_sites
from fleet.provision.pipeline import DeviceJob
from fleet.provision.pipeline import provision as provision_device
from fleet.settings import get_settings
from fleet.store.db import Store, create_db_engine
from fleet.store.models import AdminUnit, AuditEvent, MeetingSession, Province, Site
from fleet.transports.errors import TransportError, TransportErrorKind
from fleet.transports.ssh import SshClient, SshTarget
from tests.simulator import SimHandle, start_simulator

SITES = 4
ADDRESS_BASE = 241
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def psim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimHandle]:
    handle = start_simulator(tmp_path_factory.mktemp("psim"), SITES, None, address_base=ADDRESS_BASE)
    names = list(handle.devices)
    handle.extra["sites"] = [names[i * 3 : i * 3 + 3] for i in range(SITES)]  # router, codec, camera
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def pdb(psim: SimHandle, fleet_cli: Any, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    db = f"sqlite:///{tmp_path / 'provision.db'}"
    env = dict(psim.env) | {
        "FLEET_SSH_KNOWN_HOSTS": str(tmp_path / "known_hosts"),
        "FLEET_ACTOR": "noc-tester",
    }
    assert fleet_cli("inventory", "import", str(psim.inventory_dir), db=db, env=env).code == 0
    trust = fleet_cli("ssh", "trust", db=db, env=env)
    assert trust.code == 0, trust.stderr
    yield db, env
    for name in psim.devices:  # leave the simulator as every test expects to find it
        psim.send("DELETE", "/faults", {"device": name})


def ssh_devices(sim: SimHandle) -> list[str]:
    return [n for n in sim.devices if not n.endswith("-cam")]


def configs(sim: SimHandle, names: list[str]) -> dict[str, tuple[str, str]]:
    """Each device's running and startup configuration, as the simulator holds them."""
    return {n: (sim.get(f"/devices/{n}/config"), sim.get(f"/devices/{n}/startup")) for n in names}


def fault(sim: SimHandle, device: str, kind: str, **params: Any) -> None:
    sim.send("POST", "/faults", {"device": device, "fault": kind, "params": params})


def provision(fleet_cli: Any, db: str, env: dict[str, str], *args: str) -> tuple[int, dict[str, Any], str]:
    run = fleet_cli("provision", "baseline", "--json", *args, db=db, env=env)
    data = json.loads(run.stdout) if run.stdout.strip().startswith("{") else {}
    return run.code, data, run.stderr


def outcomes(data: dict[str, Any]) -> dict[str, str]:
    return {d["device"]: d["outcome"] for d in data["devices"]}


def test_a_dry_run_changes_nothing_and_names_exactly_the_drifted_devices(
    psim: SimHandle, pdb: tuple[str, dict[str, str]], fleet_cli: Any
) -> None:
    db, env = pdb
    sites = psim.extra["sites"]
    # Before any backup, drift from the backups knows nothing, and says so (exit 1), naming each device.
    blind = fleet_cli("config", "drift", "--stored", db=db, env=env)
    n = len(ssh_devices(psim))
    assert blind.code == 1, blind.stderr
    assert (
        f"0 of {n} device(s) differ from their playbook; {n} not compared "
        "(no backup kept yet: run 'fleet config backup')"
    ) in " ".join(blind.stdout.split())
    assert all(name in blind.stdout for name in ssh_devices(psim))
    drifted = {sites[0][0], sites[1][0], sites[1][1]}  # an IOS router, a VRP router, a codec
    for name in drifted:
        fault(psim, name, "config_drift")
    before = configs(psim, ssh_devices(psim))
    code, data, stderr = provision(fleet_cli, db, env)
    assert code == 0, stderr
    assert data["mode"] == "dry_run"
    got = outcomes(data)
    assert {n for n, o in got.items() if o == "would_change"} == drifted
    assert {n for n, o in got.items() if o == "unchanged"} == set(ssh_devices(psim)) - drifted
    assert configs(psim, ssh_devices(psim)) == before  # running and startup, byte for byte
    diff = next(d["diff"] for d in data["devices"] if d["device"] == sites[0][0])
    assert "-ntp server 10.99.0.1\n+ntp server 10.10.0.1\n" in diff  # the new line among its kin

    # The dry run kept every configuration: drift can be read from those backups without a login.
    stored = fleet_cli("config", "drift", "--stored", "--json", db=db, env=env)
    assert stored.code == 0, stored.stderr
    assert {d["device"] for d in json.loads(stored.stdout) if d["drift"]} == drifted


def test_apply_changes_the_drifted_devices_verifies_saves_and_a_second_run_has_nothing_to_do(
    psim: SimHandle, pdb: tuple[str, dict[str, str]], fleet_cli: Any
) -> None:
    db, env = pdb
    sites = psim.extra["sites"]
    drifted = {sites[2][0], sites[3][0], sites[0][1]}  # IOS, VRP, codec
    for name in drifted:
        fault(psim, name, "config_drift")
    others = [n for n in ssh_devices(psim) if n not in drifted]
    untouched = configs(psim, others)
    taken_before = datetime.now().astimezone()
    code, data, stderr = provision(fleet_cli, db, env, "--apply", "--canary", "1")
    assert code == 0, (stderr, [(d["device"], d["outcome"], d["reason"]) for d in data["devices"]])
    got = outcomes(data)
    assert {n for n, o in got.items() if o == "changed"} == drifted
    assert configs(psim, others) == untouched
    for router in (sites[2][0], sites[3][0]):
        running, startup = configs(psim, [router])[router]
        assert "10.99.0.1" not in running and running == startup  # verified, then saved
    codec = psim.get(f"/devices/{sites[0][1]}/config")
    assert 'SIP Proxy 1 Address: "sip.' in codec and "old-registrar" not in codec

    code, again, _ = provision(fleet_cli, db, env)
    assert code == 0 and set(outcomes(again).values()) == {"unchanged"}

    audit = json.loads(fleet_cli("audit", "--json", "--run", str(data["run"]), db=db, env=env).stdout)
    for name in drifted:
        actions = {(a["action"], a["outcome"]) for a in audit if a["device"] == name}
        assert {("backup", "ok"), ("push", "ok"), ("verify", "ok")} <= actions, (name, actions)
    assert {a["actor"] for a in audit} == {"noc-tester"}
    push = next(a for a in audit if a["device"] == sites[2][0] and a["action"] == "push")
    assert "+ntp server 10.10.0.1" in push["diff"]

    router = sites[2][0]
    history = json.loads(fleet_cli("config", "show", router, "--history", "--json", db=db, env=env).stdout)
    assert [h["source"] for h in history] == ["apply", "after_push"]
    earlier = fleet_cli(
        "config", "show", router, "--at", taken_before.strftime("%Y-%m-%d %H:%M:%S"), db=db, env=env
    )
    assert earlier.code == 4  # nothing kept before the first run
    latest = fleet_cli("config", "show", router, "--version", "1", db=db, env=env)
    assert latest.code == 0 and "ntp server 10.99.0.1" in latest.stdout


def test_failures_mid_push_restore_each_device_byte_for_byte_and_the_run_goes_on(
    psim: SimHandle, pdb: tuple[str, dict[str, str]], fleet_cli: Any
) -> None:
    db, env = pdb
    sites = psim.extra["sites"]
    reset, refused, locked, fine = sites[0][0], sites[1][0], sites[1][1], sites[2][0]
    for name in (reset, refused, locked, fine):
        fault(psim, name, "config_drift")
    fault(psim, reset, "reset_during_push", after_lines=1)  # IOS: drops the session on the 2nd line
    fault(psim, refused, "config_rejected", match="unicast-server 10.10.0.1")  # VRP: 'Error:' on it
    fault(psim, locked, "ssh_auth_failure")
    before = configs(psim, [reset, refused, locked])
    code, data, _stderr = provision(fleet_cli, db, env, "--apply", "--canary", "0", "--max-failure-rate", "1")
    assert code == 1
    devices = {d["device"]: d for d in data["devices"]}
    assert devices[reset]["outcome"] == "restored"
    assert devices[reset]["step"] == "push" and "reset" in devices[reset]["reason"]
    assert devices[refused]["outcome"] == "restored"
    assert devices[refused]["failed_line"] == "ntp-service unicast-server 10.10.0.1"
    assert "Error: Unrecognized command" in devices[refused]["reason"]
    assert devices[locked]["outcome"] == "failed" and devices[locked]["step"] == "login"
    assert "auth_failed" in devices[locked]["reason"]
    assert devices[fine]["outcome"] == "changed"
    assert configs(psim, [reset, refused, locked]) == before  # running and startup, byte for byte
    audit = json.loads(fleet_cli("audit", "--json", "--action", "rollback", db=db, env=env).stdout)
    assert {(a["device"], a["outcome"]) for a in audit} == {(reset, "ok"), (refused, "ok")}
    shown = fleet_cli("config", "run", str(data["run"]), db=db, env=env)
    assert "restored" in shown.stdout and "auth_failed" in shown.stdout


def test_the_canary_batch_failing_stops_the_run_before_the_others(
    psim: SimHandle, pdb: tuple[str, dict[str, str]], fleet_cli: Any
) -> None:
    db, env = pdb
    sites = psim.extra["sites"]
    first_two = [sites[0][0], sites[0][1]]  # the first devices in inventory order: the canary batch
    for name in first_two:
        fault(psim, name, "ssh_auth_failure")
    waiting = [sites[2][0], sites[3][0]]
    for name in waiting:
        fault(psim, name, "config_drift")
    before = configs(psim, waiting)
    code, data, _ = provision(fleet_cli, db, env, "--apply", "--canary", "2", "--max-failure-rate", "0.1")
    assert code == 1
    assert "canary batch failed on 2 of 2" in data["stopped"]
    got = outcomes(data)
    assert [got[n] for n in first_two] == ["failed", "failed"]
    assert {got[n] for n in got if n not in first_two} == {"not_started"}
    assert configs(psim, waiting) == before


def test_an_inventory_value_carrying_a_command_is_refused_before_anything_is_sent(
    psim: SimHandle, pdb: tuple[str, dict[str, str]], fleet_cli: Any, tmp_path: Path
) -> None:
    db, env = pdb
    site_code = psim.devices[psim.extra["sites"][0][0]].site_code
    with sqlite3.connect(db.removeprefix("sqlite:///")) as conn:  # as if written around the importer
        conn.execute("UPDATE site SET name = ? WHERE code = ?", ("Xã A\nend\nreload", site_code))
    before = configs(psim, ssh_devices(psim))
    code, _data, stderr = provision(fleet_cli, db, env, "--apply")
    assert code == 2
    assert "contains a line break" in stderr and "nothing was sent" in stderr
    assert f"site {site_code}" in stderr
    assert configs(psim, ssh_devices(psim)) == before
    runs = json.loads(fleet_cli("config", "runs", "--json", db=db, env=env).stdout)
    assert runs == []  # refused while preparing: no device was even read
    # The refusal is in the audit trail: who, why, which playbook and scope, that it was an apply.
    (entry,) = json.loads(fleet_cli("audit", "--action", "provision", "--json", db=db, env=env).stdout)
    assert (entry["actor"], entry["action"], entry["outcome"], entry["run"]) == (
        "noc-tester", "provision", "failed", None,
    )  # fmt: skip
    assert entry["detail"].startswith(
        "apply of playbook baseline refused, nothing sent to any device (scope: every device): "
    )
    assert "contains a line break" in entry["detail"] and f"site {site_code}" in entry["detail"]


def test_a_template_touching_python_internals_is_refused_before_anything_is_sent(
    psim: SimHandle, pdb: tuple[str, dict[str, str]], fleet_cli: Any, tmp_path: Path
) -> None:
    db, env = pdb
    work = tmp_path / "work"
    (work / "playbooks" / "templates" / "cisco_ios").mkdir(parents=True)
    (work / "playbooks" / "provision").mkdir(parents=True)
    (work / "playbooks" / "templates" / "cisco_ios" / "evil.j2").write_text(
        "ntp server 10.10.0.1\n{{ device.__class__.__mro__[1].__subclasses__() }}\n", encoding="utf-8"
    )
    (work / "playbooks" / "provision" / "evil.yaml").write_text(
        "name: evil\nrules:\n  - match: {driver: cisco_ios}\n    template: cisco_ios/evil.j2\n",
        encoding="utf-8",
    )
    before = configs(psim, ssh_devices(psim))
    run = fleet_cli("provision", "evil", "--apply", db=db, env=env, cwd=work)
    assert run.code == 2
    assert "cisco_ios/evil.j2:2" in run.stderr and "refused by the sandbox" in run.stderr
    assert configs(psim, ssh_devices(psim)) == before


def test_the_change_freeze_holds_devices_of_a_session_about_to_start_unless_overridden_with_a_reason(
    psim: SimHandle, pdb: tuple[str, dict[str, str]], fleet_cli: Any
) -> None:
    db, env = pdb
    router = psim.extra["sites"][2][0]
    fault(psim, router, "config_drift")
    start = (datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")) + timedelta(minutes=30)).strftime("%Y-%m-%d %H:%M")
    made = fleet_cli(
        "session",
        "create",
        "--title",
        "Hội nghị",
        "--start",
        start,
        "--dial",
        "hop@bridge.hoinghi.gov.vn",
        "--all",
        db=db,
        env=env,
    )
    assert made.code == 0, made.stderr
    before = configs(psim, [router])
    code, data, _ = provision(fleet_cli, db, env, "--apply")
    assert code == 1
    assert set(outcomes(data).values()) == {"frozen"}
    assert configs(psim, [router]) == before
    frozen_by = data["frozen_by"][0]
    assert "Hội nghị" in frozen_by and f"at {start} +07:00" in frozen_by  # the NOC's time, not UTC

    no_reason = fleet_cli("provision", "baseline", "--apply", "--override-freeze", db=db, env=env)
    assert no_reason.code == 1 and "--reason" in no_reason.stderr
    code, data, stderr = provision(
        fleet_cli, db, env, "--apply", "--override-freeze", "--reason", "NTP fix approved by the duty officer"
    )
    assert code == 0, stderr
    assert outcomes(data)[router] == "changed"
    overrides = json.loads(fleet_cli("audit", "--json", "--action", "override", db=db, env=env).stdout)
    assert len(overrides) == 1 and "NTP fix approved by the duty officer" in overrides[0]["detail"]
    assert overrides[0]["actor"] == "noc-tester"


def test_the_freeze_names_the_session_start_in_the_noc_zone_with_its_offset(
    store: Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FLEET_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("FLEET_TIMEZONE", "Asia/Ho_Chi_Minh")  # the default, whatever this machine says
    get_settings.cache_clear()
    starts = datetime(2030, 12, 5, 1, 0, tzinfo=UTC)  # 08:00 in Hanoi
    rows = [
        Province(code="01", name="Hà Nội", codename="ha_noi", division_type=DivisionType.CENTRAL_CITY),
        AdminUnit(code="00004", name="Ba Đình", division_type=DivisionType.WARD, province_code="01"),
        Site(code="00004", admin_code="00004", province_code="01", name="Ba Đình", carrier=Carrier.VNPT),
        MeetingSession(id=4, title="Hội nghị", starts_at=starts, timezone="Asia/Ho_Chi_Minh",
                       dial_string="hop@bridge.hoinghi.gov.vn", participants={"all": True},
                       status=SessionStatus.SCHEDULED),
    ]  # fmt: skip
    with store.session() as session:
        for row in rows:  # one at a time: the foreign keys need the rows before them
            session.add(row)
            session.flush()
        session.commit()
        frozen = frozen_sites(
            session, Freeze(timedelta(hours=2), timedelta(hours=4)), now=starts - timedelta(hours=1)
        )
    get_settings.cache_clear()
    assert frozen == {"00004": ["session 4 'Hội nghị' at 2030-12-05 08:00 +07:00"]}


def test_the_audit_trail_is_append_only(store: Store) -> None:
    with store.session() as session:
        session.add(AuditEvent(actor="a", action=AuditAction.PUSH, outcome=AuditOutcome.OK, device="r1"))
    for statement in ("UPDATE audit_event SET actor = 'someone else'", "DELETE FROM audit_event"):
        with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
            conn.execute(text(statement))
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT actor FROM audit_event")).scalars().all() == ["a"]


def test_config_backup_keeps_a_new_version_only_when_the_configuration_changed(
    psim: SimHandle, pdb: tuple[str, dict[str, str]], fleet_cli: Any
) -> None:
    db, env = pdb
    router = psim.extra["sites"][3][0]
    first = fleet_cli("config", "backup", "--json", db=db, env=env)
    assert first.code == 0, first.stderr
    assert set(outcomes(json.loads(first.stdout)).values()) == {"unchanged"}  # read and kept
    again = fleet_cli("config", "backup", db=db, env=env)
    assert again.code == 0
    history = json.loads(fleet_cli("config", "show", router, "--history", "--json", db=db, env=env).stdout)
    assert [h["version"] for h in history] == [1]  # the same text twice: one version, seen again
    assert history[0]["last_seen_at"] > history[0]["taken_at"]
    fault(psim, router, "config_drift")
    assert fleet_cli("config", "backup", "--role", "router", db=db, env=env).code == 0
    history = json.loads(fleet_cli("config", "show", router, "--history", "--json", db=db, env=env).stdout)
    assert [h["version"] for h in history] == [1, 2]
    shown = fleet_cli("config", "show", router, db=db, env=env)
    assert "10.99.0.1" in shown.stdout  # the drifted NTP server, in the router's own syntax


def test_a_device_is_not_changed_when_its_backup_cannot_be_stored(
    psim: SimHandle, pdb: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    _db, env = pdb
    router = psim.extra["sites"][0][0]
    fault(psim, router, "config_drift")
    before = configs(psim, [router])
    record = psim.devices[router]
    target = SshTarget(
        router, record.mgmt_address, record.ssh_port or 22, "cisco_ios", "noc", psim.password(router)
    )
    broken = Store(create_db_engine(f"sqlite:///{tmp_path / 'no-schema.db'}"))  # no tables: every write fails
    writer = Writer(broken, run_id=1, actor="t")
    job = DeviceJob(
        router,
        record.site_code,
        "cisco_ios",
        IOS,
        IOS.parse_intended("ntp server 10.10.0.1\n"),
        ("ntp server",),
    )

    def keep(device: str, text: str, source: str) -> None:
        try:
            writer.keep(device, text, source, timeout=10)
        except BackupNotStored as exc:
            raise TransportError(TransportErrorKind.INTERNAL, str(exc)) from None

    async def run() -> list[DeviceProvision]:
        client = SshClient(Path(env["FLEET_SSH_KNOWN_HOSTS"]), workers=1, time_limit=30)
        try:
            return await client.run_tasks(
                [(target, lambda c: provision_device(c, job, apply=True, keep=keep))],
                lambda _t, e: pytest.fail(str(e)),
            )
        finally:
            client.close()

    [result] = asyncio.run(run())
    assert writer.close()  # the writer says why it could not write
    assert result.outcome is DeviceOutcome.FAILED and result.step is Step.BACKUP
    assert "backup could not be stored" in result.reason
    assert configs(psim, [router]) == before


def test_an_interrupted_apply_lets_the_device_in_progress_finish_and_records_how_every_device_ended(
    psim: SimHandle, pdb: tuple[str, dict[str, str]], fleet_cli: Any, tmp_path: Path
) -> None:
    db, env = pdb
    sites = psim.extra["sites"]
    first, later = sites[0][1], sites[2][1]  # codecs
    for name in (first, later):
        fault(psim, name, "config_drift")
    fault(psim, first, "slow", delay_ms=400)  # its session takes seconds: Ctrl-C lands in the middle
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("FLEET_")} | env
    full_env |= {"FLEET_DATABASE_URL": db, "FLEET_CONFIG": str(tmp_path / "absent.toml")}
    args = [
        "provision",
        "baseline",
        "--role",
        "codec",
        "--apply",
        "--canary",
        "0",
        "--workers",
        "1",
        "--json",
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "fleet", *args],
        env=full_env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    path = db.removeprefix("sqlite:///")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # its backup is stored just before its push begins
        time.sleep(0.1)
        with contextlib.suppress(sqlite3.OperationalError), sqlite3.connect(path) as conn:
            if conn.execute("SELECT count(*) FROM config_backup WHERE device = ?", (first,)).fetchone()[0]:
                break
    else:
        pytest.fail("the first device's backup never appeared")
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    runs = json.loads(fleet_cli("config", "runs", "--json", db=db, env=env).stdout)
    assert runs[0]["status"] == "aborted"
    detail = json.loads(fleet_cli("config", "run", str(runs[0]["run"]), "--json", db=db, env=env).stdout)
    ended = {d["device"]: d for d in detail["devices"]}
    assert ended[first]["outcome"] == "changed", ended[first][
        "reason"
    ]  # it finished and was recorded as it ended
    assert "old-registrar" not in psim.get(f"/devices/{first}/config")
    assert ended[later]["outcome"] == "not_started" and "interrupted" in ended[later]["reason"]
    assert "old-registrar" in psim.get(f"/devices/{later}/config")  # never touched
