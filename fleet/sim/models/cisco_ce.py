"""Cisco Room Kit family codec on CE / RoomOS software: SNMP view and the xAPI over SSH."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from fleet.sim.cli_base import Reply, rejected_at, reset_now
from fleet.sim.device import DRIFTED_REGISTRAR, NTP_SERVERS, SIP_REGISTRAR, DeviceState, Interface
from fleet.sim.faults import FaultKind
from fleet.sim.models.common import interfaces, system_group
from fleet.sim.snmp.mib import MibView

OUTDATED = "ce9.15.3.17"
BUILD = {"ce11.14.2.3": ("5e27f0d8ea5", "2024-05-07"), "ce9.15.3.17": ("0a8b3cd", "2021-09-20")}
BRIDGE_DIAL = "hop@bridge.hoinghi.gov.vn"
STATUS_ROOTS = (
    "Audio", "Call", "Cameras", "Conference", "Diagnostics", "Network", "NetworkServices", "SIP", "Standby",
    "SystemUnit", "Time", "Video",
)  # fmt: skip


def software(d: DeviceState) -> tuple[str, str, str]:
    """(version, build hash, release date) of what the codec runs."""
    version = d.firmware(OUTDATED)
    build, date = BUILD.get(version, ("a1b2c3d4e5f", "2023-01-01"))
    return version, build, date


def display_name(version: str, build: str) -> str:
    digits = version.removeprefix("ce")
    return f"RoomOS {digits} {build}" if digits.startswith("11") else f"ce {digits} {build}"


def sys_descr(d: DeviceState) -> str:
    version, build, date = software(d)
    return (
        f"Cisco Codec\nSoftW: {version}.{build}\nMCU: Cisco {d.record.model}\nDate: {date}\nS/N: {d.serial}"
    )


def view(template: list[Interface]) -> MibView:
    return MibView(
        [*system_group(sys_descr, lambda _d: "1.3.6.1.4.1.5596.150.6.4.1", 72), *interfaces(template)]
    )


def settings_of(d: DeviceState) -> dict[str, str]:
    if not d.settings:
        registrar = SIP_REGISTRAR[d.site.carrier]
        d.settings = {
            "Conference DefaultCall Protocol": "Sip",
            "Conference DefaultCall Rate": "6000",
            "NetworkServices NTP Mode": "Manual",
            "NetworkServices NTP Server 1 Address": f'"{NTP_SERVERS[0]}"',
            "NetworkServices NTP Server 2 Address": f'"{NTP_SERVERS[1]}"',
            "Network 1 QoS Mode": "Diffserv",
            "Network 1 QoS Diffserv Audio": "46",
            "Network 1 QoS Diffserv Video": "34",
            "Network 1 QoS Diffserv Data": "34",
            "Network 1 QoS Diffserv Signalling": "24",
            # The community the codec's own configuration shows, never the NOC's secret one.
            "NetworkServices SNMP CommunityName": '"public"',
            "NetworkServices SNMP Mode": "ReadOnly",
            "NetworkServices SNMP SystemContact": f'"NOC {d.site.carrier.value}"',
            "NetworkServices SNMP SystemLocation": f'"{d.site.name}, {d.province_name}"',
            "SIP DefaultTransport": "Tls",
            "SIP DisplayName": f'"{d.site.name}"',
            "SIP Proxy 1 Address": f'"{registrar}"',
            "SIP URI": f'"{d.name}@{registrar}"',
            "SystemUnit Name": f'"{d.name}"',
            "Time Zone": "Asia/Ho_Chi_Minh",
            "UserInterface SpeedDial Mode": "On",
            "UserInterface SpeedDial Number": f'"{BRIDGE_DIAL}"',
        }
    return d.settings


def drift(d: DeviceState) -> None:
    settings = settings_of(d)
    original = settings["SIP Proxy 1 Address"]
    settings["SIP Proxy 1 Address"] = f'"{DRIFTED_REGISTRAR}"'
    d.drift_undo.append((f'"{DRIFTED_REGISTRAR}"', original))


def undrift(d: DeviceState) -> None:
    settings = settings_of(d)
    for drifted, original in d.drift_undo:
        if settings.get("SIP Proxy 1 Address") == drifted:
            settings["SIP Proxy 1 Address"] = original
    d.drift_undo.clear()


def running_config(d: DeviceState) -> str:
    return "".join(f"*c xConfiguration {k}: {v}\n" for k, v in sorted(settings_of(d).items()))


def status_lines(d: DeviceState, now: float) -> list[tuple[str, str]]:  # noqa: PLR0915 - one line per leaf
    """Every status leaf of the codec as (path, value), values formatted as the codec prints them."""
    version, build, date = software(d)
    settings = settings_of(d)
    registrar = settings["SIP Proxy 1 Address"].strip('"')
    in_call = d.faults.get(FaultKind.IN_CALL)
    camera = not d.has(FaultKind.CAMERA_DISCONNECTED)
    display = not d.has(FaultKind.DISPLAY_DISCONNECTED)
    mic = not d.has(FaultKind.MICROPHONE_MISSING)
    synced = not d.has(FaultKind.CLOCK_UNSYNCED)
    registered = not d.has(FaultKind.SIP_UNREGISTERED) and registrar == SIP_REGISTRAR[d.site.carrier]
    clock = datetime.now(UTC) + (timedelta(minutes=-17) if not synced else timedelta())
    lines: list[tuple[str, str]] = []
    add = lines.append
    add(("Audio Input Connectors Microphone 1 ConnectionStatus", "Connected" if mic else "NotConnected"))
    add(("Audio Microphones Mute", "Off"))
    add(("Audio Volume", "50"))
    if in_call is not None:
        remote = str(in_call.param("remote"))
        duration = int(now - d.fault_since.get(FaultKind.IN_CALL, now))
        for key, value in (
            ("AnswerState", "Answered"), ("CallType", "Video"), ("Direction", "Outgoing"),
            ("DisplayName", f'"{remote}"'), ("Duration", str(duration)), ("Protocol", "Sip"),
            ("RemoteNumber", f'"{remote.removeprefix("sip:")}"'), ("Status", "Connected"),
        ):  # fmt: skip
            add((f"Call 3 {key}", value))
    add(("Cameras Camera 1 Connected", "True" if camera else "False"))
    if camera:
        add(("Cameras Camera 1 Manufacturer", '"Cisco"'))
        add(("Cameras Camera 1 Model", f'"{d.record.model}"'))
        add(("Cameras Camera 1 SerialNumber", f'"{d.serial}"'))
    problems = []
    if not registered:
        problems.append(("SIP registration failed: 408 Request Timeout", "Error", "SIPProfileRegistration"))
    if not camera:
        problems.append(("No camera detected on the camera input.", "Error", "CameraDetected"))
    if not mic:
        problems.append(("No microphone connected.", "Warning", "MicrophonesConnected"))
    if not display:
        problems.append(("No monitor connected to output 1.", "Warning", "OutputConnectorMonitor"))
    if not synced:
        problems.append(("The system time is not synchronized with an NTP server.", "Warning", "NTPStatus"))
    for n, (text, level, kind) in enumerate(problems, start=1):
        add((f"Diagnostics Message {n} Description", f'"{text}"'))
        add((f"Diagnostics Message {n} Level", level))
        add((f"Diagnostics Message {n} References", '""'))
        add((f"Diagnostics Message {n} Type", kind))
    add(("Network 1 Ethernet MacAddress", f'"{":".join(f"{b:02X}" for b in d.interfaces[0].mac)}"'))
    add(("Network 1 Ethernet Speed", '"1000full"'))
    add(("Network 1 IPv4 Address", f'"{d.record.mgmt_address}"'))
    add(("Network 1 IPv4 Gateway", '"192.168.10.1"'))
    add(("Network 1 IPv4 SubnetMask", '"255.255.255.0"'))
    add(("NetworkServices NTP CurrentAddress", f'"{NTP_SERVERS[0]}"'))
    add(("NetworkServices NTP Server 1 Address", settings["NetworkServices NTP Server 1 Address"]))
    add(("NetworkServices NTP Status", "Synced" if synced else "Discarded"))
    add(("SIP Proxy 1 Address", f'"{registrar}"'))
    add(("SIP Proxy 1 Status", "Active" if registered else "Timeout"))
    add(("SIP Registration 1 Reason", '""' if registered else '"408 Request Timeout"'))
    add(("SIP Registration 1 Status", "Registered" if registered else "Failed"))
    add(("SIP Registration 1 URI", settings["SIP URI"]))
    add(("SystemUnit Hardware Module SerialNumber", f'"{d.serial}"'))
    add(("SystemUnit ProductId", f'"Cisco {d.record.model}"'))
    add(("SystemUnit ProductPlatform", f'"{d.record.model}"'))
    add(("SystemUnit ProductType", '"Cisco Codec"'))
    add(("SystemUnit Software DisplayName", f'"{display_name(version, build)}"'))
    add(("SystemUnit Software ReleaseDate", f'"{date}"'))
    add(("SystemUnit Software Version", f'"{version}.{build}"'))
    add(("SystemUnit State NumberOfActiveCalls", "1" if in_call else "0"))
    add(("SystemUnit State NumberOfInProgressCalls", "0"))
    add(("SystemUnit State System", "InCall" if in_call else "Initialized"))
    add(("SystemUnit Uptime", str(int(now - d.boot))))
    add(("Time SystemTime", f'"{clock.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}"'))
    add(("Video Input Connector 1 Connected", "True" if camera else "False"))
    add(("Video Input Connector 1 SignalState", "OK" if camera else "NotFound"))
    add(("Video Input Connector 1 SourceId", "1"))
    add(("Video Input Connector 1 Type", "Camera"))
    add(("Video Input Connector 2 Connected", "False"))
    add(("Video Input Connector 2 SignalState", "NotFound"))
    add(("Video Input Connector 2 SourceId", "2"))
    add(("Video Input Connector 2 Type", "HDMI"))
    add(("Video Output Connector 1 Connected", "True" if display else "False"))
    if display:
        add(("Video Output Connector 1 ConnectedDevice Name", '"SAMSUNG"'))
    add(("Video Output Connector 1 Resolution Height", "1080" if display else "0"))
    add(("Video Output Connector 1 Resolution Width", "1920" if display else "0"))
    add(("Video Output Connector 1 Type", "HDMI"))
    return lines


def _words(path: str) -> list[str]:
    return path.replace("/", " ").split()


def _matches(query: list[str], path: list[str]) -> bool:
    return len(query) <= len(path) and all(q.lower() == p.lower() for q, p in zip(query, path, strict=False))


class CodecCli:
    """The xAPI in terminal output mode: no prompt, every response ends with OK or ERROR."""

    def __init__(self, state: DeviceState, clock: Callable[[], float] = time.monotonic) -> None:
        self.d = state
        self.clock = clock
        self.pushed = 0

    def banner(self) -> str:
        version, build, date = software(self.d)
        name = settings_of(self.d)["SystemUnit Name"].strip('"')
        release = (
            display_name(version, build) if version.startswith("ce11") else f"ce {version[2:]} {build} {date}"
        )
        return f"Welcome to {name}\nCisco Codec Release {release}\nSW Release Date: {date}\n*r Login successful\n\nOK\n"

    def prompt(self) -> str:
        return ""

    def handle(self, line: str) -> Reply:
        text = line.strip()
        if not text or text == "\x1a":
            return Reply()
        words = text.split()
        head = words[0].lower()
        if head in {"bye", "exit", "quit"}:
            return Reply("bye.", close=True)
        if head in {"echo", "xpreferences"}:
            return Reply("** end\n\nOK")
        if head == "xstatus":
            return self._status(words[1:])
        if head == "xconfiguration":
            return self._configuration(text[len(words[0]) :].strip(), text)
        if head == "xcommand":
            return self._command(words[1:], text)
        return Reply("Command not recognized.")

    def _status(self, query: list[str]) -> Reply:
        # Word by word, case-insensitive: the leaf paths are single-spaced, so a prefix test will do.
        prefix = " ".join(query).lower()
        under = prefix + " "
        lines = [
            (p, v)
            for p, v in status_lines(self.d, self.clock())
            if not prefix or (low := p.replace("/", " ").lower()) == prefix or low.startswith(under)
        ]
        may_be_empty = {"call", "diagnostics"}  # no call, no problems: an empty answer is right
        if (
            not lines
            and query
            and (len(query) > 1 or query[0].lower() not in {r.lower() for r in STATUS_ROOTS})
            and query[0].lower() not in may_be_empty
        ):
            xpath = "Status/" + "/".join(query)
            return Reply(
                f'*r Status (status=Error): \n*r Status Reason: "No match on address expression."\n'
                f'*r Status XPath: "{xpath}"\n** end\n\nERROR'
            )
        body = "".join(f"*s {p}: {v}\n" for p, v in lines)
        return Reply(f"{body}** end\n\nOK")

    def _configuration(self, rest: str, line: str) -> Reply:
        settings = settings_of(self.d)
        if ":" in rest:
            path, _, value = rest.partition(":")
            key = " ".join(_words(path))
            known = {k.lower(): k for k in settings}
            if key.lower() not in known:
                xpath = "Configuration/" + "/".join(_words(path))
                return Reply(
                    f'*r Configuration (status=Error): \n*r Configuration Reason: "No match on address expression."\n'
                    f'*r Configuration XPath: "{xpath}"\n** end\n\nERROR'
                )
            if reset_now(self.d, self.pushed):
                return Reply(reset=True)
            path = known[key.lower()]
            illegal = f'*c xConfiguration {path} (error=True): "Illegal value"\n** end\n\nERROR'
            if rejected_at(self.d, line) is not None:  # the 'config rejected' fault: refused, not set
                return Reply(illegal)
            self.pushed += 1
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            if '"' in value or len(value) > 255:
                return Reply(illegal)
            old = settings[path]
            settings[path] = f'"{value}"' if old.startswith('"') else value
            return Reply("** end\n\nOK")
        query = _words(rest)
        lines = [(k, v) for k, v in sorted(settings.items()) if _matches(query, _words(k))]
        body = "".join(f"*c xConfiguration {k}: {v}\n" for k, v in lines)
        return Reply(f"{body}** end\n\nOK")

    def _command(self, words: list[str], text: str) -> Reply:
        lowered = [w.lower() for w in words]
        if lowered[:1] == ["dial"]:
            return Reply(
                "OK\n*r DialResult (status=OK): \n*r DialResult CallId: 4\n*r DialResult ConferenceId: 3\n** end"
            )
        if lowered[:2] == ["call", "disconnect"]:
            return Reply("OK\n*r CallDisconnectResult (status=OK): \n** end")
        return Reply('*r Result (status=Error): \n*r Result Reason: "Unknown command"\n** end\n\nERROR')
