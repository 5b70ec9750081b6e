"""Backups and pushes over slow links: whole or refused, never a partial read recorded as good.

A simulator of 2 sites (an IOS and a VRP router, two codecs) on 127.246-248.x.y whose devices have
the 'slow' fault (every byte they send, echo included, arrives late), as a rural line does.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleet.drivers.configs import IOS, VRP, XAPI
from tests.simulator import SimHandle, start_simulator

ADDRESS_BASE = 246
DELAY_MS = 600


@pytest.fixture(scope="module")
def slow_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimHandle]:
    handle = start_simulator(tmp_path_factory.mktemp("slowsim"), 2, None, address_base=ADDRESS_BASE)
    names = list(handle.devices)
    handle.extra["sites"] = [names[i * 3 : i * 3 + 3] for i in range(2)]
    try:
        yield handle
    finally:
        handle.stop()


def test_slow_devices_are_backed_up_whole_and_changed_or_refused_truthfully(
    slow_sim: SimHandle, fleet_cli: Any, tmp_path: Path
) -> None:
    sites = slow_sim.extra["sites"]
    ios, vrp, codec = sites[0][0], sites[1][0], sites[0][1]
    db = f"sqlite:///{tmp_path / 'slow.db'}"
    env = dict(slow_sim.env) | {"FLEET_SSH_KNOWN_HOSTS": str(tmp_path / "known_hosts")}
    assert fleet_cli("inventory", "import", str(slow_sim.inventory_dir), db=db, env=env).code == 0
    assert fleet_cli("ssh", "trust", db=db, env=env).code == 0
    for name in (ios, vrp, codec):
        slow_sim.send("POST", "/faults", {"device": name, "fault": "config_drift"})
        slow_sim.send("POST", "/faults", {"device": name, "fault": "slow", "params": {"delay_ms": DELAY_MS}})
    try:
        backup = fleet_cli("config", "backup", "--json", db=db, env=env)
        assert backup.code == 0, backup.stderr
        ended = {d["device"]: d["outcome"] for d in json.loads(backup.stdout)["devices"]}
        assert set(ended.values()) == {"unchanged"}, ended  # read and kept, every one
        with sqlite3.connect(db.removeprefix("sqlite:///")) as conn:
            kept = dict(conn.execute("SELECT device, text FROM config_backup").fetchall())
        for name, syntax in ((ios, IOS), (vrp, VRP), (codec, XAPI)):
            device_text = slow_sim.get(f"/devices/{name}/config")
            # every line the device holds was kept: the whole configuration, as it is
            assert syntax.parse(kept[name]) == syntax.parse(device_text), name

        applied = fleet_cli("provision", "baseline", "--apply", "--canary", "0", "--json", db=db, env=env)
        data = json.loads(applied.stdout)
        got = {d["device"]: d for d in data["devices"]}
        for name in (ios, vrp, codec):
            assert got[name]["outcome"] == "changed", (name, got[name])
        assert applied.code == 0, applied.stderr
        assert "10.99.0.1" not in slow_sim.get(f"/devices/{ios}/config")
        assert "old-registrar" not in slow_sim.get(f"/devices/{codec}/config")
    finally:
        for name in (ios, vrp, codec):
            slow_sim.send("DELETE", "/faults", {"device": name})
