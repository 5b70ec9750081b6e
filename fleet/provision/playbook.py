"""Provisioning playbooks: YAML files in playbooks/provision/ saying which template applies to which devices.

```yaml
name: baseline
description: what the NOC sets on every device
vars:                                # for every rule's template
  ntp_servers: [10.10.0.1, 10.10.0.2]
rules:                               # the first rule that matches a device applies to it
  - match: {role: router}            # role, driver, model, province, carrier, group, site: a value or a list
    template: "{driver}/baseline.j2" # under playbooks/templates/<driver>/; {driver} is the device's
    exclusive: ["ntp server"]        # top-level lines the template owns: others with the prefix are removed
    vars: {…}                        # override the playbook's for this rule
```

A rule applies to a device only through a template of the device's own driver, so a Huawei router
can never be sent an IOS template. Everything is validated on load, each problem with file and line.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yaml.nodes import Node, ScalarNode, SequenceNode

from fleet.domain.enums import Carrier, Role
from fleet.domain.text import unsafe
from fleet.drivers.registry import REGISTRY
from fleet.errors import FleetError
from fleet.inventory.problems import Problem, YamlReader, YamlUnreadable, read_document
from fleet.inventory.schema import DeviceRecord, SiteRecord
from fleet.provision.templates import TemplateFailed, Templates

PROVISION_DIR = Path("playbooks/provision")
MATCH_KEYS = ("role", "driver", "model", "province", "carrier", "group", "site")


class PlaybookInvalid(FleetError):
    exit_code = 2

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        listed = "\n".join(str(p) for p in problems)
        head = f"{len(problems)} problem(s) in the playbook; nothing was sent to any device"
        super().__init__(f"{head}\n{listed}")


@dataclass(frozen=True, slots=True)
class Match:
    """Every key given must match (a list: any of its values); provinces and groups resolve later."""

    roles: frozenset[Role] = frozenset()
    drivers: frozenset[str] = frozenset()
    models: frozenset[str] = frozenset()
    provinces: tuple[str, ...] = ()  # as written: codes, codenames or names
    carriers: frozenset[Carrier] = frozenset()
    groups: tuple[str, ...] = ()
    sites: frozenset[str] = frozenset()

    def matches(
        self,
        device: DeviceRecord,
        site: SiteRecord,
        province_codes: frozenset[str],
        group_sites: frozenset[str],
    ) -> bool:
        """``province_codes`` and ``group_sites``: this match's provinces and groups, resolved."""
        return (
            (not self.roles or device.role in self.roles)
            and (not self.drivers or device.driver in self.drivers)
            and (not self.models or device.model in self.models)
            and (not self.provinces or site.province_code in province_codes)
            and (not self.carriers or site.carrier in self.carriers)
            and (not self.groups or site.code in group_sites)
            and (not self.sites or site.code in self.sites)
        )


@dataclass(frozen=True, slots=True)
class Rule:
    index: int  # 1-based, as people count them
    line: int
    name: str
    match: Match
    template: str  # may hold {driver}
    exclusive: tuple[str, ...]
    vars: dict[str, Any] = field(default_factory=dict)

    def template_for(self, driver: str) -> str:
        return self.template.replace("{driver}", driver)

    def applies_to(self, driver: str) -> bool:
        return self.template_for(driver).split("/", 1)[0] == driver


@dataclass(frozen=True, slots=True)
class Playbook:
    name: str
    path: Path
    description: str
    vars: dict[str, Any]
    rules: tuple[Rule, ...]
    digest: str

    def variables(self, rule: Rule) -> dict[str, Any]:
        return {**self.vars, **rule.vars}


def find_playbook(name_or_path: str, base: Path = PROVISION_DIR) -> Path:
    """A playbook by name (playbooks/provision/<name>.yaml) or by path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return path
    return base / f"{name_or_path}.yaml"


def list_playbooks(base: Path = PROVISION_DIR) -> list[Path]:
    return sorted(p for p in base.glob("*.y*ml") if p.suffix in (".yaml", ".yml"))


RESERVED = frozenset({"device", "site", "playbook"})


def load_playbook(path: Path, templates: Templates) -> Playbook:
    """Read and validate a playbook and compile its templates; PlaybookInvalid lists every problem."""
    known = {"name", "description", "vars", "rules"}
    try:
        reader, top, root, raw = read_document(path, known, "a playbook needs a name and rules")
    except YamlUnreadable as exc:
        raise PlaybookInvalid([exc.problem]) from None
    name = reader.text(top["name"][1], "name") if "name" in top else ""
    if "name" not in top:
        reader.problem(root, "name", None, "a playbook needs a name")
    description = (
        reader.text(top["description"][1], "description", empty=True) if "description" in top else ""
    )
    variables = _vars(reader, top["vars"][1], "vars") if "vars" in top else {}
    rules: list[Rule] = []
    if "rules" not in top:
        reader.problem(root, "rules", None, "a playbook needs a list of rules")
    elif not isinstance(top["rules"][1], SequenceNode) or not top["rules"][1].value:
        reader.problem(top["rules"][1], "rules", None, "must be a non-empty list")
    else:
        for i, node in enumerate(top["rules"][1].value, 1):
            rule = _rule(reader, node, i, templates)
            if rule is not None:
                rules.append(rule)
    if reader.problems:
        raise PlaybookInvalid(reader.problems)
    return Playbook(name, path, description, variables, tuple(rules), hashlib.sha256(raw).hexdigest()[:16])


def _vars(reader: YamlReader, node: Node, where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, (key_node, value_node) in reader.mapping(node, where).items():
        if not key.isidentifier() or key in RESERVED:
            reader.problem(
                key_node, f"{where}.{key}", None, "must be a name (letters, digits, _), not device/site"
            )
            continue
        out[key] = _value(reader, value_node, f"{where}.{key}")
    return out


def _value(reader: YamlReader, node: Node, where: str) -> Any:
    """A variable's value: text, a number, true/false, or lists and mappings of them; every text one line."""
    if isinstance(node, ScalarNode):
        value = reader.value(node)
        if isinstance(value, str):
            reason = unsafe(value)
            if reason:
                reader.problem(node, where, value, f"{reason}: a value sent to devices must be one line")
        elif value is not None and not isinstance(value, int | float | bool):
            reader.problem(node, where, str(value), "must be text, a number or true/false")
        return value
    if isinstance(node, SequenceNode):
        return [_value(reader, item, f"{where}[{i}]") for i, item in enumerate(node.value)]
    out = {}
    for key, (_k, value_node) in reader.mapping(node, where).items():
        out[key] = _value(reader, value_node, f"{where}.{key}")
    return out


