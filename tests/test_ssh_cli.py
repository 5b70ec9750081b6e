"""``fleet ssh trust`` and ``fleet ssh forget`` as a NOC engineer runs them, against the simulator."""

from __future__ import annotations

import getpass
import json
import os
from pathlib import Path
from typing import Any

import pytest

from fleet.sim.ssh import host_key
from fleet.transports.known_hosts import HostKey, KnownHosts, host_name


def names(sim: Any, index: int) -> list[str]:
    found: list[str] = sim.extra["sites"][index]
    return found


def site_code(sim: Any, index: int) -> str:
    code: str = sim.device(names(sim, index)[0]).site_code
    return code


def blob(name: str) -> str:
    return host_key(1, name).export_public_key().decode().split()[1]


def host_key_of(blob: str) -> HostKey:
    return HostKey("ssh-ed25519", blob)


def audit(cli: Any) -> list[dict[str, Any]]:
    """The host-key entries of the audit trail, newest first."""
    listed = cli("audit", "--action", "host_key", "--json")
    assert listed.code == 0, listed.stderr
    entries: list[dict[str, Any]] = json.loads(listed.stdout)
    assert {e["action"] for e in entries} <= {"host_key"}
    return entries


def key_lines(path: Path) -> dict[str, str]:
    """host name -> key blob, as the file holds them."""
    return {line.split()[0]: line.split()[2] for line in path.read_text(encoding="utf-8").splitlines()}


@pytest.fixture
def cli(fleet_cli: Any, sim: Any, tmp_path: Path) -> Any:
    """``fleet`` on a database holding the simulator's inventory; no secrets in its environment."""
    imported = fleet_cli("inventory", "import", str(sim.inventory_dir))
    assert imported.code == 0, imported.stderr

    def run(*args: str, env: dict[str, str] | None = None) -> Any:
        return fleet_cli(*args, env=env)

    return run


def test_trust_enrols_new_keys_then_finds_them_known(cli: Any, sim: Any, tmp_path: Path) -> None:
    path = tmp_path / "known_hosts"
    first = cli(
        "ssh", "trust", "--site", site_code(sim, 0), "--site", site_code(sim, 1), "--known-hosts", str(path)
    )
    assert first.code == 0, first.stderr
    assert "new" in first.stdout
    expected = {}
    for name in names(sim, 0)[:2] + names(sim, 1)[:2]:  # routers and codecs; cameras speak SNMP only
        dev = sim.device(name)
        expected[host_name(dev.mgmt_address, dev.ssh_port)] = blob(name)
    assert key_lines(path) == expected
    content = path.read_bytes()

    again = cli(
        "ssh",
        "trust",
        "--site",
        site_code(sim, 0),
        "--site",
        site_code(sim, 1),
        "--known-hosts",
        str(path),
        "--json",
    )
    assert again.code == 0, again.stderr
    report = json.loads(again.stdout)
    assert report["ok"] is True
    assert report["counts"] == {"new": 0, "known": 4, "changed": 0, "replaced": 0, "failed": 0}
    assert path.read_bytes() == content


def test_a_changed_key_is_refused_without_replace_and_replaced_with_it(
    cli: Any, sim: Any, tmp_path: Path
) -> None:
    codec, other = names(sim, 2)[1], names(sim, 4)[1]
    dev = sim.device(codec)
    path = tmp_path / "known_hosts"
    stale = f"{host_name(dev.mgmt_address, dev.ssh_port)} ssh-ed25519 {blob(other)}\n"
    path.write_text(stale, encoding="utf-8")

    refused = cli("ssh", "trust", "--device", codec, "--known-hosts", str(path))
    assert refused.code == 1
    assert f"{codec} ({host_name(dev.mgmt_address, dev.ssh_port)}): host key CHANGED" in refused.stderr
    assert "--replace" in refused.stderr
    assert path.read_text(encoding="utf-8") == stale  # nothing replaced, nothing added

    replaced = cli(
        "ssh", "trust", "--device", codec, "--known-hosts", str(path), "--replace", "--json", "--actor", "duty-officer"
    )  # fmt: skip
    assert replaced.code == 0, replaced.stderr
    assert json.loads(replaced.stdout)["counts"]["replaced"] == 1
    assert key_lines(path) == {host_name(dev.mgmt_address, dev.ssh_port): blob(codec)}

    # The audit trail: one entry per run with its counts, and one for the replaced key, old and new.
    trail = audit(cli)
    assert [(e["actor"], e["outcome"], e["device"]) for e in trail] == [
        ("duty-officer", "ok", codec),
        ("duty-officer", "ok", None),
        (os.environ.get("SUDO_USER") or getpass.getuser(), "failed", None),
    ]
    assert "changed (refused) 1, replaced 0, failed 0" in trail[2]["detail"]
    assert f"device {codec}" in trail[2]["detail"] and str(path) in trail[2]["detail"]
    assert "ssh trust --replace of 1 device(s)" in trail[1]["detail"] and "replaced 1" in trail[1]["detail"]
    old, new = (host_key_of(b).fingerprint for b in (blob(other), blob(codec)))
    assert f"was {old}, now {new}" in trail[0]["detail"]


