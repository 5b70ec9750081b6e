"""Driver parsers on recorded real-format device output (tests/fixtures)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.checks.health import release
from fleet.drivers.parsers import ParseError
from fleet.drivers.parsers.sysdescr import firmware
from fleet.drivers.parsers.xapi import codec_status, parse_leaves
from fleet.sim.faults import FaultKind
from fleet.sim.models.cisco_ce import CodecCli
from tests.test_sim_models import state, with_fault

FIXTURES = Path(__file__).parent / "fixtures"


def ce(name: str) -> str:
    return (FIXTURES / "cisco_ce" / f"{name}.txt").read_text(encoding="utf-8")


def test_xstatus_leaves_and_codec_facts_from_recorded_output() -> None:
    leaves = parse_leaves(ce("xstatus_systemunit"))
    assert leaves["SystemUnit Software Version"] == "ce11.14.2.3.5e27f0d8ea5"
    assert leaves["SystemUnit ProductId"] == "Cisco Room Kit"
    merged = (
        leaves
        | parse_leaves(ce("xstatus_sip_registration_failed"))
        | parse_leaves(ce("xstatus_call_connected"))
    )
    merged |= parse_leaves(ce("xstatus_cameras")) | parse_leaves(ce("xstatus_networkservices_ntp_discarded"))
    merged |= parse_leaves(ce("xstatus_video_output_connector_codecplus_ce98"))
    merged |= parse_leaves(ce("xstatus_audio_input_connectors_microphone_1_connectionstatus"))
    status = codec_status(merged)
    assert status.sip_registered is False
    assert status.sip_reason == "401 Unauthorized"
    assert status.call_remote == "meetingroom7@example.com"
    assert status.camera_connected is True
    assert status.microphone_connected is True
    assert status.display_connected is True
    assert status.ntp_synced is False
    assert status.active_calls == 0  # from SystemUnit State


def test_diagnostics_and_an_idle_call_list() -> None:
    status = codec_status(
        parse_leaves(ce("xstatus_diagnostics_issues")) | parse_leaves(ce("xstatus_call_idle"))
    )
    assert [(d.type, d.level) for d in status.diagnostics] == [
        ("SIPProfileRegistration", "Error"),
        ("NTPStatus", "Warning"),
        ("TouchPanelConnection", "Info"),
    ]
    assert status.call_remote is None
    assert status.sip_status is None  # not asked: unknown, not "unregistered"


def test_registrar_and_speed_dial_from_recorded_output() -> None:
    good = codec_status(
        parse_leaves(ce("xstatus_sip_registered"))
        | parse_leaves(ce("xconfiguration_userinterface_speeddial"))
    )
    assert (good.sip_registered, good.sip_proxy) == (True, "sip.viettel.hoinghi.gov.vn")
    assert good.speed_dial == "hop@bridge.hoinghi.gov.vn"
    drifted = codec_status(parse_leaves(ce("xstatus_sip_wrong_proxy")))
    assert (drifted.sip_registered, drifted.sip_proxy) == (False, "sip.old-registrar.local")
    assert drifted.speed_dial is None  # not asked: unknown


def test_configuration_leaves() -> None:
    leaves = parse_leaves(ce("xconfiguration_sip"))
    assert leaves["SIP Proxy 1 Address"] == "10.0.0.5"
    assert leaves["SIP Proxy 2 Address"] == ""


@pytest.mark.parametrize(
    ("fixture", "reason"),
    [
        ("xstatus_invalid_path", "No match on address expression."),
        ("command_not_recognized", "did not recognise"),
    ],
)
def test_codec_errors_are_parse_errors(fixture: str, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        parse_leaves(ce(fixture))


def test_a_cut_short_answer_is_refused() -> None:
    with pytest.raises(ParseError, match="cut short"):
        parse_leaves("*s SIP Registration 1 Status: Regis")


def test_the_simulated_codec_reads_the_same_as_the_recorded_one() -> None:
    cli = CodecCli(
        with_fault(with_fault(state("cisco_ce"), FaultKind.CAMERA_DISCONNECTED), FaultKind.IN_CALL)
    )
    leaves: dict[str, str] = {}
    for path in (
        "SystemUnit",
        "SIP",
        "Call",
        "Cameras",
        "Audio",
        "Video Output",
        "NetworkServices NTP",
        "Diagnostics",
    ):
        leaves |= parse_leaves(cli.handle(f"xStatus {path}").output)
    leaves |= parse_leaves(cli.handle("xConfiguration UserInterface SpeedDial").output)
    status = codec_status(leaves)
    assert status.camera_connected is False
    assert status.active_calls == 1
    assert status.sip_registered is True
    assert status.software_version is not None and status.software_version.startswith("ce11.14.2.3")
    assert [d.type for d in status.diagnostics] == ["CameraDetected"]
    assert status.sip_proxy is not None and status.sip_proxy.startswith("sip.")
    assert status.speed_dial == "hop@bridge.hoinghi.gov.vn"


@pytest.mark.parametrize(
    ("driver", "version"),
    [
        ("cisco_ios", "17.9.5"),
        ("huawei_vrp", "V300R021C10SPC100"),
        ("cisco_ce", "ce11.14.2.3"),
        ("axis_ptz", "11.11.96"),
    ],
)
def test_firmware_from_recorded_sysdescr(driver: str, version: str) -> None:
    assert firmware(driver, (FIXTURES / "sysdescr" / f"{driver}.txt").read_text(encoding="utf-8")) == version


@pytest.mark.parametrize(
    ("driver", "sys_descr", "version"),
    [
        # CE 9: a three-part release followed by its build hash, fields on lines of their own or run together
        ("cisco_ce", "Cisco Codec\nSoftW: ce9.10.0.50f5888d087\nMCU: Cisco TelePresence SX20\n", "ce9.10.0"),
        ("cisco_ce", "Cisco CodecSoftW: ce9.10.0.50f5888d087MCU: Cisco TelePresence SX20Date: 2020-01-31", "ce9.10.0"),
        ("cisco_ce", "Cisco Codec\nSoftW: ce9.15.3.17\nMCU: Cisco Webex Room Kit\n", "ce9.15.3.17"),
        ("cisco_ce", "Cisco CodecSoftW: ce11.14.2.3MCU: Cisco Room Kit", "ce11.14.2.3"),
        # IOS-XE 3.x writes no comma after the version; 16/17 do
        ("cisco_ios", "Cisco IOS Software, IOS-XE Software, Catalyst 4500 L3 Switch Software "
         "(cat4500e-UNIVERSALK9-M), Version 03.06.05E RELEASE SOFTWARE (fc2)", "03.06.05E"),
        ("cisco_ios", "Cisco IOS Software [Amsterdam], Version 17.3.4a, RELEASE SOFTWARE (fc3)", "17.3.4a"),
        # VRP product names with spaces
        ("huawei_vrp", "VRP (R) software, Version 8.230 (NetEngine 8000 V800R023C00SPC500)", "V800R023C00SPC500"),
        ("huawei_vrp", "VRP (R) software, Version 5.170 (ATN 910C-B V300R003C10SPC200)", "V300R003C10SPC200"),
    ],
)  # fmt: skip
def test_firmware_from_real_sysdescr_variants(driver: str, sys_descr: str, version: str) -> None:
    assert firmware(driver, sys_descr) == version


def test_a_codec_release_reads_the_same_from_the_xapi_and_the_sysdescr() -> None:
    assert release("ce9.10.0.50f5888d087") == release("ce9.10.0") == "ce9.10.0"
    assert release("ce11.14.2.3.5e27f0d8ea5") == "ce11.14.2.3"
    assert release("something else") == "something else"  # kept as it is: never a wrong value
    assert release("17.9.5") == "17.9.5" and release("11.11.96") == "11.11.96"  # not a codec's


def test_unreadable_sysdescr_names_the_driver() -> None:
    with pytest.raises(ParseError, match="cisco_ios"):
        firmware("cisco_ios", "Linux router 5.4")


@pytest.mark.parametrize(
    ("leaves", "connected"),
    [
        ({"Audio Input Connectors Microphone 1 ConnectionStatus": "Connected"}, True),
        ({"Audio Input Connectors Microphone 1 ConnectionStatus": "NotConnected"}, False),
        # RoomOS 11 with an Ethernet (table) microphone or a USB one, and no analogue input in use
        (
            {
                "Audio Input Connectors Microphone 1 ConnectionStatus": "NotConnected",
                "Audio Input Connectors Ethernet 1 ConnectionStatus": "Connected",
            },
            True,
        ),
        ({"Audio Input Connectors USB 1 ConnectionStatus": "Connected"}, True),
        ({"Audio Input Connectors USBMicrophone 1 ConnectionStatus": "NotConnected"}, False),
        ({"SystemUnit State NumberOfActiveCalls": "0"}, None),  # not reported: unknown, never "missing"
    ],
)
def test_a_microphone_counts_on_any_input(leaves: dict[str, str], connected: bool | None) -> None:
    assert codec_status(leaves).microphone_connected is connected