def _strings(reader: YamlReader, node: Node, where: str) -> list[tuple[str, Node]]:
    nodes = node.value if isinstance(node, SequenceNode) else [node]
    out = []
    for item in nodes:
        value = reader.value(item) if isinstance(item, ScalarNode) else None
        if value is None or isinstance(value, bool | list | dict):
            reader.problem(
                item, where, None if value is None else str(value), "must be a value or a list of values"
            )
            continue
        out.append((str(value), item))
    return out


def _match(reader: YamlReader, node: Node, where: str) -> Match:
    values: dict[str, list[tuple[str, Node]]] = {}
    for key, (key_node, value_node) in reader.mapping(node, where).items():
        if key not in MATCH_KEYS:
            reader.problem(key_node, f"{where}.{key}", None, f"unknown key (known: {', '.join(MATCH_KEYS)})")
            continue
        values[key] = _strings(reader, value_node, f"{where}.{key}")
    roles: set[Role] = set()
    for text, item in values.get("role", []):
        try:
            roles.add(Role(text))
        except ValueError:
            reader.problem(item, f"{where}.role", text, f"not a role ({', '.join(r.value for r in Role)})")
    carriers: set[Carrier] = set()
    by_name = {c.value.lower(): c for c in Carrier}
    for text, item in values.get("carrier", []):
        if text.lower() in by_name:
            carriers.add(by_name[text.lower()])
        else:
            reader.problem(
                item, f"{where}.carrier", text, f"not a carrier ({', '.join(c.value for c in Carrier)})"
            )
    drivers: set[str] = set()
    for text, item in values.get("driver", []):
        if text not in REGISTRY:
            reader.problem(item, f"{where}.driver", text, f"no such driver ({', '.join(REGISTRY.names())})")
        drivers.add(text)
    return Match(
        roles=frozenset(roles),
        drivers=frozenset(drivers),
        models=frozenset(t for t, _ in values.get("model", [])),
        provinces=tuple(t for t, _ in values.get("province", [])),
        carriers=frozenset(carriers),
        groups=tuple(t for t, _ in values.get("group", [])),
        sites=frozenset(t for t, _ in values.get("site", [])),
    )


def _rule(reader: YamlReader, node: Node, index: int, templates: Templates) -> Rule | None:
    where = f"rules[{index}]"
    fields = reader.mapping(node, where)
    known = {"name", "match", "template", "exclusive", "vars"}
    for key, (key_node, _v) in fields.items():
        if key not in known:
            reader.problem(
                key_node, f"{where}.{key}", None, f"unknown key (known: {', '.join(sorted(known))})"
            )
    if not fields:
        return None
    name = reader.text(fields["name"][1], f"{where}.name") if "name" in fields else f"rule {index}"
    match = _match(reader, fields["match"][1], f"{where}.match") if "match" in fields else Match()
    if "template" not in fields:
        reader.problem(node, f"{where}.template", None, "a rule needs a template")
        return None
    template_node = fields["template"][1]
    template = reader.text(template_node, f"{where}.template")
    if not template:
        return None
    drivers = _template_drivers(template, match)
    if not drivers:
        reader.problem(
            template_node,
            f"{where}.template",
            template,
            "must be '<driver>/<file>' (or '{driver}/<file>') for a driver the rule can match, "
            f"with configuration support ({', '.join(d.name for d in REGISTRY if d.config is not None)})",
        )
    for driver in drivers:
        try:
            templates.check(template.replace("{driver}", driver))
        except TemplateFailed as exc:
            reader.problem(template_node, f"{where}.template", template, str(exc))
    exclusive = []
    if "exclusive" in fields:
        for text, item in _strings(reader, fields["exclusive"][1], f"{where}.exclusive"):
            if not text.strip() or unsafe(text):
                reader.problem(item, f"{where}.exclusive", text, "must be one line of text")
            else:
                exclusive.append(text.strip())
    variables = _vars(reader, fields["vars"][1], f"{where}.vars") if "vars" in fields else {}
    return Rule(index, node.start_mark.line + 1, name, match, template, tuple(exclusive), variables)


def _template_drivers(template: str, match: Match) -> list[str]:
    """The drivers a rule's template can serve: its folder's, or for {driver} each the match allows."""
    folder = template.split("/", 1)[0]
    if "/" not in template:
        return []
    candidates = [d for d in REGISTRY if d.config is not None]
    if folder == "{driver}":
        return [
            d.name
            for d in candidates
            if (not match.drivers or d.name in match.drivers) and (not match.roles or d.role in match.roles)
        ]
    return [folder] if folder in {d.name for d in candidates} else []
