"""Faults the simulator can inject, scenario files that name them, and seeded random faults."""

from __future__ import annotations

import math
import random
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from fleet.domain.enums import Role
from fleet.inventory.problems import Problem, YamlUnreadable, compose_yaml
from fleet.store.types import utcnow


class FaultKind(StrEnum):
    POWERED_OFF = "powered_off"
    SNMP_DEAD = "snmp_dead"
    SNMP_MALFORMED = "snmp_malformed"
    SSH_AUTH_FAILURE = "ssh_auth_failure"
    SSH_NO_BANNER = "ssh_no_banner"
    SSH_RESET = "ssh_reset"
    SLOW = "slow"
    LOSS = "loss"
    WAN_DOWN = "wan_down"
    IF_ERRORS = "if_errors"
    POOR_LINK = "poor_link"
    SIP_UNREGISTERED = "sip_unregistered"
    CAMERA_DISCONNECTED = "camera_disconnected"
    MICROPHONE_MISSING = "microphone_missing"
    DISPLAY_DISCONNECTED = "display_disconnected"
    OUTDATED_SOFTWARE = "outdated_software"
    IN_CALL = "in_call"
    CLOCK_UNSYNCED = "clock_unsynced"
    CONFIG_DRIFT = "config_drift"
    RESET_DURING_PUSH = "reset_during_push"
    CONFIG_REJECTED = "config_rejected"
    VIDEO_LOST = "video_lost"
    FAN_FAILURE = "fan_failure"


ALL_ROLES = frozenset(Role)
SSH_ROLES = frozenset({Role.ROUTER, Role.CODEC})


# Inclusive ranges for numeric fault parameters; anything else (NaN, inf, negative) is refused.
PARAM_RANGES: dict[str, tuple[float, float]] = {
    "delay_ms": (0, 600_000),
    "rate": (0, 1),
    "error_rate": (0, 1),
    "rtt_ms": (0, 60_000),
    "loss_pct": (0, 100),
    "jitter_ms": (0, 60_000),
    "after_lines": (0, 100_000),
}


@dataclass(frozen=True, slots=True)
class FaultInfo:
    roles: frozenset[Role]
    params: dict[str, float | str]  # parameter -> default
    description: str
    random: bool = True  # drawn by seeded random rates


FAULTS: dict[FaultKind, FaultInfo] = {
    FaultKind.POWERED_OFF: FaultInfo(ALL_ROLES, {}, "no power: no SNMP answer, TCP connections refused"),
    FaultKind.SNMP_DEAD: FaultInfo(ALL_ROLES, {}, "SNMP agent dead; SSH still answers"),
    FaultKind.SNMP_MALFORMED: FaultInfo(
        ALL_ROLES, {}, "the SNMP agent answers with garbled datagrams", random=False
    ),
    FaultKind.SSH_AUTH_FAILURE: FaultInfo(SSH_ROLES, {}, "SSH refuses the NOC's credentials"),
    FaultKind.SSH_NO_BANNER: FaultInfo(SSH_ROLES, {}, "SSH accepts TCP but never sends its banner"),
    FaultKind.SSH_RESET: FaultInfo(
        SSH_ROLES, {}, "SSH logs in, then resets the connection at the first command", random=False
    ),
    FaultKind.SLOW: FaultInfo(
        ALL_ROLES, {"delay_ms": 2500.0}, "every answer is late by delay_ms (SSH: every byte sent, in order)"
    ),
    FaultKind.LOSS: FaultInfo(
        ALL_ROLES,
        {"rate": 0.3},
        "a share (rate) of SNMP requests gets no answer; on SSH that share of output stalls (retransmission)",
    ),
    FaultKind.WAN_DOWN: FaultInfo(frozenset({Role.ROUTER}), {}, "WAN interface down: no path to the bridge"),
    FaultKind.IF_ERRORS: FaultInfo(
        frozenset({Role.ROUTER}), {"error_rate": 0.05}, "WAN input errors at error_rate of packets (CRC)"
    ),
    FaultKind.POOR_LINK: FaultInfo(
        frozenset({Role.ROUTER}),
        {"rtt_ms": 280.0, "loss_pct": 6.0, "jitter_ms": 70.0},
        "the IP SLA probe to the bridge sees high latency, loss and jitter",
    ),
    FaultKind.SIP_UNREGISTERED: FaultInfo(
        frozenset({Role.CODEC}), {}, "codec not registered to the SIP registrar"
    ),
    FaultKind.CAMERA_DISCONNECTED: FaultInfo(frozenset({Role.CODEC}), {}, "the codec sees no camera"),
    FaultKind.MICROPHONE_MISSING: FaultInfo(
        frozenset({Role.CODEC}), {}, "no microphone connected to the codec"
    ),
    FaultKind.DISPLAY_DISCONNECTED: FaultInfo(
        frozenset({Role.CODEC}), {}, "no display on the codec's output"
    ),
    FaultKind.OUTDATED_SOFTWARE: FaultInfo(
        ALL_ROLES, {"version": ""}, "runs older software than approved (version; empty: a model default)"
    ),
    FaultKind.IN_CALL: FaultInfo(
        frozenset({Role.CODEC}), {"remote": "sip:hop.tinh@vnpt.vn"}, "codec already in another call"
    ),
    FaultKind.CLOCK_UNSYNCED: FaultInfo(frozenset({Role.CODEC}), {}, "NTP not synchronised; clock off"),
    FaultKind.CONFIG_DRIFT: FaultInfo(
        SSH_ROLES, {}, "running configuration differs from what was provisioned (bridge, NTP, SIP)"
    ),
    FaultKind.RESET_DURING_PUSH: FaultInfo(
        SSH_ROLES,
        {"after_lines": 2.0},
        "SSH connection reset after after_lines configuration lines",
        random=False,
    ),
    FaultKind.CONFIG_REJECTED: FaultInfo(
        SSH_ROLES,
        {"match": "ntp"},
        "the device rejects configuration lines containing match",
        random=False,
    ),
    FaultKind.VIDEO_LOST: FaultInfo(frozenset({Role.CAMERA}), {}, "the camera sends no video signal"),
    FaultKind.FAN_FAILURE: FaultInfo(
        frozenset({Role.CAMERA}), {}, "the camera's fan has failed (hardware alarm)"
    ),
}


