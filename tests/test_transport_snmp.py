"""fleet's SNMP transport against the simulator, small fake agents and net-snmp's snmpd: values as
plain Python values, each failure as fleet's own kind, the confirm pass, malformed answers, worker
processes."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto import rfc1902
from pysnmp.proto.api import v2c

from fleet.domain.enums import SnmpAuthProtocol, SnmpPrivProtocol, SnmpVersion
from fleet.transports import snmp
from fleet.transports.errors import TransportErrorKind
from fleet.transports.snmp import SnmpClient, SnmpCredentials, SnmpResult, SnmpTarget
from fleet.transports.snmp import client as snmp_client

SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
SYS_NAME = "1.3.6.1.2.1.1.5.0"
IF_OPER_WAN = "1.3.6.1.2.1.2.2.1.8.1"
IF_HC_IN_OCTETS = "1.3.6.1.2.1.31.1.1.1.6.1"
ABSENT = "1.3.6.1.2.1.1.9.0"
OIDS = [SYS_NAME, SYS_OBJECT_ID, SYS_UPTIME, IF_OPER_WAN, IF_HC_IN_OCTETS, ABSENT]


def target(
    sim: Any,
    name: str,
    *,
    user: str | None = None,
    auth_key: str | None = None,
    priv_key: str | None = None,
    community: str | None = None,
) -> SnmpTarget:
    dev = sim.device(name)
    if dev.credential_profile == "camera-v2c":
        creds = SnmpCredentials(
            SnmpVersion.V2C, community=community or sim.env["FLEET_CAMERA_SNMP_COMMUNITY"]
        )
    else:
        carrier = "VIETTEL" if dev.credential_profile.startswith("viettel") else "VNPT"
        creds = SnmpCredentials(
            SnmpVersion.V3,
            user=user or f"noc-{carrier.lower()}",
            auth_protocol=SnmpAuthProtocol.SHA,
            auth_key=auth_key or sim.env[f"FLEET_{carrier}_SNMP_AUTH_KEY"],
            priv_protocol=SnmpPrivProtocol.AES,
            priv_key=priv_key or sim.env[f"FLEET_{carrier}_SNMP_PRIV_KEY"],
        )
    return SnmpTarget(name, dev.mgmt_address, dev.snmp_port, creds)


def sweep(
    targets: list[SnmpTarget], oids: list[str] = OIDS, **options: Any
) -> tuple[list[SnmpResult], list[SnmpResult], float]:
    """Results in request order, results in on_result order, and the wall time."""
    options = {"timeout": 0.5, "retries": 1} | options
    seen: list[SnmpResult] = []

    async def run() -> list[SnmpResult]:
        client = SnmpClient(**options)
        try:
            return await client.get_many([(t, oids) for t in targets], seen.append)
        finally:
            client.close()

    started = time.perf_counter()
    results = asyncio.run(run())
    return results, seen, time.perf_counter() - started


def by_name(results: list[SnmpResult]) -> dict[str, SnmpResult]:
    return {r.name: r for r in results}


# --- against the simulator ------------------------------------------------------------------------


def test_v2c_and_v3_answers_are_plain_values_in_request_order(sim: Any) -> None:
    router, codec, camera = sim.extra["sites"][0]
    wan_down_router = sim.extra["sites"][9][0]
    targets = [target(sim, n) for n in (router, codec, camera, wan_down_router)]
    results, seen, _wall = sweep(targets)

    assert [r.name for r in results] == [router, codec, camera, wan_down_router]
    assert sorted(r.name for r in seen) == sorted(r.name for r in results)  # on_result once per device
    for result in results:
        assert result.ok, result
        assert result.values[SYS_NAME] == result.name.encode()  # OCTET STRING -> bytes
        assert isinstance(result.values[SYS_UPTIME], int)  # TimeTicks -> int
        assert isinstance(result.values[IF_HC_IN_OCTETS], int)  # Counter64 -> int
        assert isinstance(result.values[SYS_OBJECT_ID], str)  # OBJECT IDENTIFIER -> dotted str
        assert str(result.values[SYS_OBJECT_ID]).startswith("1.3.6.1.4.1.")
        assert result.missing == [ABSENT]
        assert result.attempts == 1
        assert 0 < result.elapsed < 0.5
    assert by_name(results)[router].values[IF_OPER_WAN] == 1
    assert by_name(results)[wan_down_router].values[IF_OPER_WAN] == 2


def test_each_failure_is_reported_as_fleets_kind(sim: Any) -> None:
    sites = sim.extra["sites"]
    dead_camera = sites[2][2]  # snmp_dead
    off_router = sites[12][0]  # powered_off
    behind_off_router = sites[12][1]  # its site is dark
    wrong_auth = target(sim, sites[1][0], auth_key="definitely-the-wrong-key")
    wrong_priv = target(sim, sites[1][1], priv_key="definitely-the-wrong-priv-key")
    unknown_user = target(sim, sites[0][0], user="nobody-here")
    wrong_community = target(sim, sites[1][2], community="not-the-community")
    targets = [
        target(sim, dead_camera),
        target(sim, off_router),
        target(sim, behind_off_router),
        wrong_auth,
        wrong_priv,
        unknown_user,
        wrong_community,
    ]
    results, _seen, wall = sweep(targets, timeout=0.4, retries=1)
    got = by_name(results)

    for name in (dead_camera, off_router, behind_off_router, wrong_community.name):
        assert got[name].error is TransportErrorKind.TIMEOUT, got[name]
        assert got[name].attempts == 2  # the main pass and one confirm
        assert "no answer to 2 request(s) of 0.4 s" in got[name].detail
    assert "wrong community" in got[wrong_community.name].detail  # a v2c agent's silence, explained
    assert got[wrong_auth.name].error is TransportErrorKind.AUTH_FAILED
    assert "wrong authentication key" in got[wrong_auth.name].detail
    assert got[wrong_priv.name].error is TransportErrorKind.AUTH_FAILED
    assert "wrong privacy key" in got[wrong_priv.name].detail
    assert got[unknown_user.name].error is TransportErrorKind.AUTH_FAILED
    assert "nobody-here" in got[unknown_user.name].detail
    for creds in (wrong_auth.credentials, wrong_community.credentials):
        assert "definitely" not in repr(creds) and "not-the-community" not in repr(creds)
    assert wall < 2.5  # the silent devices were timed out together, twice (0.8 s), not one after another


def test_a_slow_device_is_measured_by_its_own_latency(sim: Any) -> None:
    slow_camera = sim.extra["sites"][3][2]  # every answer 700 ms late
    results, _seen, _wall = sweep([target(sim, slow_camera)], timeout=1.0)
    (result,) = results
    assert result.ok, result
    assert result.attempts == 1
    assert 0.65 <= result.elapsed < 0.95


def test_garbled_answers_are_malformed_not_timeouts(sim: Any) -> None:
    camera, router = sim.extra["sites"][11][2], sim.extra["sites"][10][0]  # scratch devices
    for name in (camera, router):
        sim.send("POST", "/faults", {"device": name, "fault": "snmp_malformed"})
    try:
        results, _seen, _wall = sweep([target(sim, camera), target(sim, router)], timeout=0.3, retries=1)
    finally:
        for name in (camera, router):
            sim.send("DELETE", "/faults", {"device": name, "fault": "snmp_malformed"})
    for result in results:
        assert result.error is TransportErrorKind.MALFORMED, result
        assert "not a readable SNMP answer" in result.detail
        assert result.attempts == 2
    healed, _seen, _wall = sweep([target(sim, camera), target(sim, router)])
    assert all(r.ok for r in healed), healed


def test_v3_engine_changes_and_clock_drift_are_resynchronised(sim: Any) -> None:
    router, codec = sim.extra["sites"][0][:2]
    targets = [target(sim, router), target(sim, codec)]

    async def run() -> list[list[SnmpResult]]:
        client = SnmpClient(timeout=0.5, retries=0, workers=0)
        try:
            first = await client.get_many([(t, OIDS) for t in targets])
            engines = client._sweeper()._engines  # what the client learnt in discovery
            assert len(engines) == 2
            by_address = {t.address: t.name for t in targets}
            for (address, _port), engine in engines.items():
                if by_address[address] == router:
                    engine.time += 1000  # our idea of its clock is far outside the 150 s window
                else:
                    engine.engine_id = b"\x80\x00\x00\x00\x05stale-id"  # as if it had been replaced
            second = await client.get_many([(t, OIDS) for t in targets])
            return [first, second]
        finally:
            client.close()

    first, second = asyncio.run(run())
    for result in [*first, *second]:
        assert result.ok, result
        assert result.attempts == 1  # resynchronising is part of the same attempt


def test_sharded_sweep_in_worker_processes_gives_the_same_plain_results(
    sim: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(snmp_client, "SHARD_MIN", 2)
    healthy = [n for site in (0, 1, 2) for n in sim.extra["sites"][site] if n != sim.extra["sites"][2][2]]
    dead = sim.extra["sites"][2][2]
    targets = [target(sim, n) for n in [*healthy, dead]]
    seen: list[SnmpResult] = []

    async def run() -> tuple[list[SnmpResult], snmp.SnmpStats, list[Any]]:
        client = SnmpClient(timeout=0.4, retries=1, workers=2)
        try:
            results = await client.get_many([(t, OIDS) for t in targets], seen.append)
            again = await client.get_many([(t, OIDS) for t in targets])  # the same workers, warm
            assert [r.ok for r in again] == [r.ok for r in results]
            stats, processes = client.stats, [w.process for w in client._pool]
        finally:
            client.close()
        return results, stats, processes

    results, stats, processes = asyncio.run(run())
    assert all(p.poll() is not None for p in processes)  # close() ended the workers
    assert stats.workers == 2 and len(stats.worker_pids) == 2
    assert stats.worker_cpu > 0 and stats.requests >= len(targets)
    assert [r.name for r in results] == [t.name for t in targets]
    assert len(seen) == len(targets)
    for result in results[:-1]:
        assert result.ok, result
        assert result.values[SYS_NAME] == result.name.encode()
    assert results[-1].error is TransportErrorKind.TIMEOUT
    assert results[-1].attempts == 2


# --- against fake agents: the confirm pass, late answers, dead devices -----------------------------


class FakeAgent(asyncio.DatagramProtocol):
    """A v2c agent on 127.0.0.1 that answers sysName according to ``behaviour(request_number)``:
    None to stay silent, a delay in seconds, or bytes to send instead of an answer."""

    def __init__(self, behaviour: Callable[[int], float | bytes | None]) -> None:
        self.behaviour = behaviour
        self.requests = 0
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.requests += 1
        action = self.behaviour(self.requests)
        if action is None or self.transport is None:
            return
        if isinstance(action, bytes):
            self.transport.sendto(action, addr)
            return
        msg, _rest = decoder.decode(data, asn1Spec=v2c.Message())
        request = v2c.apiMessage.get_pdu(msg)
        response = v2c.apiPDU.get_response(request)
        v2c.apiPDU.set_varbinds(response, [(rfc1902.ObjectName(SYS_NAME), rfc1902.OctetString(b"fake"))])
        v2c.apiMessage.set_pdu(msg, response)
        answer = encoder.encode(msg)
        asyncio.get_running_loop().call_later(action, self.transport.sendto, answer, addr)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def fake_target(name: str, port: int, address: str = "127.0.0.1") -> SnmpTarget:
    return SnmpTarget(name, address, port, SnmpCredentials(SnmpVersion.V2C, community="public"))


def run_with_agents(
    behaviours: list[Callable[[int], float | bytes | None]], **options: Any
) -> tuple[list[SnmpResult], list[FakeAgent], float]:
    async def run() -> tuple[list[SnmpResult], list[FakeAgent], float]:
        loop = asyncio.get_running_loop()
        agents: list[FakeAgent] = []
        targets = []
        for i, behaviour in enumerate(behaviours):
            agent = FakeAgent(behaviour)
            port = free_udp_port()
            await loop.create_datagram_endpoint(lambda a=agent: a, local_addr=("127.0.0.1", port))  # type: ignore[misc]
            agents.append(agent)
            targets.append(fake_target(f"fake{i}", port))
        client = SnmpClient(**({"timeout": 0.3, "retries": 1} | options))
        started = time.perf_counter()
        try:
            results = await client.get_many([(t, [SYS_NAME]) for t in targets])
        finally:
            client.close()
            for agent in agents:
                if agent.transport is not None:
                    agent.transport.close()
        return results, agents, time.perf_counter() - started

    return asyncio.run(run())


def test_the_confirm_pass_asks_silent_devices_again() -> None:
    results, agents, _wall = run_with_agents(
        [
            lambda n: None if n == 1 else 0.0,  # loses the first request only
            lambda n: 0.0,  # healthy
            lambda n: None,  # dead
        ],
        timeout=0.3,
        retries=2,
    )
    lossy, healthy, dead = results
    assert lossy.ok and lossy.values[SYS_NAME] == b"fake"
    assert lossy.attempts == 2  # 'answered only on a retry'
    assert lossy.elapsed < 0.1  # measured on the request that got the answer
    assert healthy.ok and healthy.attempts == 1
    assert dead.error is TransportErrorKind.TIMEOUT and dead.attempts == 3
    assert [a.requests for a in agents] == [2, 1, 3]


def test_without_retries_one_silence_is_a_timeout() -> None:
    results, agents, _wall = run_with_agents([lambda n: None if n == 1 else 0.0], retries=0)
    assert results[0].error is TransportErrorKind.TIMEOUT
    assert results[0].attempts == 1
    assert agents[0].requests == 1


def test_an_answer_after_the_timeout_is_reported_as_such() -> None:
    results, _agents, _wall = run_with_agents([lambda n: 0.45], timeout=0.3, retries=1)
    (late,) = results
    assert late.error is TransportErrorKind.TIMEOUT
    assert "answered after the timeout" in late.detail


def test_garbage_from_the_device_is_malformed() -> None:
    results, _agents, _wall = run_with_agents(
        [lambda n: b"\x30\x10\x02\x01\x01garbage", lambda n: b"\x30\x03\x02\x01\x03"], retries=1
    )
    for result in results:
        assert result.error is TransportErrorKind.MALFORMED, result
        assert "bytes that are not a readable SNMP answer" in result.detail


def test_dead_devices_do_not_serialise_the_sweep() -> None:
    # 150 addresses where nothing listens, 10 in flight: holding a slot per dead device for the whole
    # timeout would take 150 / 10 x 0.4 s x 2 = 12 s; they must time out together instead.
    targets = [fake_target(f"dead{i}", 1161, f"127.209.{i // 250}.{i % 250 + 1}") for i in range(150)]
    results, _seen, wall = sweep(targets, [SYS_NAME], timeout=0.4, retries=1, in_flight=10, workers=0)
    assert all(r.error is TransportErrorKind.TIMEOUT and r.attempts == 2 for r in results)
    assert wall < 4.0  # a third of the serialised time, with room for a busy test machine


# --- units ---------------------------------------------------------------------------------------


def test_bad_requests_are_reported_per_device_and_callback_errors_after_the_sweep() -> None:
    bad_address = fake_target("bad-address", 1161, "not-an-address")
    bad_oid = fake_target("bad-oid", 1161, "127.209.9.9")
    results, _seen, _wall = sweep([bad_address], [SYS_NAME])
    assert results[0].error is TransportErrorKind.INTERNAL and "not an IP address" in results[0].detail
    results, _seen, _wall = sweep([bad_oid], ["1.3.six"])
    assert results[0].error is TransportErrorKind.INTERNAL and "cannot build the request" in results[0].detail
    weak = replace(
        bad_oid,
        credentials=SnmpCredentials(
            SnmpVersion.V3, user="u", auth_protocol=SnmpAuthProtocol.SHA, auth_key="short",
            priv_protocol=SnmpPrivProtocol.AES, priv_key="short",
        ),
    )  # fmt: skip
    results, _seen, _wall = sweep([weak], [SYS_NAME])
    assert "at least 8 characters" in results[0].detail

    def boom(_result: SnmpResult) -> None:
        raise RuntimeError("progress bar broke")

    async def run() -> None:
        client = SnmpClient(timeout=0.2, retries=0)
        try:
            await client.get_many([(bad_address, [SYS_NAME])], boom)
        finally:
            client.close()

    with pytest.raises(RuntimeError, match="progress bar broke"):
        asyncio.run(run())


# --- against net-snmp's agent: a second, independent USM implementation ------------------------------

SNMPD = shutil.which("snmpd") or next(
    (p for p in ("/usr/sbin/snmpd", "/usr/local/sbin/snmpd") if Path(p).exists()), None
)


@pytest.mark.skipif(SNMPD is None, reason="net-snmp's snmpd is not installed (apt-get install snmpd)")
def test_interoperates_with_net_snmp_snmpd(tmp_path: Path) -> None:
    port = free_udp_port()
    (tmp_path / "snmpd.conf").write_text(
        f"agentAddress udp:127.0.0.1:{port}\n"
        "rocommunity interop-community 127.0.0.1\n"
        'createUser shaaes SHA "auth-pass-1234" AES "priv-pass-1234"\n'
        'createUser sha256aes256 SHA-256 "auth-pass-5678" AES-256-C "priv-pass-5678"\n'
        "rouser shaaes authpriv\nrouser sha256aes256 authpriv\n"
    )
    (tmp_path / "persist").mkdir()
    agent = subprocess.Popen(
        [str(SNMPD), "-f", "-Lf", str(tmp_path / "snmpd.log"), "-C", "-c", str(tmp_path / "snmpd.conf")],
        env={"PATH": "/usr/sbin:/usr/bin:/bin", "SNMP_PERSISTENT_DIR": str(tmp_path / "persist")},
    )

    def v3(
        user: str, auth: SnmpAuthProtocol, auth_key: str, priv: SnmpPrivProtocol, priv_key: str
    ) -> SnmpCredentials:
        return SnmpCredentials(
            SnmpVersion.V3,
            user=user,
            auth_protocol=auth,
            auth_key=auth_key,
            priv_protocol=priv,
            priv_key=priv_key,
        )

    v2c_creds = SnmpCredentials(SnmpVersion.V2C, community="interop-community")
    targets = [
        SnmpTarget("v2c", "127.0.0.1", port, v2c_creds),
        SnmpTarget("sha-aes", "127.0.0.1", port, v3("shaaes", SnmpAuthProtocol.SHA, "auth-pass-1234", SnmpPrivProtocol.AES, "priv-pass-1234")),
        SnmpTarget("sha256-aes256", "127.0.0.1", port, v3("sha256aes256", SnmpAuthProtocol.SHA256, "auth-pass-5678", SnmpPrivProtocol.AES256, "priv-pass-5678")),
        SnmpTarget("wrong-auth", "127.0.0.1", port, v3("shaaes", SnmpAuthProtocol.SHA, "auth-pass-XXXX", SnmpPrivProtocol.AES, "priv-pass-1234")),
        SnmpTarget("wrong-priv", "127.0.0.1", port, v3("shaaes", SnmpAuthProtocol.SHA, "auth-pass-1234", SnmpPrivProtocol.AES, "priv-pass-XXXX")),
        SnmpTarget("unknown-user", "127.0.0.1", port, v3("nobody", SnmpAuthProtocol.SHA, "auth-pass-1234", SnmpPrivProtocol.AES, "priv-pass-1234")),
    ]  # fmt: skip
    try:
        for _ in range(50):  # until the agent answers (it starts in well under a second)
            if sweep([targets[0]], [SYS_NAME], timeout=0.1, retries=0)[0][0].ok:
                break
        results, _seen, _wall = sweep(targets, [SYS_NAME, SYS_OBJECT_ID, SYS_UPTIME, ABSENT], timeout=0.5)
    finally:
        agent.terminate()
        agent.wait(10)
    got = by_name(results)
    for name in ("v2c", "sha-aes", "sha256-aes256"):
        assert got[name].ok, got[name]
        assert str(got[name].values[SYS_OBJECT_ID]).startswith("1.3.6.1.4.1.8072.")  # net-snmp's agent
        assert isinstance(got[name].values[SYS_NAME], bytes) and isinstance(got[name].values[SYS_UPTIME], int)
        assert got[name].missing == [ABSENT]
    assert got["wrong-auth"].error is TransportErrorKind.AUTH_FAILED
    assert got["unknown-user"].error is TransportErrorKind.AUTH_FAILED
    # net-snmp drops what it cannot decrypt instead of reporting it: a timeout, with the hint
    assert got["wrong-priv"].error is TransportErrorKind.TIMEOUT
    assert "answers SNMPv3 discovery" in got["wrong-priv"].detail
