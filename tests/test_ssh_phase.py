"""Which devices a sweep logs in to, and when (fleet.engine.ssh_phase), with a scripted reader."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from fleet.domain.enums import Role
from fleet.engine.progress import ProgressEvent
from fleet.engine.ssh_phase import SshPhase
from fleet.engine.targets import Scope, Target, build_targets
from fleet.inventory.generator import generate
from fleet.inventory.validate import Inventory
from fleet.sim.lab import lab_secrets
from fleet.transports.errors import TransportErrorKind
from fleet.transports.snmp import SnmpResult
from fleet.transports.ssh_types import SshResult, SshTarget

K = TransportErrorKind


class Reader:
    """Answers from a script per device (the last answer repeats); records every session asked for."""

    def __init__(self, script: dict[str, list[K | None]]) -> None:
        self.script = script
        self.asked: list[str] = []
        self.hurried: list[str] = []

    async def read(
        self, target: SshTarget, commands: Sequence[str], stop_at: float | None = None, *, first: bool = False
    ) -> SshResult:
        self.asked.append(target.name)
        answers = self.script.get(target.name, [None])
        error = answers[min(self.asked.count(target.name), len(answers)) - 1]
        await asyncio.sleep(0)
        return SshResult(target.name, error=error, connected=error is not K.REFUSED)

    def hurry(self, name: str) -> None:
        self.hurried.append(name)


@pytest.fixture(scope="module")
def targets() -> list[Target]:
    generated = generate(sites=3, seed=7)
    with pytest.MonkeyPatch.context() as patch:
        for key, value in lab_secrets(generated.credentials).items():
            patch.setenv(key, value)
        inventory = Inventory(generated.sites, generated.devices, generated.credentials, generated.groups)
        return build_targets(inventory, Scope())


def by_role(targets: list[Target], role: Role) -> list[Target]:
    return [t for t in targets if t.ref.role is role]


def answer(target: Target, error: K | None = None) -> SnmpResult:
    return SnmpResult(target.ref.name, values={}, error=error, elapsed=0.01)


def sweep(
    targets: list[Target], reader: Reader, snmp_errors: dict[str, K], **options: Any
) -> tuple[SshPhase, list[ProgressEvent]]:
    events: list[ProgressEvent] = []

    async def go() -> SshPhase:
        phase = SshPhase(targets, None, events.append, **options)
        phase.begin(reader)  # type: ignore[arg-type]  # the scripted reader stands in for StatusReader
        for target in targets:  # routers first, as the engine asks them
            if target.snmp is not None:
                phase.snmp_done(answer(target, snmp_errors.get(target.ref.name)))
                await asyncio.sleep(0)
        phase.snmp_finished()
        await phase.drain()
        for held in phase.held_left():
            phase.skip(held.ref.name)
        return phase

    return asyncio.run(go()), events


def test_routers_start_at_once_and_codecs_once_their_router_answered(targets: list[Target]) -> None:
    reader = Reader({})
    phase, events = sweep(targets, reader, {})
    capable = [t.ref.name for t in targets if t.ssh is not None]
    assert sorted(reader.asked) == sorted(capable) and len(reader.asked) == len(set(reader.asked))
    routers = {t.ref.name for t in by_role(targets, Role.ROUTER)}
    assert set(reader.asked[: len(routers)]) == routers  # before any SNMP answer came in
    assert set(phase.results) == set(capable)
    assert events[-1].done == events[-1].total == len(capable)


def test_a_codec_silent_behind_a_dark_router_waits_for_the_router_and_is_skipped(
    targets: list[Target],
) -> None:
    router = by_role(targets, Role.ROUTER)[0]
    codec = next(t for t in by_role(targets, Role.CODEC) if t.ref.site == router.ref.site)
    silent = {router.ref.name: K.TIMEOUT, codec.ref.name: K.TIMEOUT}
    reader = Reader({router.ref.name: [K.REFUSED]})
    phase, events = sweep(targets, reader, silent)
    assert codec.ref.name not in reader.asked  # a dark site costs one router attempt, not two
    assert codec.ref.name not in phase.results
    assert events[-1].done == events[-1].total  # counted, as skipped


def test_a_codec_behind_a_dark_router_that_answers_ssh_is_asked(targets: list[Target]) -> None:
    router = by_role(targets, Role.ROUTER)[0]
    codec = next(t for t in by_role(targets, Role.CODEC) if t.ref.site == router.ref.site)
    silent = {router.ref.name: K.TIMEOUT, codec.ref.name: K.TIMEOUT}
    reader = Reader({})
    phase, _events = sweep(targets, reader, silent)
    assert reader.asked.index(codec.ref.name) > reader.asked.index(router.ref.name)
    assert phase.results[codec.ref.name].ok


@pytest.mark.parametrize("fluke", [K.RESET, K.REFUSED, K.BANNER_TIMEOUT, K.PROTOCOL])
def test_with_confirm_a_fluke_is_asked_again_and_the_second_answer_stands(
    targets: list[Target], fluke: K
) -> None:
    codec = by_role(targets, Role.CODEC)[0].ref.name
    reader = Reader({codec: [fluke, None]})
    phase, events = sweep(targets, reader, {}, confirm=True)
    assert reader.asked.count(codec) == 2
    assert phase.results[codec].ok
    assert [e.device for e in events].count(codec) == 1  # counted once

    reader = Reader({codec: [fluke]})  # the same failure twice: it stands
    phase, _events = sweep(targets, reader, {}, confirm=True)
    assert reader.asked.count(codec) == 2 and phase.results[codec].error is fluke


@pytest.mark.parametrize("final", [K.TIMEOUT, K.AUTH_FAILED, K.HOST_KEY_CHANGED])
def test_a_timeout_or_a_refused_login_is_not_asked_again(targets: list[Target], final: K) -> None:
    codec = by_role(targets, Role.CODEC)[0].ref.name
    reader = Reader({codec: [final, None]})
    phase, _events = sweep(targets, reader, {}, confirm=True)
    assert reader.asked.count(codec) == 1 and phase.results[codec].error is final


def test_without_confirm_the_first_answer_stands(targets: list[Target]) -> None:
    codec = by_role(targets, Role.CODEC)[0].ref.name
    reader = Reader({codec: [K.RESET, None]})
    phase, _events = sweep(targets, reader, {})
    assert reader.asked.count(codec) == 1 and phase.results[codec].error is K.RESET


def test_devices_slow_or_silent_on_snmp_are_hurried(targets: list[Target]) -> None:
    codec = by_role(targets, Role.CODEC)[1].ref.name
    reader = Reader({})
    sweep(targets, reader, {codec: K.TIMEOUT})
    assert codec in reader.hurried
