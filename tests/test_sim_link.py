"""The simulator's 'slow' and 'loss' faults act on the SSH link: every byte late, in order, intact."""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Callable
from typing import Any

import asyncssh
import pytest
from netmiko import ConnectHandler

from fleet.domain.enums import Role
from fleet.domain.health import Finding as F
from fleet.sim.expect import expectations
from fleet.sim.link import RETRIES, RTO_FIRST, Link, LinkFaults, lateness, stall_bounds

DELAY = 0.3  # seconds: small, to keep the tests quick


def seeded(seed: int | str) -> random.Random:
    return random.Random(seed)  # noqa: S311 - simulated packet loss


# --- the link alone -----------------------------------------------------------------------------


def run_link(
    faults: Callable[[], LinkFaults], plan: list[tuple[float, str]], rng: random.Random | None = None
) -> list[tuple[str, float]]:
    """Send each label after its pause; (label, seconds from the start) in the order delivered."""
    delivered: list[tuple[str, float]] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        link = Link(faults, rng or seeded(1))
        start = loop.time()
        for pause, label in plan:
            await asyncio.sleep(pause)
            link.send(lambda label=label: delivered.append((label, loop.time() - start)))
        while link.pending:
            await asyncio.sleep(0.02)

    asyncio.run(main())
    return delivered


def test_a_chunk_written_when_the_link_got_faster_waits_for_the_earlier_one() -> None:
    delays = iter([0.3, 0.0, 0.0])
    delivered = run_link(lambda: LinkFaults(next(delays)), [(0, "a"), (0.05, "b"), (0, "c")])
    assert [label for label, _t in delivered] == ["a", "b", "c"]
    assert delivered[0][1] >= 0.3 and delivered[1][1] >= delivered[0][1]


def test_without_faults_the_link_delivers_at_once() -> None:
    sent: list[str] = []
    link = Link(LinkFaults, seeded(1))
    link.send(lambda: sent.append("now"))  # no event loop needed: nothing waits
    assert sent == ["now"] and not link.pending


def test_loss_stalls_chunks_reproducibly_and_in_order() -> None:
    faults = LinkFaults(0.0, 0.5)
    one, again = seeded("device-a"), seeded("device-a")
    first = [lateness(faults, one) for _ in range(40)]
    assert first == [lateness(faults, again) for _ in range(40)]
    assert sum(late > 0 for late in first) >= 5  # about half
    assert all(late == 0 or late >= RTO_FIRST for late in first)
    labels = [str(i) for i in range(12)]
    delivered = run_link(lambda: faults, [(0, label) for label in labels], seeded("device-a"))
    assert [label for label, _t in delivered] == labels
    assert max(t for _label, t in delivered) >= RTO_FIRST  # some chunk stalled, and held the rest back
    times = [t for _label, t in delivered]
    assert times == sorted(times)


def test_stall_bounds_follow_the_retransmission_timeouts() -> None:
    assert stall_bounds(0.0) == (0.0, 0.0, 0.0)
    least, mean, longest = stall_bounds(1.0)
    assert least == longest == pytest.approx(0.2 + 0.4 + 0.8 + 1.6 * (RETRIES - 3))
    assert mean == pytest.approx(longest)
    assert stall_bounds(0.3)[1] == pytest.approx(
        0.3 * 0.2 + 0.09 * 0.4 + 0.027 * 0.8 + 1.6 * (0.3**4 + 0.3**5 + 0.3**6)
    )


def test_a_dropped_link_sends_nothing_more() -> None:
    sent: list[str] = []

    async def main() -> None:
        link = Link(lambda: LinkFaults(0.05), seeded(1))
        link.send(lambda: sent.append("late"))
        link.drop()
        link.send(lambda: sent.append("later"))
        await asyncio.sleep(0.1)

    asyncio.run(main())
    assert sent == []


