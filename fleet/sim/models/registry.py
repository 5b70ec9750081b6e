"""Which simulated model serves which driver."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from fleet.sim.cli_base import Cli
from fleet.sim.device import DeviceState, Interface
from fleet.sim.models import axis_ptz, cisco_ce, cisco_ios, huawei_vrp
from fleet.sim.snmp.mib import MibView


class Model(Protocol):
    """What each simulated model provides to the runtime."""

    def view(self, template: list[Interface]) -> MibView: ...

    def make_cli(self, state: DeviceState) -> Cli | None: ...

    def drift(self, state: DeviceState) -> None: ...

    def undrift(self, state: DeviceState) -> None: ...

    def running_config(self, state: DeviceState) -> str: ...


@dataclass(frozen=True, slots=True)
class IosModel:
    def view(self, template: list[Interface]) -> MibView:
        return cisco_ios.view(template)

    def make_cli(self, state: DeviceState) -> Cli | None:
        return cisco_ios.IosCli(state)

    def drift(self, state: DeviceState) -> None:
        cisco_ios.drift(state)

    def undrift(self, state: DeviceState) -> None:
        cisco_ios.undrift(state)

    def running_config(self, state: DeviceState) -> str:
        return "\n".join(cisco_ios.render_config(cisco_ios.tree_of(state))) + "\n"


@dataclass(frozen=True, slots=True)
class VrpModel:
    def view(self, template: list[Interface]) -> MibView:
        return huawei_vrp.view(template)

    def make_cli(self, state: DeviceState) -> Cli | None:
        return huawei_vrp.VrpCli(state)

    def drift(self, state: DeviceState) -> None:
        huawei_vrp.drift(state)

    def undrift(self, state: DeviceState) -> None:
        huawei_vrp.undrift(state)

    def running_config(self, state: DeviceState) -> str:
        return "\n".join(huawei_vrp.render_config(huawei_vrp.tree_of(state), state)) + "\n"


@dataclass(frozen=True, slots=True)
class CodecModel:
    def view(self, template: list[Interface]) -> MibView:
        return cisco_ce.view(template)

    def make_cli(self, state: DeviceState) -> Cli | None:
        return cisco_ce.CodecCli(state)

    def drift(self, state: DeviceState) -> None:
        cisco_ce.drift(state)

    def undrift(self, state: DeviceState) -> None:
        cisco_ce.undrift(state)

    def running_config(self, state: DeviceState) -> str:
        return cisco_ce.running_config(state)


@dataclass(frozen=True, slots=True)
class CameraModel:
    def view(self, template: list[Interface]) -> MibView:
        return axis_ptz.view(template)

    def make_cli(self, state: DeviceState) -> Cli | None:
        return None

    def drift(self, state: DeviceState) -> None:
        return None

    def undrift(self, state: DeviceState) -> None:
        return None

    def running_config(self, state: DeviceState) -> str:
        return ""


MODELS: dict[str, Model] = {
    "cisco_ios": IosModel(),
    "huawei_vrp": VrpModel(),
    "cisco_ce": CodecModel(),
    "axis_ptz": CameraModel(),
}
