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


@dataclass(frozen=True, slots=True)
class Model:
    view: Callable[[list[Interface]], MibView]
    make_cli: Callable[[DeviceState], Cli | None] = lambda _state: None
    drift: Callable[[DeviceState], None] = _nothing
    undrift: Callable[[DeviceState], None] = _nothing
    running_config: Callable[[DeviceState], str] = lambda _state: ""


MODELS: dict[str, Model] = {
    "cisco_ios": Model(
        view=cisco_ios.view,
        make_cli=cisco_ios.IosCli,
        drift=cisco_ios.drift,
        undrift=cisco_ios.undrift,
        running_config=lambda d: "\n".join(cisco_ios.render_config(cisco_ios.tree_of(d))) + "\n",
    ),
    "huawei_vrp": Model(
        view=huawei_vrp.view,
        make_cli=huawei_vrp.VrpCli,
        drift=huawei_vrp.drift,
        undrift=huawei_vrp.undrift,
        running_config=lambda d: "\n".join(huawei_vrp.render_config(huawei_vrp.tree_of(d), d)) + "\n",
    ),
    "cisco_ce": Model(
        view=cisco_ce.view,
        make_cli=cisco_ce.CodecCli,
        drift=cisco_ce.drift,
        undrift=cisco_ce.undrift,
        running_config=cisco_ce.running_config,
    ),
    "axis_ptz": Model(view=axis_ptz.view),
}
