"""fleet's SSH transport: the known_hosts file, host key fetching, and the netmiko collector on the simulator."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from fleet.drivers.ssh_health import CODEC_COMMANDS
from fleet.sim.ssh import host_key
from fleet.transports.errors import TransportError, TransportErrorKind
from fleet.transports.known_hosts import Enrolment, HostKey, KnownHosts, fetch_host_key, host_name
from fleet.transports.ssh import SshClient, SshResult, SshTarget
from fleet.transports.ssh_read import StatusReader

NETMIKO_TYPE = {"cisco_ios": "cisco_ios", "huawei_vrp": "huawei", "cisco_ce": "cisco_tp"}


def names(sim: Any, index: int) -> list[str]:
    found: list[str] = sim.extra["sites"][index]
    return found


def sim_key(name: str) -> HostKey:
    """The simulator's own host key for a device (fleet sim --seed 1 in the test fixture)."""
    key_type, blob = host_key(1, name).export_public_key().decode().split()[:2]
    return HostKey(key_type, blob)


KEY_A, KEY_B = sim_key("test-a"), sim_key("test-b")


def target(sim: Any, name: str, password: str | None = None) -> SshTarget:
    dev = sim.device(name)
    return SshTarget(
        name, dev.mgmt_address, dev.ssh_port, NETMIKO_TYPE[dev.driver], "noc", password or sim.password(name)
    )


Collector = SshClient | StatusReader


@pytest.fixture(params=["netmiko", "asyncssh"])
def collector(request: pytest.FixtureRequest) -> Any:
    """Both ways a sweep reads devices: each must keep the same contract."""

    def make(known_hosts: Path, *, workers: int = 50, **kw: Any) -> Collector:
        if request.param == "netmiko":
            return SshClient(known_hosts, workers=workers, **kw)
        return StatusReader(known_hosts, in_flight=workers, **kw)

    return make


def run(client: Collector, jobs: Sequence[tuple[SshTarget, Sequence[str]]], **kw: Any) -> list[SshResult]:
    try:
        return asyncio.run(client.run_many(jobs, **kw))
    finally:
        client.close()


