"""Readiness check sets: YAML files in playbooks/readiness/, validated on load with file and line.

A check names the fact it reads (one of FACTS: what drivers report, or what a sweep concluded),
what the fact must be, its severity, the party that must act when it fails, and the remedy. A
check may require earlier checks: when a required blocker failed, a failing check is skipped as
explained by it (a dead router is one carrier fault, not a dozen codec failures).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yaml.nodes import Node, SequenceNode

from fleet.checks.health import release
from fleet.domain.enums import Carrier, Role
from fleet.domain.health import Finding, Problem
from fleet.domain.readiness import Severity
from fleet.drivers.registry import REGISTRY
from fleet.errors import FleetError
from fleet.inventory.problems import Problem as FileProblem
from fleet.inventory.problems import YamlReader, YamlUnreadable, read_document

READINESS_DIR = Path("playbooks/readiness")
ID = re.compile(r"[a-z][a-z0-9_]{0,47}")
PLACEHOLDERS = {"{session.dial_string}", "{session.bridge}", "{site.registrar}"}

# Findings that say fleet could not read a device properly (not that the device is unready).
MANAGEMENT = frozenset(
    {
        Finding.SNMP_SILENT,
        Finding.SNMP_AUTH,
        Finding.SNMP_MALFORMED,
        Finding.SNMP_ERROR,
        Finding.SNMP_LOSS,
        Finding.SLOW,
        Finding.SSH_AUTH,
        Finding.SSH_NO_BANNER,
        Finding.SSH_REFUSED,
        Finding.SSH_TIMEOUT,
        Finding.SSH_RESET,
        Finding.SSH_HOST_KEY_UNKNOWN,
        Finding.SSH_HOST_KEY_CHANGED,
        Finding.SSH_ERROR,
        Finding.SECRET_MISSING,
        Finding.INTERNAL,
    }
)
SILENCE = frozenset({Finding.NO_ANSWER, Finding.BEHIND_ROUTER})


class CheckSetInvalid(FleetError):
    exit_code = 2

    def __init__(self, problems: list[FileProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


# --- facts ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeviceView:
    """What readiness knows of one device: a sweep's facts and findings, fresh or reused."""

    name: str
    role: Role
    driver: str
    facts: Mapping[str, Any]
    problems: list[Problem]


Getter = Callable[[DeviceView], Any]


@dataclass(frozen=True, slots=True)
class FactInfo:
    kind: str  # bool | number | text | list
    roles: frozenset[Role]
    get: Getter
    label: str  # how a reason names it
    from_findings: bool = False  # read off the sweep's findings: its party may be 'found'


def _fact(name: str) -> Getter:
    return lambda d: d.facts.get(name)


def _codec(name: str) -> Getter:
    return lambda d: (d.facts.get("codec") or {}).get(name)


def _answered(d: DeviceView) -> bool | None:
    findings = {p.finding for p in d.problems}
    if findings & SILENCE:
        return False
    if not d.facts and findings & {Finding.SECRET_MISSING, Finding.NOT_CHECKED}:
        return None
    return True


def _managed(d: DeviceView) -> bool | None:
    findings = {p.finding for p in d.problems}
    if findings & MANAGEMENT:
        return False
    if findings & (SILENCE | {Finding.NOT_CHECKED}):
        return None
    return True


def _software(d: DeviceView) -> str | None:
    text = d.facts.get("firmware") or (d.facts.get("codec") or {}).get("software_version")
    return release(text) if isinstance(text, str) else None


def _sip_registered(d: DeviceView) -> bool | None:
    status = _codec("sip_status")(d)
    return None if status is None else status == "Registered"


def _ntp_synced(d: DeviceView) -> bool | None:
    status = _codec("ntp_status")(d)
    return None if status is None else status == "Synced"


def _in_call(d: DeviceView) -> bool | None:
    calls, remote = _codec("active_calls")(d), _codec("call_remote")(d)
    if calls is None and remote is None:
        return None
    return bool(calls) or remote is not None


def _alarms(d: DeviceView) -> list[str] | None:
    """Stored facts leave out an empty list: no alarms, when the camera answered its SNMP GET."""
    alarms = d.facts.get("hardware_alarms")
    if alarms is not None:
        return list(alarms)
    return [] if d.facts.get("video_signal_ok") is not None else None


