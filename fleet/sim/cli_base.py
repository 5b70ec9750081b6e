"""What every simulated CLI provides; the SSH layer drives it one line at a time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


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
