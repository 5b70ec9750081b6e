"""Which simulated model serves which driver: each is a handful of functions of a device's state."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fleet.sim.cli_base import Cli
from fleet.sim.device import DeviceState, Interface
from fleet.sim.models import axis_ptz, cisco_ce, cisco_ios, huawei_vrp
from fleet.sim.snmp.mib import MibView


def _nothing(_state: DeviceState) -> None:
    return None


def _text(lines: list[str]) -> str:
    return "\n".join(lines) + "\n"


def _ios_startup(d: DeviceState) -> str:
    cisco_ios.tree_of(d)  # the first look at a device builds its configuration, and saves it
    return _text(d.saved)


def _vrp_startup(d: DeviceState) -> str:
    huawei_vrp.tree_of(d)
    return _text(d.saved)


@dataclass(frozen=True, slots=True)
class Model:
    view: Callable[[list[Interface]], MibView]
    make_cli: Callable[[DeviceState], Cli | None] = lambda _state: None
    drift: Callable[[DeviceState], None] = _nothing
    undrift: Callable[[DeviceState], None] = _nothing
    running_config: Callable[[DeviceState], str] = lambda _state: ""
    # The saved configuration, rendered as running_config renders the running one.
    startup_config: Callable[[DeviceState], str] = lambda _state: ""


MODELS: dict[str, Model] = {
    "cisco_ios": Model(
        view=cisco_ios.view,
        make_cli=cisco_ios.IosCli,
        drift=cisco_ios.drift,
        undrift=cisco_ios.undrift,
        running_config=lambda d: _text(cisco_ios.render_config(cisco_ios.tree_of(d))),
        startup_config=_ios_startup,
    ),
    "huawei_vrp": Model(
        view=huawei_vrp.view,
        make_cli=huawei_vrp.VrpCli,
        drift=huawei_vrp.drift,
        undrift=huawei_vrp.undrift,
        running_config=lambda d: _text(huawei_vrp.render_config(huawei_vrp.tree_of(d), d)),
        startup_config=_vrp_startup,
    ),
    "cisco_ce": Model(
        view=cisco_ce.view,
        make_cli=cisco_ce.CodecCli,
        drift=cisco_ce.drift,
        undrift=cisco_ce.undrift,
        running_config=cisco_ce.running_config,
        startup_config=cisco_ce.running_config,  # a codec's settings persist as they are set
    ),
    "axis_ptz": Model(view=axis_ptz.view),
}
