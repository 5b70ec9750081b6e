"""Provisioning's pure parts: reading and planning configurations, templates, playbooks."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet.domain.provision import DeviceOutcome, Step
from fleet.drivers.configs import IOS, REDACTED, VRP, XAPI, ConfigSyntax, ConfigSyntaxError, Stanza
from fleet.provision.pipeline import DeviceJob, provision
from fleet.provision.playbook import PlaybookInvalid, load_playbook
from fleet.provision.templates import TemplateFailed, Templates, UnsafeValue
from fleet.transports.errors import TransportError, TransportErrorKind

FIXTURES = Path(__file__).parent / "fixtures" / "configs"
ROOT = Path(__file__).resolve().parent.parent


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


# --- reading device output -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("syntax", "name"),
    [
        (IOS, "ios_show_running_drifted.txt"),
        (VRP, "vrp_display_current_drifted.txt"),
        (XAPI, "ce_xconfiguration_drifted.txt"),
    ],
)
def test_only_a_whole_configuration_passes_as_a_backup(syntax: ConfigSyntax, name: str) -> None:
    whole = fixture(name)
    assert syntax.incomplete(whole) == ""
    assert syntax.incomplete(whole.replace("\n", "\r\n")) == ""  # as it comes off the wire
    assert syntax.incomplete("") == "the device sent no configuration"
    assert syntax.incomplete("\r\n  \r\n") == "the device sent no configuration"
    lines = whole.splitlines()
    for cut in (1, len(lines) // 3, len(lines) // 2, len(lines) - 1):  # cut short anywhere
        assert syntax.incomplete("\n".join(lines[:cut])) != "", cut
    if syntax is not XAPI:  # routers: the header and hostname/sysname come first
        assert syntax.incomplete("\n".join(lines[len(lines) // 2 :])) != ""  # its beginning lost


def test_an_error_answer_or_a_configuration_lacking_its_fixed_lines_is_not_whole() -> None:
    refused = "% Invalid input detected at '^' marker.\nend"
    assert IOS.incomplete(refused).startswith("the device answered '% Invalid input")
    no_hostname = "Building configuration...\n!\ninterface Gi0/0\n!\nend\n"
    assert "hostname" in IOS.incomplete(no_hostname)
    assert "sysname" in VRP.incomplete("#\n clock timezone ICT add 07:00:00\n#\nreturn\n")
    codec = fixture("ce_xconfiguration_drifted.txt")
    without_end = codec.replace("** end\n", "")
    assert XAPI.incomplete(without_end) != ""


def test_ios_running_config_is_read_into_sections_without_its_volatile_header() -> None:
    text = fixture("ios_show_running_drifted.txt")
    cleaned = IOS.clean(text)
    assert not cleaned.startswith("Building configuration")
    assert "Current configuration" not in cleaned
    config = IOS.parse(text)
    headers = [s.header for s in config]
    assert "ntp server 10.99.0.1" in headers and "ntp server 10.10.0.2" in headers
    sla = next(s for s in config if s.header == "ip sla 10")
    assert sla.children == ("udp-jitter 10.10.0.10 16384 codec g711alaw", "tag bridge", "frequency 60")
    assert "end" not in headers and "!" not in headers


def test_vrp_global_commands_are_printed_indented_and_read_as_top_level_lines() -> None:
    config = VRP.parse(fixture("vrp_display_current_drifted.txt"))
    headers = [s.header for s in config]
    assert "sysname vn00008-rtr" in headers  # printed as ' sysname …' between '#' lines
    assert "ntp-service unicast-server 10.99.0.1" in headers
    nqa = next(s for s in config if s.header == "nqa test-instance admin bridge")
    assert "destination-address ipv4 10.10.0.10" in nqa.children
    assert "return" not in headers and not any(h.startswith("[") for h in headers)


def test_codec_settings_are_read_as_xconfiguration_lines_and_the_community_is_redacted() -> None:
    text = fixture("ce_xconfiguration_drifted.txt")
    config = XAPI.parse(text)
    assert Stanza('xConfiguration SIP Proxy 1 Address: "sip.old-registrar.local"') in config
    community = [s.header for s in config if "CommunityName" in s.header]
    assert community == [f"xConfiguration NetworkServices SNMP CommunityName: {REDACTED}"]
    assert '"public"' not in XAPI.clean(text)


def test_secrets_in_router_configurations_never_reach_a_backup() -> None:
    text = (
        "!\nhostname r1\nusername noc privilege 15 secret 9 $9$abcdefgh\nenable secret 9 $9$zzzz\n"
        "snmp-server community S3cr3t RO\nline vty 0 4\n password 7 0822455D0A16\n!\nend\n"
    )
    cleaned = IOS.clean(text)
    for secret in ("$9$abcdefgh", "$9$zzzz", "S3cr3t", "0822455D0A16"):
        assert secret not in cleaned
    assert "snmp-server community <redacted>" in cleaned
    vrp = VRP.clean("#\n snmp-agent community read cipher %^%#abc%^%#\n#\nreturn\n")
    assert "%^%#abc" not in vrp


# --- planning ------------------------------------------------------------------------------------

INTENDED_IOS = """\
ntp server 10.10.0.1
ntp server 10.10.0.2
snmp-server contact NOC VNPT
ip sla 10
 frequency 30