@dataclass(frozen=True, slots=True)
class Fault:
    kind: FaultKind
    params: dict[str, float | str] = field(default_factory=dict)
    since: datetime = field(default_factory=utcnow)

    def param(self, name: str) -> float | str:
        return self.params.get(name, FAULTS[self.kind].params[name])

    def number(self, name: str) -> float:
        return float(self.param(name))

    def to_dict(self) -> dict[str, Any]:
        return {"fault": self.kind.value, "params": dict(self.params), "since": self.since.isoformat()}


class ScenarioError(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True, slots=True)
class Scenario:
    """Explicit faults per device, plus seeded random ones."""

    faults: dict[str, list[Fault]] = field(default_factory=dict)
    seed: int = 0
    rate: float = 0.0
    kinds: tuple[FaultKind, ...] = ()


def make_fault(kind: FaultKind, role: Role, params: dict[str, Any]) -> Fault:
    """Check a fault against the device's role and the fault's parameters; raise ValueError."""
    info = FAULTS[kind]
    if role not in info.roles:
        roles = ", ".join(sorted(r.value for r in info.roles))
        raise ValueError(f"{kind.value} applies to {roles}, not to a {role.value}")
    clean: dict[str, float | str] = {}
    for name, value in params.items():
        if name not in info.params:
            known = ", ".join(info.params) or "none"
            raise ValueError(f"{kind.value} takes no parameter '{name}' (parameters: {known})")
        default = info.params[name]
        if isinstance(default, float):
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"parameter '{name}' must be a number, not {value!r}") from None
            low, high = PARAM_RANGES[name]
            if not math.isfinite(number) or not low <= number <= high:
                raise ValueError(f"parameter '{name}' must be between {low:g} and {high:g}, not {value!r}")
            clean[name] = number
        elif not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ValueError(f"parameter '{name}' must be a single value, not {value!r}")
        else:
            clean[name] = text_param(name, str(value))
    return Fault(kind, clean)


def text_param(name: str, value: str) -> str:
    if len(value) > 128 or any(unicodedata.category(ch).startswith("C") for ch in value):
        raise ValueError(f"parameter '{name}' must be one short line of text")
    return value


def load_scenario(path: Path, roles: dict[str, Role]) -> Scenario:
    """Read a scenario file; every problem is reported with its line. ``roles`` maps device -> role."""
    try:
        root, _raw = compose_yaml(path)
    except YamlUnreadable as exc:
        raise ScenarioError([exc.problem]) from None
    problems: list[Problem] = []
    if root is None:
        return Scenario()
    if not isinstance(root, MappingNode):
        raise ScenarioError([Problem(path, 1, None, None, "a scenario is a mapping (seed, random, faults)")])
    seed, rate = 0, 0.0
    kinds: tuple[FaultKind, ...] = ()
    faults: dict[str, list[Fault]] = {}
    for key_node, value in root.value:
        key = key_node.value
        line = value.start_mark.line + 1
        if key == "seed":
            seed = _int(path, line, "seed", value, problems)
        elif key == "random":
            rate, kinds = _random(path, value, problems)
        elif key == "faults":
            if not isinstance(value, SequenceNode):
                problems.append(Problem(path, line, "faults", None, "must be a list"))
                continue
            for item in value.value:
                _fault_entry(path, item, roles, faults, problems)
        else:
            problems.append(
                Problem(
                    path, key_node.start_mark.line + 1, str(key), None, "unknown key (seed, random, faults)"
                )
            )
    if problems:
        raise ScenarioError(problems)
    return Scenario(faults, seed, rate, kinds)