def _wan_error_pct(d: DeviceView) -> float | None:
    errors, packets = d.facts.get("wan_in_errors"), d.facts.get("wan_in_packets")
    if errors is None or not packets:
        return None
    return 100.0 * float(errors) / float(packets)


ALL = frozenset(Role)
ROUTER, CODEC, CAMERA = frozenset({Role.ROUTER}), frozenset({Role.CODEC}), frozenset({Role.CAMERA})
FACTS: dict[str, FactInfo] = {
    "reachable": FactInfo("bool", ALL, _answered, "answers", from_findings=True),
    "managed": FactInfo("bool", ALL, _managed, "answers fleet's SNMP and SSH", from_findings=True),
    "software": FactInfo("text", ALL, _software, "software"),
    "wan_up": FactInfo("bool", ROUTER, _fact("wan_up"), "WAN up"),
    "wan_error_pct": FactInfo("number", ROUTER, _wan_error_pct, "WAN input errors, % of packets"),
    "sla_ok": FactInfo("bool", ROUTER, _fact("sla_ok"), "probe to the bridge succeeds"),
    "rtt_ms": FactInfo("number", ROUTER, _fact("rtt_ms"), "latency to the bridge, ms"),
    "loss_pct": FactInfo("number", ROUTER, _fact("loss_pct"), "loss to the bridge, %"),
    "jitter_ms": FactInfo("number", ROUTER, _fact("jitter_ms"), "jitter to the bridge, ms"),
    "cpu_pct": FactInfo("number", ALL, _fact("cpu_pct"), "CPU, %"),
    "video_signal_ok": FactInfo("bool", CAMERA, _fact("video_signal_ok"), "video signal"),
    "hardware_alarms": FactInfo("list", CAMERA, _alarms, "hardware alarms"),
    "codec.sip_registered": FactInfo("bool", CODEC, _sip_registered, "SIP registered"),
    "codec.sip_proxy": FactInfo("text", CODEC, _codec("sip_proxy"), "SIP registrar"),
    "codec.camera_connected": FactInfo("bool", CODEC, _codec("camera_connected"), "camera connected"),
    "codec.microphone_connected": FactInfo(
        "bool", CODEC, _codec("microphone_connected"), "microphone connected"
    ),
    "codec.display_connected": FactInfo("bool", CODEC, _codec("display_connected"), "display connected"),
    "codec.in_call": FactInfo("bool", CODEC, _in_call, "in a call"),
    "codec.ntp_synced": FactInfo("bool", CODEC, _ntp_synced, "clock synchronised (NTP)"),
    "codec.speed_dial": FactInfo("text", CODEC, _codec("speed_dial"), "speed dial"),
}


# --- the check set -------------------------------------------------------------------------------

OPS = {"equals": {"bool", "number", "text"}, "max": {"number"}, "min": {"number"}, "one_of": {"text"}}
OPS["empty"] = {"list"}
PARTIES = {"carrier", "vnpt", "viettel", "site", "noc", "found"}


@dataclass(frozen=True, slots=True)
class Check:
    id: str
    title: str
    role: Role
    fact: str
    op: str
    value: Any  # equals: bool/number/text (text may be a placeholder); one_of: list or {driver: list}
    severity: Severity
    party: str
    remedy: str
    requires: tuple[str, ...] = ()
    line: int = 0


@dataclass(frozen=True, slots=True)
class CheckSet:
    name: str
    path: Path
    checks: tuple[Check, ...]
    description: str = ""
    registrars: dict[Carrier, str] = field(default_factory=dict)
    reuse_minutes: float = 10.0  # sweep data younger than this is used instead of polling again
    recheck: bool = True  # poll the devices of failing sites again before the verdict is final
    digest: str = ""  # of the file's bytes, recorded with each run