"""


def test_a_plan_removes_owned_lines_sets_missing_ones_and_replaces_single_values_in_place() -> None:
    running = IOS.parse(fixture("ios_show_running_drifted.txt"))
    intended = IOS.parse_intended(INTENDED_IOS)
    plan = IOS.plan(running, intended, exclusive=["ntp server"])
    assert plan.commands == (
        "no ntp server 10.99.0.1",
        "ntp server 10.10.0.1",
        "ip sla 10",
        " frequency 30",
        "exit",
    )
    diff = plan.diff(IOS, running, "r1")
    assert "-ntp server 10.99.0.1" in diff and "+ntp server 10.10.0.1" in diff and "+ frequency 30" in diff
    assert IOS.missing(plan.candidate, intended, ["ntp server"]) == []
    assert IOS.missing(running, intended, ["ntp server"]) == [
        "missing: ntp server 10.10.0.1",
        "missing: ip sla 10 / frequency 30",
        "still present: ntp server 10.99.0.1",
    ]


def test_a_device_already_as_intended_has_nothing_to_do() -> None:
    running = IOS.parse(fixture("ios_show_running_drifted.txt"))
    intended = IOS.parse_intended("ntp server 10.10.0.2\nclock timezone ICT 7 0\n")
    assert IOS.plan(running, intended, ["ntp server"]).commands == ("no ntp server 10.99.0.1",)
    assert IOS.plan(running, intended).empty


def test_a_restore_plan_takes_the_device_back_to_its_backup_line_for_line() -> None:
    backup = IOS.parse(fixture("ios_show_running_drifted.txt"))
    intended = IOS.parse_intended(INTENDED_IOS)
    changed = IOS.plan(backup, intended, ["ntp server"]).candidate
    restore = IOS.plan_restore(changed, backup)
    assert set(restore.commands) >= {"no ntp server 10.10.0.1", "ntp server 10.99.0.1", " frequency 60"}
    assert IOS.differences(restore.candidate, backup) == []
    assert IOS.differences(changed, backup) != []


def test_codec_settings_are_only_ever_set() -> None:
    running = XAPI.parse(fixture("ce_xconfiguration_drifted.txt"))
    intended = XAPI.parse_intended('xConfiguration SIP Proxy 1 Address: "sip.vnpt.hoinghi.gov.vn"\n')
    plan = XAPI.plan(running, intended)
    assert plan.commands == ('xConfiguration SIP Proxy 1 Address: "sip.vnpt.hoinghi.gov.vn"',)
    restore = XAPI.plan_restore(plan.candidate, running)
    assert restore.commands == ('xConfiguration SIP Proxy 1 Address: "sip.old-registrar.local"',)


def test_intended_text_that_cannot_be_read_names_its_line() -> None:
    with pytest.raises(ConfigSyntaxError, match="line 1: indented line"):
        IOS.parse_intended(" frequency 60\n")
    with pytest.raises(ConfigSyntaxError, match="line 2: 'SIP Proxy' is not"):
        XAPI.parse_intended("xConfiguration Time Zone: UTC\nSIP Proxy\n")


# --- templates -----------------------------------------------------------------------------------


def templates_with(tmp_path: Path, name: str, text: str) -> Templates:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return Templates.open(tmp_path)


def test_a_value_with_a_line_break_never_reaches_a_template(tmp_path: Path) -> None:
    templates = templates_with(tmp_path, "cisco_ios/t.j2", "snmp-server location {{ site.name }}\n")
    with pytest.raises(UnsafeValue, match=r"site.name='Xã A\\nreload': contains a line break"):
        templates.render("cisco_ios/t.j2", {"site": {"name": "Xã A\nreload"}})
    with pytest.raises(UnsafeValue, match=r"control character U\+001B"):
        templates.render("cisco_ios/t.j2", {"site": {"name": "Xã A\x1b[2J"}})


def test_a_line_break_built_inside_the_template_is_refused_as_it_is_written(tmp_path: Path) -> None:
    templates = templates_with(
        tmp_path, "cisco_ios/t.j2", "hostname x\nsnmp-server location {{ a ~ '\\n' ~ b }}\n"
    )
    with pytest.raises(UnsafeValue, match=r"cisco_ios/t.j2:2 output"):
        templates.render("cisco_ios/t.j2", {"a": "x", "b": "reload"})


@pytest.mark.parametrize(
    "expression",
    [
        "device.__class__",
        "''.__class__.__mro__",
        "lipsum.__globals__",
        "cycler.__init__.__globals__.os",
        "device.items.__self__",
    ],
)
def test_a_template_touching_python_internals_is_refused(tmp_path: Path, expression: str) -> None:
    templates = templates_with(tmp_path, "cisco_ios/evil.j2", "hostname x\n{{ " + expression + " }}\n")
    with pytest.raises(TemplateFailed) as caught:
        templates.render("cisco_ios/evil.j2", {"device": {"name": "r1"}})
    assert caught.value.line == 2


def test_an_undefined_name_is_an_error_not_an_empty_string(tmp_path: Path) -> None:
    templates = templates_with(tmp_path, "cisco_ios/t.j2", "ntp server {{ ntp_server }}\n")
    with pytest.raises(TemplateFailed, match="'ntp_server' is undefined"):
        templates.render("cisco_ios/t.j2", {})


def test_the_shipped_playbook_loads_and_renders_every_template() -> None:
    templates = Templates.open(ROOT / "playbooks" / "templates")
    playbook = load_playbook(ROOT / "playbooks" / "provision" / "baseline.yaml", templates)
    assert [r.name for r in playbook.rules] == ["routers", "codecs"]
    assert playbook.rules[0].applies_to("huawei_vrp") and not playbook.rules[1].applies_to("huawei_vrp")


def test_playbook_problems_are_listed_with_file_and_line(tmp_path: Path) -> None:
    templates = Templates.open(ROOT / "playbooks" / "templates")
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: bad\n"
        "vars:\n"
        '  location: "Xã A\\nreload"\n'
        "rules:\n"
        "  - match: {role: switch, carrier: Mobifone}\n"
        "    template: cisco_ios/absent.j2\n"
        "  - match: {role: router}\n"
        "    template: axis_ptz/x.j2\n"
        "    colour: red\n",
        encoding="utf-8",
    )
    with pytest.raises(PlaybookInvalid) as caught:
        load_playbook(path, templates)
    shown = [str(p) for p in caught.value.problems]
    assert any(":3: vars.location=" in s and "line break" in s for s in shown), shown
    assert any(":5: rules[1].match.role='switch'" in s for s in shown), shown
    assert any(":5: rules[1].match.carrier='Mobifone'" in s for s in shown), shown
    assert any(":6: rules[1].template='cisco_ios/absent.j2'" in s and "no such template" in s for s in shown)
    assert any(":8: rules[2].template='axis_ptz/x.j2'" in s for s in shown), shown
    assert any(":9: rules[2].colour" in s and "unknown key" in s for s in shown), shown


def test_removing_a_negated_line_sends_it_plain_and_a_single_value_is_removed_by_its_keyword() -> None:
    backup = IOS.parse_intended("ip http server\nsnmp-server location Xã A\n")
    changed = IOS.parse_intended("no ip http server\n")
    restore = IOS.plan_restore(changed, backup)
    assert "no no ip http server" not in restore.commands
    assert restore.commands[0] == "ip http server"  # removing 'no ip http server' is 'ip http server'
    assert IOS.differences(restore.candidate, backup) == []
    assert IOS.negate("snmp-server location Xã A") == "no snmp-server location"
    assert VRP.negate("clock timezone ICT add 07:00:00") == "undo clock timezone"
    assert VRP.negate("ntp-service unicast-server 10.10.0.1") == "undo ntp-service unicast-server 10.10.0.1"


def test_a_template_line_holding_a_secret_is_found_redacted() -> None:
    intended = IOS.parse_intended(
        "hostname r1\nsnmp-server community N0tPublic RO\nline vty 0 4\n password 0 x\n"
    )
    assert IOS.secret_lines(intended) == ["snmp-server community <redacted>", "password 0 <redacted>"]
    assert XAPI.secret_lines(XAPI.parse_intended("xConfiguration Time Zone: UTC\n")) == []


def test_wordwrap_cannot_split_a_value_into_lines(tmp_path: Path) -> None:
    text = "{% filter wordwrap(10) %}snmp-server location {{ site.address }}{% endfilter %}\n"
    templates = templates_with(tmp_path, "cisco_ios/t.j2", text)
    with pytest.raises(TemplateFailed, match="wordwrap"):
        templates.render("cisco_ios/t.j2", {"site": {"address": "12 Nguyễn Huệ end reload"}})


# --- the pipeline's decisions, on a scripted device ----------------------------------------------


class ScriptedSession:
    """A device session that answers from a script: its configuration text, and a push that fails."""

    def __init__(self, device: ScriptedDevice) -> None:
        self.device = device
        self.lines_sent = 0

    def send(self, command: str) -> str:
        return self.device.reads.pop(0) if self.device.reads else self.device.text

    def configure(self, lines: list[str], **_options: object) -> str:
        self.lines_sent = self.device.lines_reach
        raise TransportError(TransportErrorKind.TIMEOUT, "the session did not finish within 60 s")

    def save(self) -> str:
        return ""


class ScriptedDevice:
    def __init__(self, text: str, lines_reach: int, reads: list[str] | None = None) -> None:
        self.text = text
        self.lines_reach = lines_reach
        self.reads = reads or []
        self.sessions = 0

    @contextlib.contextmanager
    def session(self) -> Iterator[ScriptedSession]:
        self.sessions += 1
        yield ScriptedSession(self)


def _job(running: str) -> DeviceJob:
    intended = IOS.parse_intended("ntp server 10.10.0.1\n")
    return DeviceJob("r1", "00004", "cisco_ios", IOS, intended, ("ntp server",))


def test_a_push_that_sent_no_line_leaves_the_device_failed_not_restored() -> None:
    whole = fixture("ios_show_running_drifted.txt")
    device = ScriptedDevice(whole, lines_reach=0)
    kept: list[str] = []
    result = provision(device, _job(whole), apply=True, keep=lambda _d, text, _s: kept.append(text))
    assert result.outcome is DeviceOutcome.FAILED and result.step is Step.PUSH
    assert "no line was sent: the device is as it was" in result.reason
    assert device.sessions == 1  # no restore session
    assert kept and kept[0] == IOS.clean(whole)


def test_a_push_cut_after_some_lines_is_restored_and_an_unchanged_device_is_not_restore_failed() -> None:
    whole = fixture("ios_show_running_drifted.txt")
    # The restore's read finds the device as it was backed up: restored, from that one read.
    device = ScriptedDevice(whole, lines_reach=2)
    result = provision(device, _job(whole), apply=True, keep=lambda *_: None)
    assert result.outcome is DeviceOutcome.RESTORED, result.reason
    assert device.sessions == 2


def test_an_incomplete_backup_is_never_kept_and_nothing_is_pushed() -> None:
    whole = fixture("vrp_display_current_drifted.txt")
    cut = "\n".join(whole.splitlines()[:12])
    device = ScriptedDevice(cut, lines_reach=5)
    kept: list[str] = []
    job = DeviceJob(
        "r2", "00008", "huawei_vrp", VRP, VRP.parse_intended("ntp-service unicast-server 1.1.1.1\n")
    )
    result = provision(device, job, apply=True, keep=lambda _d, text, _s: kept.append(text))
    assert result.outcome is DeviceOutcome.FAILED and result.step is Step.BACKUP
    assert result.reason.startswith("backup_incomplete: it ends at")
    assert kept == [] and device.sessions == 1
    empty = ScriptedDevice("", lines_reach=5)
    result = provision(empty, job, apply=True, keep=lambda _d, text, _s: kept.append(text))
    assert result.reason == "backup_incomplete: the device sent no configuration" and kept == []


# Secret forms written the way IOS and VRP print them (modelled on the forms listed in issue 19 and
# the platforms' command references); each value below must never reach a backup.
IOS_SECRETS = """\
Building configuration...