def test_the_ground_truth_follows_the_measured_session_times() -> None:
    """Measured with fleet's sessions: a router takes 5 delays, a codec 9; the limit is 30 s."""

    def expect(role: Role, *faults: tuple[str, dict[str, float]]) -> tuple[set[F], set[F]]:
        truth = {"faults": [{"device": "d", "fault": f, "params": p, "role": role.value} for f, p in faults],
                 "unreachable": []}  # fmt: skip
        want = expectations(truth, {"d": role})[0]["d"]
        return set(want.required), set(want.optional)

    slow = ("slow", {})  # 2.5 s: SNMP silent, SSH slow but in time for a router (12.6 s)
    assert expect(Role.ROUTER, slow) == ({F.SNMP_SILENT}, set())
    required, optional = expect(Role.CODEC, slow, ("sip_unregistered", {}))  # 22.8 s: a close call
    assert required == {F.SNMP_SILENT} and {F.SSH_TIMEOUT, F.SIP_UNREGISTERED} <= optional
    assert expect(Role.CODEC, ("slow", {"delay_ms": 4000}), ("sip_unregistered", {})) == (
        {F.SNMP_SILENT, F.SSH_TIMEOUT}, set()
    )  # fmt: skip
    assert expect(Role.ROUTER, ("slow", {"delay_ms": 7000}))[0] == {F.SNMP_SILENT, F.SSH_TIMEOUT}
    assert expect(Role.ROUTER, ("slow", {"delay_ms": 12000}))[0] == {F.SNMP_SILENT, F.SSH_NO_BANNER}
    required, optional = expect(Role.CODEC, ("loss", {}), ("sip_unregistered", {}))  # stalls of ~2 s
    assert required == {F.SIP_UNREGISTERED} and F.SSH_TIMEOUT not in optional


# --- real SSH clients against the simulator -----------------------------------------------------


class Recorder(asyncssh.SSHClientSession):  # type: ignore[type-arg]
    """What a channel receives, with when each chunk arrived."""

    def __init__(self) -> None:
        self.chunks: list[tuple[float, str]] = []
        self.changed = asyncio.Event()
        self.closed = asyncio.Event()
        self.exit_status: int | None = None

    def data_received(self, data: str, datatype: Any) -> None:
        self.chunks.append((time.monotonic(), data))
        self.changed.set()

    def exit_status_received(self, status: int) -> None:
        self.exit_status = status

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set()
        self.changed.set()

    @property
    def text(self) -> str:
        return "".join(data for _t, data in self.chunks)

    async def until(self, pattern: str, timeout: float = 10.0) -> float:
        """When the text first matched ``pattern`` (the arrival of the chunk that completed it)."""
        deadline = time.monotonic() + timeout
        while True:
            text = ""
            for arrived, data in self.chunks:
                text += data
                if re.search(pattern, text):
                    return arrived
            if self.closed.is_set():
                raise AssertionError(f"closed without {pattern!r}: {self.text!r}")
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), max(deadline - time.monotonic(), 0.01))


async def connect(sim: Any, device: str) -> asyncssh.SSHClientConnection:
    dev = sim.device(device)
    return await asyncssh.connect(
        dev.mgmt_address, dev.ssh_port, username="noc", password=sim.password(device),
        known_hosts=None, preferred_auth="password", connect_timeout=10,
    )  # fmt: skip


def with_fault(sim: Any, device: str, fault: str, params: dict[str, float], body: Callable[[], Any]) -> Any:
    sim.send("POST", "/faults", {"device": device, "fault": fault, "params": params})
    try:
        return body()
    finally:
        sim.send("DELETE", "/faults", {"device": device, "fault": fault})


