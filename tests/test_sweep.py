"""`fleet sweep` against the simulator: every device judged as the ground truth says, then stored."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import pytest

from fleet.domain.enums import Carrier, Role
from fleet.domain.health import DeviceHealth, DeviceStatus, Finding, Party, Problem
from fleet.inventory.validate import validate_paths
from fleet.sim.expect import SweepConditions, compare
from tests.simulator import SimHandle


def devices_of(sim: SimHandle) -> dict[str, tuple[Role, Carrier, str]]:
    carriers = {s.code: s.carrier for s in validate_paths([sim.inventory_dir]).inventory.sites}
    return {name: (d.role, carriers[d.site_code], d.site_code) for name, d in sim.devices.items()}


def healths_from(payload: dict[str, Any]) -> list[DeviceHealth]:
    return [
        DeviceHealth(
            d["device"],
            d["site"],
            DeviceStatus(d["status"]),
            [
                Problem(Finding(p["finding"]), p["detail"], Party(p["party"]), p.get("cause"))
                for p in d["problems"]
            ],
            d["facts"],
        )
        for d in payload["devices"]
    ]


@pytest.mark.parametrize("reader", ["asyncssh", "netmiko"])
def test_full_sweep_matches_the_ground_truth_and_is_stored(
    sim: SimHandle, fleet_cli: Any, swept_db: tuple[str, dict[str, str]], reader: str
) -> None:
    """Either SSH reader (sessions started during SNMP, or netmiko batches after it): the same verdicts."""
    db, env = swept_db
    env = env | {"FLEET_SSH_READER": reader}
    scratch = sim.extra["sites"][10]
    sim.send("POST", "/faults", {"device": scratch[2], "fault": "snmp_malformed"})
    sim.send("POST", "/faults", {"device": scratch[1], "fault": "ssh_reset"})
    try:
        run = fleet_cli("sweep", "--json", db=db, env=env)
        truth = sim.get("/truth")
    finally:
        sim.send("DELETE", "/faults", {"device": scratch[2], "fault": "snmp_malformed"})
        sim.send("DELETE", "/faults", {"device": scratch[1], "fault": "ssh_reset"})
    assert run.code == 1, run.stderr  # completed, with faults
    payload = json.loads(run.stdout)
    assert payload["status"] == "completed" and len(payload["devices"]) == len(sim.devices)
    result = compare(healths_from(payload), truth, devices_of(sim))
    assert result.mismatches == [], "\n".join(result.mismatches)
    assert result.out_of_scope == {"config_drift": 1, "reset_during_push": 2}
    by_name = {d["device"]: d for d in payload["devices"]}
    # Spot-check reasons a NOC engineer reads: the specific error of each failing path.
    assert "SSH auth_failed" in by_name[sim.extra["sites"][3][0]]["problems"][0]["detail"]
    assert by_name[scratch[2]]["problems"][0]["finding"] == "snmp_malformed"
    assert by_name[scratch[1]]["problems"][0]["finding"] == "ssh_reset"
    dark = sim.extra["sites"][9]
    assert [p["cause"] for d in dark[1:] for p in by_name[d]["problems"]] == [dark[0], dark[0]]
    healthy = sim.extra["sites"][0] + sim.extra["sites"][1]
    assert all(by_name[d]["status"] == "up" for d in healthy)

    status = fleet_cli("status", "--json", db=db, env=env)
    assert status.code == 0, status.stderr
    stored = {d["device"]: d for d in json.loads(status.stdout)["devices"]}
    assert {n: d["status"] for n, d in stored.items()} == {n: d["status"] for n, d in by_name.items()}

    table = fleet_cli("status", sim.device(dark[0]).site_code, db=db, env=env)
    assert table.code == 0, table.stderr
    assert "unreachable behind router" in table.stdout and "WAN interface" in table.stdout


def test_scoped_snmp_only_sweep_and_its_summary(
    sim: SimHandle, fleet_cli: Any, swept_db: tuple[str, dict[str, str]]
) -> None:
    db, env = swept_db
    run = fleet_cli("sweep", "--snmp-only", "--role", "camera", db=db, env=env)
    assert run.code == 1, run.stderr  # completed, with faults
    cameras = [n for n, d in sim.devices.items() if d.role is Role.CAMERA]
    assert f"{len(cameras)} devices" in run.stderr and "SSH 0.0 s for 0 sessions" in run.stderr
    assert "by province" in run.stdout and "by carrier" in run.stdout
    off_camera = sim.extra["sites"][5][2]
    line = next(line for line in run.stdout.splitlines() if off_camera in line)
    assert "down" in line and "no answer to SNMP" in line
    snmp_only = fleet_cli("sweep", "--snmp-only", "--json", db=db, env=env)
    assert snmp_only.code == 1, snmp_only.stderr
    result = compare(
        healths_from(json.loads(snmp_only.stdout)),
        sim.get("/truth"),
        devices_of(sim),
        SweepConditions(snmp_only=True),
    )
    assert result.mismatches == [], "\n".join(result.mismatches)
    unknown = fleet_cli("sweep", "--province", "Atlantis", db=db, env=env)
    assert unknown.code != 0 and "Atlantis" in unknown.stderr

    # Without its secrets a sweep refuses to start, names each one, and keeps the recorded state.
    before = fleet_cli("status", "--json", db=db, env=env).stdout
    # The cameras' community and the routers' SNMPv3 keys unset: the run must name each and record nothing.
    missing = {k: v for k, v in env.items() if k.endswith(("_SNMP_COMMUNITY", "_SNMP_AUTH_KEY"))}
    assert missing
    cut = {k: v for k, v in env.items() if k not in missing}
    v3_keys = {k for k in missing if k.endswith("_AUTH_KEY")}
    for args, named in ((("sweep", "--snmp-only"), set(missing)), (("sweep", "--role", "codec"), v3_keys)):
        refused = fleet_cli(*args, db=db, env=cut)
        assert refused.code == 6, refused.stderr
        for name in missing:  # each reference its devices need is named; no other
            assert (f"env:{name} is not set" in refused.stderr) == (name in named), refused.stderr
        assert "the run did not start, no device was contacted" in refused.stderr
        assert all(v not in refused.stderr + refused.stdout for v in missing.values())
    assert fleet_cli("status", "--json", db=db, env=env).stdout == before
    with sqlite3.connect(db.removeprefix("sqlite:///")) as conn:
        statuses = [row[0] for row in conn.execute("SELECT status FROM sweep")]
    assert statuses == ["completed", "completed"]
