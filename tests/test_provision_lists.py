"""What the provisioning and config commands print when a list is too long to show whole: the
count of what was left out, every time (no simulator: the printers are fed results directly)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from fleet.cli import deps
from fleet.cli import provision as provision_cli
from fleet.domain.provision import DeviceOutcome, DeviceProvision, ProvisionMode
from fleet.engine.provision import NO_BACKUP, ProvisionOutcome


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    text = io.StringIO()
    monkeypatch.setattr(deps, "out", Console(file=text, width=400, highlight=False))
    return text


def test_drift_before_any_backup_says_none_was_compared_and_how_many_are_not_named(
    shown: io.StringIO,
) -> None:
    blind = [
        {
            "device": f"vn{i:05}-rtr",
            "site": f"{i:05}",
            "playbook": "baseline",
            "drift": False,
            "reason": NO_BACKUP,
        }
        for i in range(6642)
    ]
    summary = {"playbook": "baseline", "checked": 6642, "summary": True}
    provision_cli._print_drift([*blind, summary])
    text = shown.getvalue()
    assert (
        "Drift: 0 of 6,642 device(s) differ from their playbook; 6,642 not compared "
        "(no backup kept yet: run 'fleet config backup')"
    ) in text
    assert "vn00099-rtr" in text and "vn00100-rtr" not in text
    assert "… and 6,542 more (--json lists every one)" in text


def test_drift_not_compared_for_several_reasons_counts_each(shown: io.StringIO) -> None:
    report = [
        {"device": "a", "drift": False, "reason": NO_BACKUP},
        {"device": "b", "drift": False, "reason": NO_BACKUP},
        {"device": "c", "drift": False, "reason": "login: authentication failed"},
        {"playbook": "baseline", "checked": 5, "summary": True},
    ]
    provision_cli._print_drift(report)
    assert (
        "0 of 5 device(s) differ from their playbook; 3 not compared "
        "(2 no backup kept yet: run 'fleet config backup'; 1 login: authentication failed)"
    ) in shown.getvalue()


def test_the_devices_named_after_the_diffs_shown_say_how_many_more_there_are(shown: io.StringIO) -> None:
    changing = [
        DeviceProvision(
            f"vn{i:05}-rtr", f"{i:05}", "cisco_ios", DeviceOutcome.WOULD_CHANGE, diff="--- a\n+++ b\n+x"
        )
        for i in range(150)
    ]
    provision_cli.print_outcome(ProvisionOutcome(1, ProvisionMode.DRY_RUN, changing, 1.0), None, 10)
    text = shown.getvalue()
    assert "… and 140 more: vn00010-rtr, vn00011-rtr," in text
    assert "vn00029-rtr and 120 more (every diff: --json)" in text and "vn00030-rtr" not in text