def test_a_slow_link_delays_every_byte_in_order_and_closes_after_the_output(sim: Any) -> None:
    router = sim.extra["sites"][10][0]  # a scratch Cisco IOS router
    prompt = f"{router}#"

    async def main() -> dict[str, float]:
        started = time.monotonic()
        conn = await connect(sim, router)
        seen = {"connect": time.monotonic() - started}  # the server's version string is late too
        async with conn:
            chan, shell = await conn.create_session(Recorder, term_type="vt100")
            opened = time.monotonic()
            seen["prompt"] = await shell.until(re.escape(prompt)) - opened
            typed = time.monotonic()
            chan.write("s")
            seen["echo"] = await shell.until(re.escape(prompt) + "s$") - typed
            # The CLI answers each line at once; the link keeps the answers in order.
            chan.write("how clock\rconfigure terminal\rline vty 0 4\rexit\rend\rshow version\rexit\r")
            await asyncio.wait_for(shell.closed.wait(), 10)
            text = shell.text.replace("\r\n", "\n")
            markers = [
                " UTC ",
                "(config)#",
                "(config-line)#",
                "(config)#",
                f"\n{prompt}",
                "Cisco IOS XE Software",
            ]
            at = 0
            for marker in markers:
                found = text.find(marker, at)
                assert found >= 0, f"{marker!r} missing or out of order in {text[at:]!r}"
                at = found + len(marker)
            assert text.rstrip().endswith(f"\n{prompt}")  # the close came after the last prompt
            _exec, command = await conn.create_session(Recorder, "show clock")
            asked = time.monotonic()
            seen["exec"] = await command.until(" UTC ") - asked
            await asyncio.wait_for(command.closed.wait(), 5)
            assert command.exit_status == 0  # the exit status, late too, followed the output
        return seen

    seen = with_fault(sim, router, "slow", {"delay_ms": DELAY * 1000}, lambda: asyncio.run(main()))
    assert all(value >= DELAY for value in seen.values()), seen
    assert seen["echo"] < DELAY + 1.0, seen


def test_netmiko_cisco_ios_shows_and_configures_a_slow_router(sim: Any) -> None:
    router = sim.extra["sites"][10][0]  # a scratch Cisco IOS router
    dev = sim.device(router)
    lines = ["ntp server 10.10.0.77", "ntp server 10.10.0.78", "ntp server 10.10.0.79"]

    def session() -> tuple[str, str]:
        with ConnectHandler(
            device_type="cisco_ios", host=dev.mgmt_address, port=dev.ssh_port, username="noc",
            password=sim.password(router),
        ) as conn:  # fmt: skip
            return conn.send_command("show clock"), conn.send_config_set(lines)

    try:
        clock, pushed = with_fault(sim, router, "slow", {"delay_ms": DELAY * 1000}, session)
        assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3} UTC \w{3} \w{3} \d\d \d{4}", clock.strip()), clock
        assert "Invalid input" not in pushed and all(line in pushed for line in lines)
        config = sim.get(f"/devices/{router}/config")
        assert all(line in config for line in lines)
    finally:
        with ConnectHandler(
            device_type="cisco_ios", host=dev.mgmt_address, port=dev.ssh_port, username="noc",
            password=sim.password(router),
        ) as conn:  # fmt: skip
            conn.send_config_set([f"no {line}" for line in lines])
    assert not any(line in sim.get(f"/devices/{router}/config") for line in lines)


def test_loss_on_ssh_stalls_output_but_never_corrupts_or_reorders_it(sim: Any) -> None:
    codec = sim.extra["sites"][11][1]  # a scratch codec
    commands = [
        "xStatus SIP Registration 1 Status", "xConfiguration SIP Proxy 1 Address", "xStatus Video Output",
        "xStatus Audio Input Connectors", "xStatus NetworkServices NTP", "xConfiguration UserInterface SpeedDial",
        "xStatus Cameras", "xStatus Call", "bogus command",
    ] * 2  # fmt: skip

    async def transcript() -> tuple[str, float]:
        async with await connect(sim, codec) as conn:
            chan, shell = await conn.create_session(Recorder, term_type="vt100")
            await shell.until(r"\nOK\r\n")
            sent = time.monotonic()
            chan.write("\r".join(commands) + "\rbye\r")  # the device closes after its last answer
            await asyncio.wait_for(shell.closed.wait(), 15)
            return shell.text, shell.chunks[-1][0] - sent

    clean, _quick = asyncio.run(transcript())
    assert clean.rstrip().endswith("bye.") and clean.count("\r\nOK\r\n") == 17
    lossy, took = with_fault(sim, codec, "loss", {"rate": 0.5}, lambda: asyncio.run(transcript()))
    assert lossy == clean  # the same bytes in the same order
    assert took >= RTO_FIRST  # about half of ~20 chunks waited for a retransmission
