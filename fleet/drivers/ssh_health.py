"""What each driver runs over SSH in a sweep, and how it reads the output into Facts.

Codecs say over SSH what SNMP cannot: SIP registration, peripherals, calls, clock. Routers are
logged in to with one harmless command, so that a sweep proves the SSH management path that
provisioning will need.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from fleet.drivers.facts import Facts
from fleet.drivers.parsers.xapi import codec_status, parse_leaves

# The codec answers every command with OK, ERROR or 'Command not recognized.' on a line of its own.
XAPI_END = r"\n(?:OK|ERROR|Command not recognized\.)\r?\n"

CODEC_COMMANDS = (
    "xStatus SystemUnit",
    "xStatus SIP",
    "xStatus Call",
    "xStatus Video",
    "xStatus Audio Input Connectors",
    "xStatus NetworkServices NTP",
    "xConfiguration UserInterface SpeedDial",  # readiness: is the session's bridge the speed dial
)


def read_codec(outputs: Mapping[str, str]) -> Facts:
    """Merge the leaves of every answer; a ParseError names the command that could not be read."""
    leaves: dict[str, str] = {}
    for command in CODEC_COMMANDS:
        leaves.update(parse_leaves(outputs[command]))
    return Facts(codec=codec_status(leaves))


def read_nothing(_outputs: Mapping[str, str]) -> Facts:
    return Facts()


@dataclass(frozen=True, slots=True)
class SshHealth:
    commands: tuple[str, ...]
    read: Callable[[Mapping[str, str]], Facts]
    expect: str | None = None  # a regex that ends a command's output, where the prompt does not


SSH_HEALTH: dict[str, SshHealth] = {
    "cisco_ios": SshHealth(("show clock",), read_nothing),
    "huawei_vrp": SshHealth(("display clock",), read_nothing),
    "cisco_ce": SshHealth(CODEC_COMMANDS, read_codec, expect=XAPI_END),
}