Current configuration : 2210 bytes
!
hostname r1
enable secret 9 $9$nhEmQVczB7dqsO$X.HsgL6x1il0RxkOSSvyQYwucySCt7qFm4v7pqCxkKM
username noc privilege 15 secret 8 $8$dsYGNam3K1SIJO$7nv/35M/qr6t.dVc7UX9zrJDWRGIFTKwQ8wY9TGWpaE
ip ftp password 7 0822455D0A16544541
ip ospf message-digest-key 1 md5 7 045802150C2E1D1C5A
ntp clock-period 17179869
interface Dialer1
 ppp chap password 7 02050D480809
 ppp pap sent-username vnpt-pap password 7 104D000A0618
 ip ospf authentication-key 7 1511021F0725
router bgp 65001
 neighbor 10.0.0.2 password 7 03085A09140B
key chain ospf
 key 1
  key-string 7 0822455D0A1654
radius-server host 10.10.0.5 auth-port 1812 acct-port 1813 key 7 060506324F41584B56
tacacs-server host 10.10.0.6 timeout 5 key 0 PlainTacacs
crypto isakmp key 6 WTHXcDPLeFOLSHAUPDGbAAB address 10.20.0.1
snmp-server community Cmty-RO RO
standby 1 authentication md5 key-string 7 121A0C041104
line vty 0 4
 password 7 0822455D0A16
