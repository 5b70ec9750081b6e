"""The README's format documentation stays true: same columns as the schema, examples that validate."""

from __future__ import annotations

import re
from pathlib import Path

from fleet.inventory.schema import Kind, column_names
from fleet.inventory.validate import Known, validate_paths
from fleet.settings import Settings
from fleet.sim.faults import FaultKind, load_scenario
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_column_is_documented_in_order() -> None:
    for kind in Kind:
        section = README.split(f"#### {kind.value}\n", 1)[1].split("\n#### ", 1)[0]
        documented = re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE)
        assert documented == column_names(kind), kind


def test_the_examples_validate(tmp_path: Path) -> None:
    example = README.split("#### Example", 1)[1]
    blocks = re.findall(r"`([a-z.]+)`:\n\n```(?:csv|yaml)\n(.*?)```", example, flags=re.DOTALL)
    assert [name for name, _ in blocks] == ["sites.csv", "devices.csv", "inventory.yaml"]
    for name, body in blocks:
        (tmp_path / name).write_text(body, encoding="utf-8")
    result = validate_paths([tmp_path], Known(site_codes=frozenset({"00004"})))
    assert result.problems == []
    assert result.inventory.counts() == {"sites": 1, "devices": 3, "credentials": 2, "groups": 1}


def test_the_two_setup_commands_are_there() -> None:
    commands = re.findall(r"```sh\n(python3 -m venv .*)\n```", README)
    assert commands == [
        "python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/fleet demo",
        "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/pytest",
    ]


def test_the_scenario_example_loads_against_the_shipped_inventory(tmp_path: Path) -> None:
    block = re.search(r"A scenario file.*?```yaml\n(.*?)```", README, flags=re.DOTALL)
    assert block is not None
    path = tmp_path / "scenario.yaml"
    path.write_text(block.group(1), encoding="utf-8")
    roles = {d.name: d.role for d in validate_paths([ROOT / "inventory"]).inventory.devices}
    scenario = load_scenario(path, roles)
    assert scenario.rate == 0.02
    assert [f.kind for f in scenario.faults["vn32248-rtr"]] == [FaultKind.POOR_LINK]


def test_every_setting_is_in_the_settings_table() -> None:
    missing = [name for name in Settings.model_fields if f"`{name}`" not in README]
    assert missing == []