def test_unreachable_devices_fail_with_their_reason_and_the_rest_are_enrolled(
    cli: Any, sim: Any, tmp_path: Path
) -> None:
    path = tmp_path / "known_hosts"
    run = cli(
        "ssh", "trust", "--site", site_code(sim, 5), "--site", site_code(sim, 12),
        "--timeout", "1", "--known-hosts", str(path), "--json",
    )  # fmt: skip
    assert run.code == 1
    report = json.loads(run.stdout)
    assert report["counts"]["new"] == 1  # site 5's codec: its router has no SSH banner but still routes
    assert report["counts"]["failed"] == 3
    failed = {f["device"]: f["error"] for f in report["failed"]}
    assert failed == {
        names(sim, 5)[0]: "banner_timeout",
        names(sim, 12)[0]: "refused",  # powered off
        names(sim, 12)[1]: "refused",  # behind it
    }
    codec = sim.device(names(sim, 5)[1])
    assert KnownHosts.load(path).lookup(codec.mgmt_address, codec.ssh_port)  # the reachable one was recorded


def test_setting_names_the_file_and_forget_removes_keys(cli: Any, sim: Any, tmp_path: Path) -> None:
    router, codec = names(sim, 6)[:2]
    path = tmp_path / "from-setting"
    env = {"FLEET_SSH_KNOWN_HOSTS": str(path), "FLEET_ACTOR": "noc-night-shift"}
    assert cli("ssh", "trust", "--device", router, "--device", codec, env=env).code == 0
    assert len(key_lines(path)) == 2
    forgot = cli("ssh", "forget", router, codec, env=env)
    assert forgot.code == 0, forgot.stderr
    assert "removed 1 key(s)" in forgot.stderr
    assert key_lines(path) == {}

    trail = audit(cli)  # the trust run, then one entry per key forgotten
    assert [e["actor"] for e in trail] == ["noc-night-shift"] * 3
    assert trail[2]["device"] is None and "new 2, known 0" in trail[2]["detail"]
    forgotten = {e["device"]: e["detail"] for e in trail[:2]}
    for name in (router, codec):
        dev = sim.device(name)
        fingerprint = host_key_of(blob(name)).fingerprint
        where = host_name(dev.mgmt_address, dev.ssh_port)
        assert forgotten[name] == f"host key of {where} forgotten from {path}: {fingerprint} (ssh-ed25519)"


def test_selections_without_ssh_devices_or_with_unknown_names_are_errors(cli: Any, tmp_path: Path) -> None:
    path = str(tmp_path / "known_hosts")
    cameras = cli("ssh", "trust", "--role", "camera", "--known-hosts", path)
    assert cameras.code == 4
    assert "SSH-capable" in cameras.stderr
    unknown = cli("ssh", "trust", "--device", "no-such-device", "--known-hosts", path)
    assert unknown.code == 4
    assert "no-such-device" in unknown.stderr
    no_site = cli("ssh", "trust", "--site", "99999", "--known-hosts", path)
    assert no_site.code == 4
    assert "99999" in no_site.stderr
    assert not Path(path).exists()
