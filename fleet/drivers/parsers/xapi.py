"""Cisco CE / RoomOS xAPI output in terminal mode: '*s Path: value' lines, '** end', then OK or ERROR."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from fleet.drivers.parsers import ParseError

_LINE = re.compile(
    r"^\*(?P<kind>[sc]) (?:xConfiguration )?(?P<path>[^:]+?)(?: \((?P<flags>[^)]*)\))?: ?(?P<value>.*)$"
)
_ERROR_REASON = re.compile(r'^\*r \w+ Reason: "(?P<reason>.*)"$')


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def parse_leaves(text: str) -> dict[str, str]:
    """Status or configuration leaves by path ('SIP Registration 1 Status' -> 'Registered').

    Raises ParseError when the codec answered ERROR or did not know the command.
    """
    lines = [line.rstrip("\r") for line in text.splitlines()]
    stripped = [line.strip() for line in lines if line.strip()]
    if "Command not recognized." in stripped:
        raise ParseError("the codec did not recognise the command")
    if "ERROR" in stripped:
        reason = next((m["reason"] for line in lines if (m := _ERROR_REASON.match(line))), "no reason given")
        raise ParseError(f"the codec answered ERROR: {reason}")
    if "** end" not in stripped:
        raise ParseError("the answer is cut short: no '** end' line")
    leaves: dict[str, str] = {}
    for line in lines:
        match = _LINE.match(line)
        if match is not None:
            leaves[match["path"].strip()] = _unquote(match["value"])
    return leaves


@dataclass(frozen=True, slots=True)
class Diagnostic:
    type: str
    level: str
    description: str


@dataclass(frozen=True, slots=True)
class CodecStatus:
    """What readiness needs to know of a codec, each None when the output did not say."""

    software_version: str | None = None
    sip_status: str | None = None
    sip_reason: str | None = None
    sip_proxy: str | None = None  # the registrar the codec uses (xStatus SIP Proxy 1 Address)
    active_calls: int | None = None
    call_remote: str | None = None
    camera_connected: bool | None = None
    microphone_connected: bool | None = None
    display_connected: bool | None = None
    ntp_status: str | None = None
    speed_dial: str | None = None  # the configured speed dial: the session bridge's dial string
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def sip_registered(self) -> bool | None:
        return None if self.sip_status is None else self.sip_status == "Registered"

    @property
    def ntp_synced(self) -> bool | None:
        return None if self.ntp_status is None else self.ntp_status == "Synced"


def _flag(value: str | None, true: str) -> bool | None:
    return None if value is None else value == true


_MICROPHONE = re.compile(r"Audio Input Connectors (?:Microphone|Ethernet|USB\w*) \d+ ConnectionStatus")


def _microphone(leaves: dict[str, str]) -> bool | None:
    """A microphone on any input: analogue, Ethernet (RoomOS 11) or USB. None: the codec reports none."""
    states = [v for k, v in leaves.items() if _MICROPHONE.fullmatch(k)]
    if not states:
        return None
    return any(v == "Connected" for v in states)


def codec_status(leaves: dict[str, str]) -> CodecStatus:
    """Read the facts from the leaves of one or more xStatus answers merged together."""
    calls = leaves.get("SystemUnit State NumberOfActiveCalls")
    remote = next((v for k, v in leaves.items() if re.fullmatch(r"Call \d+ RemoteNumber", k)), None)
    camera = leaves.get("Cameras Camera 1 Connected", leaves.get("Video Input Connector 1 Connected"))
    diagnostics = []
    numbers = sorted({int(m[1]) for k in leaves if (m := re.fullmatch(r"Diagnostics Message (\d+) Type", k))})
    for n in numbers:
        prefix = f"Diagnostics Message {n}"
        diagnostics.append(
            Diagnostic(
                leaves[f"{prefix} Type"],
                leaves.get(f"{prefix} Level", ""),
                leaves.get(f"{prefix} Description", ""),
            )
        )
    if calls is not None and not calls.isdigit():
        raise ParseError(f"NumberOfActiveCalls is not a number: {calls!r}")
    return CodecStatus(
        software_version=leaves.get("SystemUnit Software Version"),
        sip_status=leaves.get("SIP Registration 1 Status"),
        sip_reason=leaves.get("SIP Registration 1 Reason") or None,
        sip_proxy=leaves.get("SIP Proxy 1 Address") or None,
        active_calls=None if calls is None else int(calls),
        call_remote=remote,
        camera_connected=_flag(camera, "True"),
        microphone_connected=_microphone(leaves),
        display_connected=_flag(leaves.get("Video Output Connector 1 Connected"), "True"),
        ntp_status=leaves.get("NetworkServices NTP Status"),
        speed_dial=leaves.get("UserInterface SpeedDial Number") or None,
        diagnostics=diagnostics,
    )
