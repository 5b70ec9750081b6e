"""How fleet reads and changes each platform's configuration: pure functions, tested on device output.

A configuration is a list of stanzas: a top-level line and its indented children (``interface …``
with its lines, or one global line with none). Three syntaxes cover fleet's platforms: IOS (``no``
removes), VRP (``undo`` removes; global lines printed indented between ``#``) and the codec's xAPI
(``xConfiguration Path: value`` settings, only ever set).

A line is identified by its *key*: the line itself, or for single-valued lines (``hostname``,
``description``, a codec setting's path) the keyword, so that a new value replaces the old one
the way the device does. Planning compares the intended stanzas with the running ones and yields
the commands that make the difference; verifying reads back and lists what is still missing.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from fleet.transports.errors import ConfigMode


@dataclass(frozen=True, slots=True)
class Stanza:
    header: str
    children: tuple[str, ...] = ()


Config = tuple[Stanza, ...]


class ConfigSyntaxError(ValueError):
    """Intended configuration text that cannot be read (an indented line with nothing above it)."""

    def __init__(self, line: int, message: str) -> None:
        self.line = line
        super().__init__(f"line {line}: {message}")


def digest(cleaned: str) -> str:
    """The hash a configuration version is known by."""
    return hashlib.sha256(cleaned.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ConfigSyntax:
    name: str
    show_running: str  # the command that prints the running configuration
    negation: str | None  # 'no' / 'undo'; None: lines are only ever set (codec settings)
    single_valued: tuple[str, ...] = ()  # keywords that hold one value per context
    keyed_by_path: bool = False  # codec: 'xConfiguration A B: v' is identified by 'A B'
    section_exit: str | None = None  # leaves a section's mode after its lines
    error_pattern: str = ""  # an answer matching it stops the push (netmiko's error_pattern)
    config_mode: ConfigMode | None = None  # how to enter configuration mode to push; None: at the prompt
    terminator: str = r"#"  # besides the prompt, what ends a configuration line's answer
    saves: bool = True  # the running configuration must be saved to survive a restart
    volatile: str = r"$^"  # lines of the running configuration that change by themselves
    comment: str = "!"
    # Lines holding a secret: group 1 is kept, the rest of the line is replaced by REDACTED, so
    # backups, diffs and the audit trail never hold a password or community.
    secrets: tuple[str, ...] = ()
    # The platform's own marks of a whole configuration (an answer cut short by a slow or broken
    # link lacks them): the first and last non-blank lines, and lines every configuration has.
    first_line: str = ""
    last_line: str = ""
    always: tuple[str, ...] = ()

    def incomplete(self, text: str) -> str:
        """Why ``text`` (the device's answer to ``show_running``) is not a whole configuration; '' if it is.

        A backup is kept, and a change planned from it, only when it is whole: an empty or cut-short
        answer stored as good would make every later diff and restore wrong.
        """
        lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
        lines = [line for line in lines if line.strip()]
        if not lines:
            return "the device sent no configuration"
        error = re.search(self.error_pattern, "\n".join(lines)) if self.error_pattern else None
        if error is not None:
            return f"the device answered '{error.group(0).strip()}'"
        if self.first_line and not re.match(self.first_line, lines[0]):
            first = lines[0][:60]
            return f"it does not begin as a {self.name.upper()} configuration does (first line '{first}')"
        if self.last_line and not re.match(self.last_line, lines[-1]):
            return (
                f"it ends at '{lines[-1][:60]}', not at the end mark of a {self.name.upper()} configuration "
                f"(cut short after {len(lines)} line(s)?)"
            )
        for pattern in self.always:
            if not any(re.match(pattern, line) for line in lines):
                return f"it lacks a line every {self.name.upper()} configuration has ({pattern})"
        return ""

    # --- reading -------------------------------------------------------------------------------

    def clean(self, text: str) -> str:
        """The running configuration as stored: device output less its volatile lines, '\\n' line ends."""
        volatile = re.compile(self.volatile)
        secrets = [re.compile(p) for p in self.secrets]
        lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
        kept = [_redact(line, secrets) for line in lines if not volatile.match(line)]
        while kept and not kept[0]:
            kept.pop(0)
        while kept and not kept[-1]:
            kept.pop()
        return "\n".join(kept) + "\n" if kept else ""

    def parse(self, text: str) -> Config:
        """The stanzas of a running configuration (as the device prints it, cleaned or not)."""
        if self.keyed_by_path:
            return tuple(
                Stanza(line[3:].strip())
                for line in self.clean(text).splitlines()
                if line.startswith("*c xConfiguration ")
            )
        if self.name == "vrp":
            return _parse_vrp(self.clean(text))
        return _parse_indented(self.clean(text), self.comment, strict=False)

    def parse_intended(self, text: str) -> Config:
        """The stanzas a template rendered. ConfigSyntaxError for text that cannot be read."""
        stanzas = _parse_indented(text, self.comment, strict=True)
        if self.keyed_by_path:
            for number, stanza in enumerate(stanzas, 1):
                if not re.fullmatch(r"xConfiguration \S[^:]*: ?\S.*", stanza.header) or stanza.children:
                    raise ConfigSyntaxError(
                        number, f"'{stanza.header}' is not an 'xConfiguration Path: value' setting"
                    )
        return stanzas

    def key(self, line: str) -> str:
        if self.keyed_by_path:
            return line.partition(":")[0].strip().lower()
        for keyword in self.single_valued:
            if line == keyword or line.startswith(keyword + " "):
                return "=" + keyword
        return line

    def negate(self, line: str) -> str:
        """The command that removes ``line``: 'no X' for X, X for 'no X'; a single value by its keyword."""
        neg = self.negation or ""
        if line.startswith(neg + " "):
            return line[len(neg) + 1 :]
        key = self.key(line)
        return f"{neg} {key[1:] if key.startswith('=') else line}"

    def secret_lines(self, config: Config) -> list[str]:
        """The lines of ``config`` that would hold a secret (shown redacted)."""
        patterns = [re.compile(p) for p in self.secrets]
        lines = [s.header for s in config] + [" " + c for s in config for c in s.children]
        return [_redact(line, patterns).strip() for line in lines if _redact(line, patterns) != line]

    def render(self, config: Config) -> list[str]:
        out: list[str] = []
        for stanza in config:
            out.append(stanza.header)
            out.extend(" " + c for c in stanza.children)
        return out

    def digest(self, cleaned: str) -> str:
        return digest(cleaned)

    # --- changing ------------------------------------------------------------------------------

    def plan(self, running: Config, intended: Config, exclusive: Sequence[str] = ()) -> Plan:
        """What to send so that ``running`` holds every intended line.

        ``exclusive``: prefixes of top-level lines the intended configuration owns outright; running
        lines with such a prefix that it does not name are removed (the NTP servers, say).
        """
        return _plan(self, running, intended, tuple(exclusive), replace=False)

    def plan_restore(self, current: Config, backup: Config) -> Plan:
        """What to send so that ``current`` becomes ``backup`` again, line for line."""
        return _plan(self, current, backup, (), replace=True)

    def missing(self, running: Config, intended: Config, exclusive: Sequence[str] = ()) -> list[str]:
        """Intended lines the running configuration lacks, and owned lines it should not have."""
        problems: list[str] = []
        sections = {s.header: s for s in running}
        for stanza in intended:
            found = sections.get(stanza.header)
            if found is None:
                problems.append(f"missing: {stanza.header}")
                continue
            have = set(found.children)
            problems += [f"missing: {stanza.header} / {c}" for c in stanza.children if c not in have]
        wanted = {s.header for s in intended}
        problems += [f"still present: {s.header}" for s in running if _owned(s.header, exclusive, wanted)]
        return problems

    def differences(self, running: Config, backup: Config) -> list[str]:
        """How ``running`` differs from ``backup`` (order aside): empty when the restore is complete."""

        def lines(config: Config) -> set[str]:
            return {s.header for s in config} | {f"{s.header} / {c}" for s in config for c in s.children}

        have, want = lines(running), lines(backup)
        return [f"missing: {x}" for x in sorted(want - have)] + [f"extra: {x}" for x in sorted(have - want)]


@dataclass(frozen=True, slots=True)
class Plan:
    commands: tuple[str, ...]
    candidate: Config  # the running configuration as it will be
    changed: tuple[str, ...] = field(default=())  # the intended lines that are set (for counting)
    removed: tuple[str, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return not self.commands

    def diff(self, syntax: ConfigSyntax, running: Config, device: str) -> str:
        """A unified diff of the running configuration against what it will be."""
        return "".join(
            difflib.unified_diff(
                [line + "\n" for line in syntax.render(running)],
                [line + "\n" for line in syntax.render(self.candidate)],
                f"{device} (running)",
                f"{device} (intended)",
                n=1,
            )
        )


REDACTED = "<redacted>"


def _redact(line: str, secrets: list[re.Pattern[str]]) -> str:
    for pattern in secrets:
        found = pattern.match(line)
        if found:
            return found.group(1) + REDACTED
    return line


def _owned(header: str, exclusive: Iterable[str], wanted: set[str]) -> bool:
    return header not in wanted and any(header == p or header.startswith(p + " ") for p in exclusive)


def _plan(
    syntax: ConfigSyntax, running: Config, intended: Config, exclusive: tuple[str, ...], *, replace: bool
) -> Plan:
    neg = syntax.negation
    candidate = list(running)
    position = {syntax.key(s.header): i for i, s in enumerate(candidate)}
    removals: list[str] = []
    settings: list[str] = []
    changed: list[str] = []
    removed: list[str] = []
    wanted_keys = {syntax.key(s.header) for s in intended}
    wanted = {s.header for s in intended}
    anchors: list[int] = []  # for each stanza added: after which running stanza it reads best
    # Lines to remove: owned by the intended configuration (or anything not in the backup, on restore).
    if neg is not None:
        for i, stanza in enumerate(running):
            owned = (
                syntax.key(stanza.header) not in wanted_keys
                if replace
                else _owned(stanza.header, exclusive, wanted)
            )
            if owned:
                removals.append(syntax.negate(stanza.header))
                removed.append(stanza.header)
                candidate[i] = Stanza("")
    for stanza in intended:
        key = syntax.key(stanza.header)
        at = position.get(key)
        current = candidate[at] if at is not None else None
        if current is None or current.header != stanza.header:
            settings.append(stanza.header)
            settings.extend(" " + c for c in stanza.children)
            if stanza.children and syntax.section_exit:
                settings.append(syntax.section_exit)
            changed.append(stanza.header)
            merged = Stanza(stanza.header, stanza.children)
            if at is None:
                position[key] = len(candidate)
                candidate.append(merged)
                anchors.append(_anchor(running, stanza.header))
            else:
                candidate[at] = merged
            continue
        lines, children = _plan_children(syntax, current.children, stanza.children, replace=replace)
        if lines:
            settings.append(stanza.header)
            settings.extend(" " + line for line in lines)
            if syntax.section_exit:
                settings.append(syntax.section_exit)
            changed.extend(f"{stanza.header} / {line}" for line in lines)
            candidate[at] = Stanza(stanza.header, children)  # type: ignore[index]
    added = candidate[len(running) :]
    ordered: list[Stanza] = []
    for i, existing in enumerate(candidate[: len(running)]):
        ordered.append(existing)
        ordered.extend(new for new, anchor in zip(added, anchors, strict=True) if anchor == i)
    ordered.extend(new for new, anchor in zip(added, anchors, strict=True) if anchor < 0)
    return Plan(
        tuple(removals + settings),
        tuple(s for s in ordered if s.header),
        tuple(changed),
        tuple(removed),
    )


def _anchor(running: Config, header: str) -> int:
    """The last running stanza of the same kind (first word), so the diff shows a new line among its kin."""
    word = header.split(" ", 1)[0]
    found = [i for i, s in enumerate(running) if s.header.split(" ", 1)[0] == word]
    return found[-1] if found else -1


def _plan_children(
    syntax: ConfigSyntax, have: tuple[str, ...], want: tuple[str, ...], *, replace: bool
) -> tuple[list[str], tuple[str, ...]]:
    """The lines to send inside a section, and its children afterwards."""
    children = list(have)
    lines: list[str] = []
    if replace and syntax.negation is not None:
        want_keys = {syntax.key(c) for c in want}
        for child in have:
            if syntax.key(child) not in want_keys:
                lines.append(syntax.negate(child))
                children.remove(child)
    index = {syntax.key(c): i for i, c in enumerate(children)}
    for child in want:
        at = index.get(syntax.key(child))
        if at is not None and children[at] == child:
            continue
        lines.append(child)
        if at is None:
            index[syntax.key(child)] = len(children)
            children.append(child)
        else:
            children[at] = child
    return lines, tuple(children)


def _parse_indented(text: str, comment: str, *, strict: bool) -> Config:
    stanzas: list[tuple[str, list[str]]] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped or stripped in {comment, "end"}:
            continue
        if line[0].isspace():
            if not stanzas:
                if strict:
                    raise ConfigSyntaxError(number, f"indented line '{stripped}' belongs to no section")
                continue
            stanzas[-1][1].append(stripped)
        else:
            stanzas.append((stripped, []))
    return tuple(Stanza(h, tuple(c)) for h, c in stanzas)


def _parse_vrp(text: str) -> Config:
    """VRP prints each global command indented by one space between '#' lines, views at the margin."""
    stanzas: list[tuple[str, list[str]]] = []
    view = False  # the current block ('#' to '#') opened with a view at the margin
    for raw in text.splitlines():
        line = raw.rstrip()
        stripped = line.strip()
        if stripped == "#":
            view = False
            continue
        if not stripped or stripped == "return" or line.startswith(("!", "[")):
            continue
        if not line[0].isspace():
            stanzas.append((stripped, []))
            view = True
        elif view and stanzas:
            stanzas[-1][1].append(stripped)
        else:
            stanzas.append((stripped, []))
    return tuple(Stanza(h, tuple(c)) for h, c in stanzas)


IOS_SINGLE_VALUED = (
    "hostname", "description", "ip address", "ip domain name", "snmp-server location", "snmp-server contact",
    "clock timezone", "bandwidth", "mtu", "frequency", "tag", "tos", "threshold", "timeout", "udp-jitter",
    "icmp-jitter", "icmp-echo", "exec-timeout", "transport input", "load-interval", "service-policy output",
)  # fmt: skip
VRP_SINGLE_VALUED = (
    "sysname", "description", "ip address", "clock timezone", "snmp-agent sys-info location",
    "snmp-agent sys-info contact", "test-type", "destination-address", "destination-port", "frequency",
    "authentication-mode", "protocol inbound", "traffic-policy",
)  # fmt: skip

IOS = ConfigSyntax(
    name="ios",
    show_running="show running-config",
    negation="no",
    single_valued=(
        "hostname",
        "description",
        "ip address",
        "ip domain name",
        "snmp-server location",
        "snmp-server contact",
        "clock timezone",
        "bandwidth",
        "mtu",
        "frequency",
        "tag",
        "tos",
        "threshold",
        "timeout",
        "udp-jitter",
        "icmp-jitter",
        "icmp-echo",
        "exec-timeout",
        "transport input",
        "load-interval",
        "service-policy output",
    ),
    section_exit="exit",
    config_mode=ConfigMode("configure terminal", r"\(config[^)\r\n]*\)#", "end"),
    error_pattern=r"(?m)^%\s*(?:Invalid|Incomplete|Ambiguous|Unknown|Bad|Error|Cannot|Unable).*$",
    volatile=(
        r"^(?:Building configuration\.\.\.|Current configuration : \d+ bytes|! Last configuration change "
        r"|! NVRAM config last updated|! No configuration change since|ntp clock-period \d+$)"
    ),
    secrets=(
        r"^(\s*snmp-server community )\S.*$",
        r"^(\s*snmp-server user \S+ \S+ (?:v3 )?).*$",
        r"^(\s*username \S+ (?:privilege \d+ )?(?:secret|password)(?: \d+)? )\S.*$",
        r"^(\s*enable (?:secret|password)(?: \d+)? )\S.*$",
        r"^(\s*(?:password|key-string|key|secret)(?: \d+)? )\S.*$",
        r"^(\s*snmp-server host \S+(?: (?:informs|traps))?(?: version \S+(?: \S+)?)? )\S.*$",
        r"^(\s*(?:radius-server|tacacs-server) (?:host \S+ )?key(?: \d+)? )\S.*$",
        r"^(\s*ntp authentication-key \d+ \S+ )\S.*$",
        r"^(\s*crypto isakmp key(?: \d+)? )\S.*$",
        r"^(\s*ip (?:ftp|http client|ssh pubkey-chain) password(?: \d+)? )\S.*$",
        r"^(\s*ppp (?:chap|pap) password(?: \d+)? )\S.*$",
        r"^(\s*ppp pap sent-username \S+ password(?: \d+)? )\S.*$",
        r"^(\s*(?:radius-server|tacacs-server) host \S+ .*?\bkey(?: \d+)? )\S.*$",
        r"^(\s*neighbor \S+ password(?: \d+)? )\S.*$",
        r"^(\s*ip ospf message-digest-key \d+ md5(?: \d+)? )\S.*$",
        r"^(\s*ip ospf authentication-key(?: \d+)? )\S.*$",
        r"^(\s*(?:pre-shared-key|authentication-key)(?: address \S+)?(?: \d+)? )\S.*$",
        r"^(\s*(?:wpa-psk ascii|standby \d+ authentication(?: md5 key-string)?)(?: \d+)? )\S.*$",
    ),
    first_line=r"(?:Building configuration\.\.\.|Current configuration : \d+ bytes)$",
    last_line=r"end$",
    always=(r"hostname \S",),
)

VRP = ConfigSyntax(
    name="vrp",
    show_running="display current-configuration",
    negation="undo",
    single_valued=(
        "sysname",
        "description",
        "ip address",
        "clock timezone",
        "snmp-agent sys-info location",
        "snmp-agent sys-info contact",
        "test-type",
        "destination-address",
        "destination-port",
        "frequency",
        "authentication-mode",
        "protocol inbound",
        "traffic-policy",
    ),
    section_exit="quit",
    config_mode=ConfigMode("system-view", r"\[[^\]\r\n]+\]", "return"),
    error_pattern=r"(?m)^Error:.*$",
    terminator=r"\]",
    volatile=r"^!(?:Last configuration was|Software Version|The current login time)",
    comment="#",
    secrets=(
        r"^(\s*snmp-agent community (?:read|write) (?:cipher )?)\S.*$",
        r"^(\s*snmp-agent usm-user v3 \S+ .*?(?:cipher|simple) )\S.*$",
        r"^(\s*local-user \S+ password (?:cipher|irreversible-cipher|simple) )\S.*$",
        r"^(\s*snmp-agent target-host .*?(?:securityname|community) (?:cipher )?)\S.*$",
        r"^(\s*(?:radius-server|hwtacacs-server) shared-key (?:cipher |simple )?)\S.*$",
        r"^(\s*(?:radius-server |hwtacacs-server )?shared-key-cipher )\S.*$",  # VRP 8
        r"^(\s*set authentication password (?:cipher |simple )?)\S.*$",
        r"^(\s*set save-configuration .*?\bpassword (?:cipher |simple )?)\S.*$",
        # Any other '... cipher <value>' / 'irreversible-cipher <value>' / 'simple <password>' form.
        r"^(\s*\S.*?\b(?:irreversible-cipher|cipher) )\S.*$",
        r"^(\s*\S.*?\b(?:password|pre-shared-key|authentication-key|key) simple )\S.*$",
    ),
    last_line=r"return$",
    always=(r"\s*sysname \S",),
)

XAPI = ConfigSyntax(
    name="xapi",
    show_running="xConfiguration",
    negation=None,
    keyed_by_path=True,
    error_pattern=r"(?m)^.*\(error=True\).*$|^Command not recognized.*$|^ERROR$",
    terminator=r"ERROR",
    saves=False,  # a CE codec keeps its settings across restarts
    volatile=r"^(?:\*\* end|OK|ERROR)$",
    secrets=(r"^(\*c xConfiguration NetworkServices SNMP CommunityName: ).*$",),
    first_line=r"\*c xConfiguration \S",
    last_line=r"OK$",
    always=(r"\*\* end$", r"\*c xConfiguration SystemUnit Name: ", r"\*c xConfiguration SIP "),
)