@pytest.fixture(scope="module")
def enrolled(sim: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """known_hosts with every SSH device of the test simulator that has a key to fetch."""
    path = tmp_path_factory.mktemp("ssh") / "known_hosts"
    known = KnownHosts.load(path)
    for index in range(13):
        for name in names(sim, index)[:2]:
            dev = sim.device(name)
            try:
                key = fetch_host_key(dev.mgmt_address, dev.ssh_port, 2.0)
            except TransportError:
                continue  # no banner, powered off, behind a dark router
            assert known.enrol(dev.mgmt_address, dev.ssh_port, key) is Enrolment.NEW
    known.save()
    return path


# --- known_hosts, without the simulator ------------------------------------------------------------


def hashed(name: str, salt: bytes = b"0123456789abcdefghij") -> str:
    digest = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"


def test_known_hosts_lookup_keeps_what_fleet_does_not_manage(tmp_path: Path) -> None:
    path = tmp_path / "known_hosts"
    lines = [
        "# NOC host keys",
        f"[127.0.1.2]:2222 {KEY_A.key_type} {KEY_A.blob}",
        f"other.example,[127.0.1.3]:2222 {KEY_B.key_type} {KEY_B.blob} a comment",
        f"{hashed('[127.0.1.4]:2222')} {KEY_A.key_type} {KEY_A.blob}",
        f"@revoked [127.0.1.5]:2222 {KEY_B.key_type} {KEY_B.blob}",
        "",
        "127.0.1.6 ssh-ed25519 not-base64!",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    known = KnownHosts.load(path)
    assert known.lookup("127.0.1.2", 2222) == [KEY_A]
    assert known.lookup("127.0.1.3", 2222) == [KEY_B]
    assert known.lookup("127.0.1.4", 2222) == [KEY_A]  # hashed names are found too
    assert known.lookup("127.0.1.5", 2222) == []  # a revoked key is never a trusted one
    assert known.lookup("127.0.1.2", 22) == []  # another port is another host
    resolve = known.resolver()
    for address in ("127.0.1.2", "127.0.1.3", "127.0.1.4", "127.0.1.5", "127.0.1.9"):
        assert resolve(address, 2222) == known.lookup(address, 2222)
    assert known.render() == path.read_text(encoding="utf-8")  # unchanged lines come back byte for byte


def test_enrol_records_new_keeps_known_and_refuses_changed(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "known_hosts"
    known = KnownHosts.load(path)  # a missing file is an empty one
    assert len(known) == 0
    assert known.enrol("127.0.1.2", 2222, KEY_A) is Enrolment.NEW
    assert known.enrol("127.0.1.2", 2222, KEY_A) is Enrolment.KNOWN
    assert known.enrol("127.0.1.2", 2222, KEY_B) is Enrolment.CHANGED
    assert known.lookup("127.0.1.2", 2222) == [KEY_A]  # refused: the recorded key stays
    known.save()
    assert path.read_text(encoding="utf-8") == f"[127.0.1.2]:2222 ssh-ed25519 {KEY_A.blob}\n"
    assert known.enrol("127.0.1.2", 2222, KEY_B, replace=True) is Enrolment.REPLACED
    assert known.enrol("10.0.0.1", 22, KEY_A) is Enrolment.NEW
    known.save()
    assert path.read_text(encoding="utf-8") == (
        f"[127.0.1.2]:2222 ssh-ed25519 {KEY_B.blob}\n10.0.0.1 ssh-ed25519 {KEY_A.blob}\n"
    )
    assert [p.name for p in path.parent.iterdir()] == ["known_hosts"]  # no temporary file left behind
    again = KnownHosts.load(path)
    assert again.forget("127.0.1.2", 2222) == 1
    assert again.forget("127.0.1.2", 2222) == 0
    assert again.changed
    again.save()
    assert KnownHosts.load(path).lookup("127.0.1.2", 2222) == []
    assert host_name("::1", 2222) == "[::1]:2222"


def test_fingerprint_is_the_one_openssh_prints(tmp_path: Path) -> None:
    if shutil.which("ssh-keygen") is None:
        pytest.skip("OpenSSH's ssh-keygen is not installed")
    path = tmp_path / "key.pub"
    path.write_text(f"{KEY_A.key_type} {KEY_A.blob}\n", encoding="utf-8")
    out = subprocess.run(["ssh-keygen", "-lf", str(path)], capture_output=True, text=True, check=True)
    assert out.stdout.split()[1] == KEY_A.fingerprint


def test_target_repr_never_shows_the_password() -> None:
    secret = "s3cret-SENTINEL"  # noqa: S105 - a test value
    t = SshTarget("vn00004-codec", "127.2.0.1", 2222, "cisco_tp", "noc", secret)
    assert secret not in repr(t)
    assert secret not in str(t)
    assert "vn00004-codec" in repr(t)


# --- fetching host keys ---------------------------------------------------------------------------


def test_fetch_host_key_gets_the_device_key_without_logging_in(sim: Any) -> None:
    for name in (names(sim, 0)[1], names(sim, 1)[0], names(sim, 3)[0]):  # codec, VRP router, auth failure
        dev = sim.device(name)
        assert fetch_host_key(dev.mgmt_address, dev.ssh_port, 5.0) == sim_key(name)


def test_fetch_host_key_failures_are_classified_and_bounded(sim: Any) -> None:
    off = sim.device(names(sim, 12)[0])
    with pytest.raises(TransportError) as refused:
        fetch_host_key(off.mgmt_address, off.ssh_port, 5.0)
    assert refused.value.kind is TransportErrorKind.REFUSED
    silent = sim.device(names(sim, 5)[0])
    started = time.monotonic()
    with pytest.raises(TransportError) as banner:
        fetch_host_key(silent.mgmt_address, silent.ssh_port, 1.0)
    assert banner.value.kind is TransportErrorKind.BANNER_TIMEOUT
    assert 0.9 <= time.monotonic() - started < 2.0


# --- the collector ------------------------------------------------------------------------------


def test_healthy_codec_and_routers_answer_in_order(collector: Any, sim: Any, enrolled: Path) -> None:
    ios, codec = names(sim, 0)[:2]
    vrp = names(sim, 1)[0]
    jobs = [
        (target(sim, codec), ["xStatus SystemUnit Software Version", "xStatus SIP Registration"]),
        (target(sim, ios), ["show version", "show ip interface brief"]),
        (target(sim, vrp), ["display version"]),
    ]
    seen: list[str] = []
    results = run(
        collector(enrolled, workers=2, time_limit=20), jobs, on_result=lambda r: seen.append(r.name)
    )
    assert [r.name for r in results] == [codec, ios, vrp]
    assert sorted(seen) == sorted([codec, ios, vrp])
    for r in results:
        assert r.ok, (r.name, r.error, r.detail)
        assert 0 < r.elapsed < 20
    version = results[0].outputs["xStatus SystemUnit Software Version"]
    assert version.startswith('*s SystemUnit Software Version: "ce11.')
    assert version.rstrip().endswith("** end\n\nOK")  # the xAPI verdict is kept for the parser
    assert "*s SIP Registration 1 Status: Registered" in results[0].outputs["xStatus SIP Registration"]
    assert "Version 17.09.05" in results[1].outputs["show version"]
    assert "GigabitEthernet0/0/0" in results[1].outputs["show ip interface brief"]
    assert not results[1].outputs["show ip interface brief"].rstrip().endswith("#")  # prompt stripped
    assert "VRP (R) software" in results[2].outputs["display version"]


def test_failures_are_classified(collector: Any, sim: Any, enrolled: Path) -> None:
    auth, silent, off, dark = names(sim, 3)[0], names(sim, 5)[0], names(sim, 12)[0], names(sim, 9)[1]
    jobs = [(target(sim, n), ["show version"]) for n in (auth, silent, off, dark)]
    started = time.monotonic()
    results = run(collector(enrolled, workers=4, time_limit=10, connect_timeout=1.0), jobs)
    wall = time.monotonic() - started
    kinds = {r.name: r.error for r in results}
    assert kinds == {
        auth: TransportErrorKind.AUTH_FAILED,
        silent: TransportErrorKind.BANNER_TIMEOUT,  # within connect_timeout, well inside the time limit
        off: TransportErrorKind.REFUSED,
        dark: TransportErrorKind.REFUSED,  # behind a dark router
    }
    assert wall < 4
    # Whether anything answered at the address: a sweep tells a dead device from a dead SSH by this.
    assert {r.name: r.connected for r in results} == {auth: True, silent: True, off: False, dark: False}
    assert all(r.detail and sim.password(r.name) not in r.detail for r in results)
    assert "login refused for user 'noc'" in results[0].detail


def test_unknown_host_key_is_refused_and_nothing_is_written(collector: Any, sim: Any, tmp_path: Path) -> None:
    codec = names(sim, 0)[1]
    empty = tmp_path / "known_hosts"
    empty.write_text("# nothing enrolled yet\n", encoding="utf-8")
    missing = tmp_path / "absent"
    for path in (empty, missing):
        [result] = run(collector(path, time_limit=10), [(target(sim, codec), ["xStatus SystemUnit"])])
        assert result.error is TransportErrorKind.HOST_KEY_UNKNOWN
        assert f"fleet ssh trust --device {codec}" in result.detail
        assert sim_key(codec).fingerprint in result.detail
        assert result.outputs == {}
    assert empty.read_text(encoding="utf-8") == "# nothing enrolled yet\n"
    assert not missing.exists()


def test_changed_host_key_is_refused_and_not_replaced(collector: Any, sim: Any, tmp_path: Path) -> None:
    codec, other = names(sim, 0)[1], names(sim, 1)[1]
    dev = sim.device(codec)
    path = tmp_path / "known_hosts"
    wrong = sim_key(other)
    path.write_text(
        f"{host_name(dev.mgmt_address, dev.ssh_port)} {wrong.key_type} {wrong.blob}\n", encoding="utf-8"
    )
    before = path.read_bytes()
    [result] = run(collector(path, time_limit=10), [(target(sim, codec), ["xStatus SystemUnit"])])
    assert result.error is TransportErrorKind.HOST_KEY_CHANGED
    assert sim_key(codec).fingerprint in result.detail and wrong.fingerprint in result.detail
    assert "--replace" in result.detail
    assert path.read_bytes() == before


def test_a_hung_device_is_cut_off_at_the_time_limit_and_frees_its_worker(
    collector: Any, sim: Any, enrolled: Path
) -> None:
    slow, healthy = names(sim, 10)[1], names(sim, 0)[1]  # a scratch codec; every answer 60 s late
    arrived: dict[str, float] = {}
    limit = 2.0
    sim.send("POST", "/faults", {"device": slow, "fault": "slow", "params": {"delay_ms": 60000}})
    try:
        started = time.monotonic()
        results = run(
            collector(enrolled, workers=1, time_limit=limit),  # one worker: the healthy codec waits for it
            [(target(sim, slow), ["xStatus SystemUnit"]), (target(sim, healthy), ["xStatus SystemUnit"])],
            on_result=lambda r: arrived.setdefault(r.name, time.monotonic() - started),
        )
    finally:
        sim.send("DELETE", "/faults", {"device": slow, "fault": "slow"})
    hung, ok = results
    assert hung.error is TransportErrorKind.TIMEOUT
    assert hung.detail == "connected, but the session did not finish within 2 s"
    assert hung.connected
    assert limit <= arrived[slow] < limit + 0.5  # reported at the deadline, not when the thread ends
    assert ok.ok, ok.detail
    assert arrived[healthy] < limit + 1.5  # the hung session's worker was freed at the deadline


def test_a_connection_reset_is_reported_at_once(collector: Any, sim: Any, enrolled: Path) -> None:
    codec = names(sim, 11)[1]  # a scratch codec
    sim.send("POST", "/faults", {"device": codec, "fault": "reset_during_push", "params": {"after_lines": 0}})
    try:
        [result] = run(
            collector(enrolled, time_limit=20),
            [
                (
                    target(sim, codec),
                    ["xStatus SystemUnit", 'xConfiguration SIP Proxy 1 Address: "sip.reset.test"'],
                )
            ],
        )
    finally:
        sim.send("DELETE", "/faults", {"device": codec, "fault": "reset_during_push"})
    assert result.error is TransportErrorKind.RESET
    assert result.detail == "the device reset the connection"
    assert result.elapsed < 3  # not netmiko's read timeout on a dead channel
    assert "*s SystemUnit ProductType" in result.outputs["xStatus SystemUnit"]  # what came before is kept


def test_transcripts_are_written_per_device_with_the_password_redacted(
    collector: Any, sim: Any, enrolled: Path, tmp_path: Path
) -> None:
    codec, ios = names(sim, 0)[:2][::-1]
    off = names(sim, 12)[0]
    transcripts = tmp_path / "transcripts"
    secret = {n: sim.password(n) for n in (codec, ios)}
    jobs = [
        # Commands that make each device echo the password back: it must not reach the transcript.
        (target(sim, codec), ["xStatus SystemUnit Software Version", f"xStatus {secret[codec]}"]),
        (target(sim, ios), [f"show {secret[ios]}"]),
        (target(sim, off), ["show version"]),
    ]
    results = run(collector(enrolled, time_limit=20, transcripts=transcripts), jobs)
    assert [r.ok for r in results] == [True, True, False]
    assert secret[codec] in results[0].outputs[f"xStatus {secret[codec]}"]  # the device did echo it
    files = {p.name: p.read_text(encoding="utf-8") for p in transcripts.iterdir()}
    assert set(files) == {f"{codec}.log", f"{ios}.log", f"{off}.log"}
    for text in files.values():
        assert all(s not in text for s in secret.values())
    assert '*s SystemUnit Software Version: "ce11.' in files[f"{codec}.log"]
    assert "xStatus ********" in files[f"{codec}.log"]
    assert "show ********" in files[f"{ios}.log"]
    assert re.search(rf"\n--- fleet: {codec} ok \(\d+\.\d\d s\)\n$", files[f"{codec}.log"])
    assert f"--- fleet: {off} refused:" in files[f"{off}.log"]


def test_an_unknown_device_type_is_reported_not_raised(collector: Any, sim: Any, enrolled: Path) -> None:
    codec = names(sim, 0)[1]
    dev = sim.device(codec)
    bogus = SshTarget(codec, dev.mgmt_address, dev.ssh_port, "no_such_type", "noc", "x")
    [result] = run(collector(enrolled), [(bogus, ["show version"])])
    assert result.error is TransportErrorKind.INTERNAL
    assert "no_such_type" in result.detail


def steady(outputs: dict[str, str]) -> dict[str, str]:
    """Outputs without what changes from one second to the next (clocks, uptime)."""
    moving = re.compile(r"\d{1,2}:\d\d:\d\d(?:\.\d+)?|Uptime: \d+")
    return {command: moving.sub("<time>", text) for command, text in outputs.items()}


def test_the_status_reader_returns_what_netmiko_returns(sim: Any, enrolled: Path) -> None:
    """The parsers must read the same text whichever path ran: outputs equal, character for character."""
    ios, codec = names(sim, 0)[:2]
    vrp, codec2 = names(sim, 1)[:2]
    jobs = [
        (target(sim, codec), [*CODEC_COMMANDS, "xStatus NoSuchThing"]),
        (target(sim, codec2), ["xStatus SystemUnit Software Version"]),
        (target(sim, ios), ["show version", "show clock", "show ip interface brief", "show no-such"]),
        (target(sim, vrp), ["display version", "display clock", "display no-such"]),
    ]
    by_netmiko = run(SshClient(enrolled, workers=4, time_limit=20), jobs)
    by_reader = run(StatusReader(enrolled, in_flight=4, time_limit=20), jobs)
    for old, new in zip(by_netmiko, by_reader, strict=True):
        assert old.ok and new.ok, (old.detail, new.detail)
        assert steady(new.outputs) == steady(old.outputs)
        assert all(new.outputs.values())