def find_check_set(name_or_path: str, base: Path = READINESS_DIR) -> Path:
    """A check set by name (playbooks/readiness/<name>.yaml) or by path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return path
    return base / f"{name_or_path}.yaml"


def load_check_set(path: Path) -> CheckSet:
    """Read and validate a check set; CheckSetInvalid lists every problem with its line."""
    known = {"name", "description", "registrars", "reuse_minutes", "recheck", "checks"}
    try:
        reader, top, root, raw = read_document(path, known, "a check set needs name and checks")
    except YamlUnreadable as exc:
        raise CheckSetInvalid([exc.problem]) from None
    name = reader.text(top["name"][1], "name") if "name" in top else ""
    if "name" not in top:
        reader.problem(root, "name", None, "a check set needs a name")
    description = (
        reader.text(top["description"][1], "description", empty=True) if "description" in top else ""
    )
    registrars = _registrars(reader, top["registrars"][1]) if "registrars" in top else {}
    reuse = 10.0
    if "reuse_minutes" in top:
        node = top["reuse_minutes"][1]
        value = reader.value(node)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1440:
            reader.problem(node, "reuse_minutes", value, "must be a number of minutes from 0 to 1440")
        else:
            reuse = float(value)
    recheck = True
    if "recheck" in top:
        node = top["recheck"][1]
        value = reader.value(node)
        if not isinstance(value, bool):
            reader.problem(node, "recheck", value, "must be true or false")
        else:
            recheck = value
    checks: list[Check] = []
    if "checks" not in top:
        reader.problem(root, "checks", None, "a check set needs a list of checks")
    elif not isinstance(top["checks"][1], SequenceNode) or not top["checks"][1].value:
        reader.problem(top["checks"][1], "checks", None, "must be a non-empty list")
    else:
        seen: dict[str, int] = {}  # every id given above, valid or not, with its line
        for item in top["checks"][1].value:
            check = _check(reader, item, seen, registrars)
            if check is not None:
                checks.append(check)
    if reader.problems:
        raise CheckSetInvalid(reader.problems)
    digest = hashlib.sha256(raw).hexdigest()[:16]
    return CheckSet(name, path, tuple(checks), description, registrars, reuse, recheck, digest)


def _registrars(reader: YamlReader, node: Node) -> dict[Carrier, str]:
    out: dict[Carrier, str] = {}
    for key, (key_node, value) in reader.mapping(node, "registrars").items():
        try:
            carrier = Carrier(key)
        except ValueError:
            carriers = ", ".join(c.value for c in Carrier)
            reader.problem(key_node, "registrars", key, f"not a carrier ({carriers})")
            continue
        out[carrier] = reader.text(value, f"registrars.{key}")
    return out


def _check(  # noqa: PLR0915 - one rule per field, in the order a reader meets them
    reader: YamlReader, node: Node, earlier: dict[str, int], registrars: dict[Carrier, str]
) -> Check | None:
    fields = reader.mapping(node, "checks[]")
    if not fields:
        return None
    before = len(reader.problems)
    known = {"id", "title", "role", "fact", "expect", "severity", "party", "remedy", "requires"}
    for key, (key_node, _v) in fields.items():
        if key not in known:
            reader.problem(key_node, key, None, f"unknown key (known: {', '.join(sorted(known))})")
    for required in ("id", "title", "role", "fact", "expect", "severity", "party", "remedy"):
        if required not in fields:
            reader.problem(node, required, None, "missing: every check needs it")
    if len(reader.problems) > before:
        return None
    check_id = reader.text(fields["id"][1], "id")
    if check_id and not ID.fullmatch(check_id):
        reader.problem(fields["id"][1], "id", check_id, "must be lower-case letters, digits and '_'")
    elif check_id in earlier:
        reader.problem(fields["id"][1], "id", check_id, f"already used on line {earlier[check_id]}")
    elif check_id:
        earlier[check_id] = node.start_mark.line + 1
    title = reader.text(fields["title"][1], "title")
    remedy = reader.text(fields["remedy"][1], "remedy")
    role_text = reader.text(fields["role"][1], "role")
    role: Role | None = None
    try:
        role = Role(role_text)
    except ValueError:
        if role_text:
            roles = ", ".join(r.value for r in Role)
            reader.problem(fields["role"][1], "role", role_text, f"not a role ({roles})")
    fact = reader.text(fields["fact"][1], "fact")
    info = FACTS.get(fact)
    if fact and info is None:
        reader.problem(fields["fact"][1], "fact", fact, f"no such fact (known: {', '.join(FACTS)})")
    elif info is not None and role is not None and role not in info.roles:
        roles = ", ".join(sorted(r.value for r in info.roles))
        reader.problem(fields["fact"][1], "fact", fact, f"is read from {roles}, not from a {role.value}")
    severity_text = reader.text(fields["severity"][1], "severity")
    severity: Severity | None = None
    try:
        severity = Severity(severity_text)
    except ValueError:
        if severity_text:
            reader.problem(fields["severity"][1], "severity", severity_text, "must be blocker or warning")
    party = reader.text(fields["party"][1], "party").lower()
    if party and party not in PARTIES:
        reader.problem(fields["party"][1], "party", party, f"must be one of {', '.join(sorted(PARTIES))}")
    elif party == "found" and info is not None and not info.from_findings:
        reader.problem(
            fields["party"][1],
            "party",
            party,
            "'found' applies only to facts read off findings (reachable, managed)",
        )
    op, value = _expect(reader, fields["expect"][1], info, registrars)
    requires: list[str] = []
    if "requires" in fields:
        req_node = fields["requires"][1]
        if not isinstance(req_node, SequenceNode):
            reader.problem(req_node, "requires", None, "must be a list of check ids")
        else:
            for item in req_node.value:
                ref = reader.text(item, "requires")
                if ref and (ref not in earlier or ref == check_id):
                    reader.problem(item, "requires", ref, "no check with this id above this one")
                requires.append(ref)
    if len(reader.problems) > before or role is None or severity is None:
        return None
    return Check(
        check_id,
        title,
        role,
        fact,
        op,
        value,
        severity,
        party,
        remedy,
        tuple(requires),
        node.start_mark.line + 1,
    )


def _expect(
    reader: YamlReader, node: Node, info: FactInfo | None, registrars: dict[Carrier, str]
) -> tuple[str, Any]:
    fields = reader.mapping(node, "expect")
    if len(fields) != 1:
        if fields:
            reader.problem(node, "expect", None, f"give exactly one of {', '.join(OPS)}")
        return "", None
    op, (op_node, value_node) = next(iter(fields.items()))
    if op not in OPS:
        reader.problem(op_node, "expect", op, f"unknown test (known: {', '.join(OPS)})")
        return "", None
    if info is not None and info.kind not in OPS[op]:
        reader.problem(op_node, f"expect.{op}", None, f"does not apply to a {info.kind} fact")
        return "", None
    value = reader.value(value_node)
    where = f"expect.{op}"
    if op in ("max", "min"):
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            reader.problem(value_node, where, value, "must be a number")
    elif op == "empty":
        if value is not True:
            reader.problem(value_node, where, value, "must be true")
    elif op == "equals":
        kinds = {"bool": bool, "number": int | float, "text": str}
        if info is not None and not isinstance(value, kinds[info.kind]):
            reader.problem(value_node, where, value, f"must be a {info.kind} for this fact")
        elif isinstance(value, str) and "{" in value:
            if value not in PLACEHOLDERS:
                reader.problem(
                    value_node, where, value, f"unknown placeholder (known: {', '.join(PLACEHOLDERS)})"
                )
            elif value == "{site.registrar}" and set(registrars) != set(Carrier):
                reader.problem(value_node, where, value, "needs 'registrars' for every carrier")
    elif op == "one_of":
        value = _one_of(reader, value_node, value, where)
    return op, value


def _one_of(reader: YamlReader, node: Node, value: Any, where: str) -> Any:
    def is_list(v: Any) -> bool:
        return isinstance(v, list) and bool(v) and all(isinstance(x, str | int | float) for x in v)

    if isinstance(value, dict):
        for driver, versions in value.items():
            if str(driver) not in REGISTRY:
                reader.problem(node, where, driver, f"no such driver (known: {', '.join(REGISTRY.names())})")
            elif not is_list(versions):
                reader.problem(node, f"{where}.{driver}", versions, "must be a non-empty list")
        return {str(k): [str(x) for x in v] for k, v in value.items() if is_list(v)}
    if not is_list(value):
        reader.problem(node, where, value, "must be a non-empty list, or a list per driver")
        return []
    return [str(x) for x in value]
