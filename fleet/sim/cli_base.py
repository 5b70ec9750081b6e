"""What every simulated CLI provides; the SSH layer drives it one line at a time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from fleet.sim.device import DeviceState


@dataclass(frozen=True, slots=True)
class Reply:
    output: str = ""  # lines separated by "\n"; the SSH layer sends CRLF
    close: bool = False  # close the session after sending the output
    reset: bool = False  # drop the connection at once (a reset in the field)
    prompt: bool = True  # send the prompt after the output


class Cli(Protocol):
    def banner(self) -> str:
        """Text sent once the shell starts, before the first prompt."""
        ...

    def prompt(self) -> str: ...

    def handle(self, line: str) -> Reply: ...


def caret_error(prompt: str, line: str, position: int, message: str) -> str:
    """IOS/VRP style: a caret under the offending character, aligned past the prompt."""
    return " " * (len(prompt) + position) + "^\n" + message


def reset_now(state: DeviceState, pushed: int) -> bool:
    """Whether a 'reset during push' fault drops the session before this configuration line."""
    from fleet.sim.faults import FaultKind  # noqa: PLC0415 - faults import device, which imports this

    fault = state.faults.get(FaultKind.RESET_DURING_PUSH)
    return fault is not None and pushed >= int(fault.number("after_lines"))


def rejected_at(state: DeviceState, line: str) -> int | None:
    """Where a 'config rejected' fault's text starts in a configuration line (any case), if it is there."""
    from fleet.sim.faults import FaultKind  # noqa: PLC0415 - faults import device, which imports this

    fault = state.faults.get(FaultKind.CONFIG_REJECTED)
    if fault is None:
        return None
    position = line.lower().find(str(fault.param("match")).lower())
    return position if position >= 0 else None