end
"""

VRP_SECRETS = """\
!Software Version V800R023C00SPC500
#
sysname ne1
#
aaa
 local-user noc password irreversible-cipher $1c$abcDEF123$xyz$
 #
 authentication-scheme default
  authentication-mode local
#
hwtacacs-server template t1
 hwtacacs-server shared-key-cipher %^%#Kq8L2#
#
radius-server template r1
 radius-server shared-key cipher %@%@Zr9Wq%@%@
#
set save-configuration backup-to-server server 10.10.0.9 transport-type sftp user bk password cipher %^%#SaveP%^%#
#
user-interface con 0
 set authentication password cipher %@%@ConsoleP%@%@
#
ike peer p1
 pre-shared-key cipher %^%#IkePsk%^%#
#
snmp-agent community read cipher %^%#Commun%^%#
#
return
"""

GENERIC_SECRET = re.compile(
    r"\b(?:password|secret|key-string|key|cipher|irreversible-cipher|shared-key-cipher|community|pre-shared-key)"
    rf"(?: \d)? (?!{re.escape(REDACTED)})(?!chain\b|\d+$|\d+ |address\b|read\b|write\b|RO\b|RW\b|md5\b|cipher\b|simple\b|\S+-)(\S+)"
)


@pytest.mark.parametrize(("syntax", "text"), [(IOS, IOS_SECRETS), (VRP, VRP_SECRETS)])
def test_no_secret_survives_in_a_backup(syntax: ConfigSyntax, text: str) -> None:
    cleaned = syntax.clean(text)
    for line in cleaned.splitlines():
        found = GENERIC_SECRET.search(line)
        assert found is None, f"secret left in clear: {line!r}"
    for value in ("0822455D0A16544541", "045802150C2E1D1C5A", "02050D480809", "104D000A0618", "03085A09140B",
                  "060506324F41584B56", "PlainTacacs", "WTHXcDPLeFOLSHAUPDGbAAB", "0822455D0A1654", "Cmty-RO",
                  "121A0C041104", "1511021F0725", "Kq8L2", "Zr9Wq", "SaveP", "ConsoleP", "IkePsk", "Commun",
                  "abcDEF123", "nhEmQVczB7dqsO", "dsYGNam3K1SIJO"):  # fmt: skip
        assert value not in cleaned
    assert syntax.incomplete(text) == ""  # whole, as printed


def test_the_ntp_clock_period_is_volatile_and_makes_no_drift() -> None:
    before = IOS.clean(IOS_SECRETS)
    after = IOS.clean(IOS_SECRETS.replace("ntp clock-period 17179869", "ntp clock-period 17179912"))
    assert before == after and "clock-period" not in before