def _scalar(node: Any) -> str | None:
    return str(node.value) if isinstance(node, ScalarNode) else None


def _int(path: Path, line: int, name: str, node: Any, problems: list[Problem]) -> int:
    text = _scalar(node)
    if text is None or not re.fullmatch(r"-?[0-9]{1,18}", text):
        problems.append(Problem(path, line, name, text, "must be a whole number"))
        return 0
    return int(text)


def _random(path: Path, node: Any, problems: list[Problem]) -> tuple[float, tuple[FaultKind, ...]]:
    if not isinstance(node, MappingNode):
        problems.append(
            Problem(path, node.start_mark.line + 1, "random", None, "must be a mapping (rate, kinds)")
        )
        return 0.0, ()
    rate = 0.0
    kinds: tuple[FaultKind, ...] = ()
    for key_node, value in node.value:
        line = value.start_mark.line + 1
        if key_node.value == "rate":
            text = _scalar(value)
            try:
                rate = float(text or "")
                if not 0 <= rate <= 1:
                    raise ValueError
            except ValueError:
                problems.append(Problem(path, line, "random.rate", text, "must be a share between 0 and 1"))
        elif key_node.value == "kinds" and isinstance(value, SequenceNode):
            parsed = []
            for item in value.value:
                try:
                    parsed.append(FaultKind(_scalar(item) or ""))
                except ValueError:
                    problems.append(
                        Problem(
                            path, item.start_mark.line + 1, "random.kinds", _scalar(item), "unknown fault"
                        )
                    )
            kinds = tuple(parsed)
        else:
            problems.append(
                Problem(path, line, f"random.{key_node.value}", None, "unknown key (rate, kinds: a list)")
            )
    return rate, kinds


def _fault_entry(
    path: Path, node: Any, roles: dict[str, Role], faults: dict[str, list[Fault]], problems: list[Problem]
) -> None:
    line = node.start_mark.line + 1
    if not isinstance(node, MappingNode):
        problems.append(Problem(path, line, None, None, "each fault is a mapping: device, fault, parameters"))
        return
    values: dict[str, tuple[Any, int]] = {
        str(k.value): (_scalar(v) if isinstance(v, ScalarNode) else [], v.start_mark.line + 1)
        for k, v in node.value
    }
    device, device_line = values.pop("device", (None, line))
    kind_text, kind_line = values.pop("fault", (None, line))
    if not device:
        problems.append(Problem(path, line, "device", None, "a device name is required"))
        return
    if device not in roles:
        problems.append(Problem(path, device_line, "device", device, "no such device in the inventory"))
        return
    try:
        kind = FaultKind(kind_text or "")
    except ValueError:
        known = ", ".join(k.value for k in FaultKind)
        problems.append(Problem(path, kind_line, "fault", kind_text, f"unknown fault (known: {known})"))
        return
    try:
        fault = make_fault(kind, roles[device], {k: v for k, (v, _l) in values.items()})
    except ValueError as exc:
        problems.append(Problem(path, line, "fault", kind.value, str(exc)))
        return
    faults.setdefault(device, []).append(fault)


def random_faults(
    devices: Iterable[tuple[str, Role]], rate: float, seed: int, kinds: tuple[FaultKind, ...] = ()
) -> dict[str, list[Fault]]:
    """Give a seeded share ``rate`` of devices one random applicable fault each."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not security
    pool = kinds or tuple(k for k, info in FAULTS.items() if info.random)
    chosen: dict[str, list[Fault]] = {}
    for name, role in sorted(devices):
        if rng.random() >= rate:
            continue
        applicable = [k for k in pool if role in FAULTS[k].roles]
        if applicable:
            chosen[name] = [Fault(rng.choice(applicable))]
    return chosen


def choose_faults(
    devices: Iterable[tuple[str, Role]], scenario: Scenario, rate: float, seed: int
) -> dict[str, list[Fault]]:
    """The faults a run starts with: seeded random ones (``rate``, else the scenario's), then the scenario's.

    Chosen over the whole inventory, so that a sharded simulator gives the same devices the same faults.
    """
    chosen: dict[str, list[Fault]] = {}
    rate = rate or scenario.rate
    if rate:
        chosen = random_faults(devices, rate, seed or scenario.seed, scenario.kinds)
    for name, faults in scenario.faults.items():
        chosen.setdefault(name, []).extend(faults)
    return chosen
