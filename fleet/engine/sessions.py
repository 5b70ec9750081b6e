"""Session definitions, from a YAML file or command-line options, validated into a stored session.

A definition names the title, the start (local time in the session's time zone, or with an
offset), the bridge's dial string, the check set, and the participants: all sites, provinces, a
group, or a list file of site codes. Every problem is reported with its file, line, field and value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session, col, select
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from fleet.checks.checkset import CheckSetInvalid, find_check_set, load_check_set
from fleet.domain.readiness import SessionStatus
from fleet.errors import FleetError, NotFoundError
from fleet.inventory.problems import Problem, YamlUnreadable, compose_yaml
from fleet.store.inventory import group_site_codes, resolve_province
from fleet.store.models import MeetingSession, Site
from fleet.store.readiness import SessionStateError, get_session
from fleet.store.types import utcnow

DIAL = re.compile(r"(?:sips?:)?[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9.\-]{1,190}|[0-9*#]{1,32}")
HOST = re.compile(r"[A-Za-z0-9.\-:]{1,255}")
FIELDS = ("title", "start", "timezone", "dial_string", "bridge", "check_set", "participants")
OFFSET = re.compile(r"\s*(?:Z|[+-]\d{2}(?::?\d{2})?)\Z", re.IGNORECASE)  # at the end of a start
PAST_GRACE = timedelta(hours=1)  # a session may be recorded just after it started, not long after


class SessionInvalid(FleetError):
    exit_code = 2

    def __init__(self, problems: list[Problem], outcome: str = "no session was created") -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems) + "\n" + outcome)


@dataclass(frozen=True, slots=True)
class Raw:
    """One field of a definition as given, and where (line None: a command-line option)."""

    value: Any
    line: int | None = None


def read_definition(path: Path) -> dict[str, Raw]:
    """The fields of a session file, each with its line; problems with the file itself raise."""

    try:
        root, _raw = compose_yaml(path)
    except YamlUnreadable as exc:
        raise SessionInvalid([exc.problem]) from None
    if not isinstance(root, MappingNode):
        raise SessionInvalid([Problem(path, 1, None, None, f"a session is a mapping of {', '.join(FIELDS)}")])
    out: dict[str, Raw] = {}
    problems = []
    for key, node in root.value:
        line = key.start_mark.line + 1
        if key.value not in FIELDS:
            problems.append(
                Problem(path, line, str(key.value), None, f"unknown field (known: {', '.join(FIELDS)})")
            )
            continue
        out[key.value] = Raw(_plain(node), node.start_mark.line + 1)
    if problems:
        raise SessionInvalid(problems)
    return out


def _plain(node: Any) -> Any:
    """Scalars as text (a YAML date stays as written), lists and mappings as Python ones."""
    if isinstance(node, ScalarNode):
        return node.value
    if isinstance(node, SequenceNode):
        return [_plain(item) for item in node.value]
    if isinstance(node, MappingNode):
        return {str(k.value): _plain(v) for k, v in node.value}
    return None


class _Check:
    def __init__(self, source: Path) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def add(self, field: str, raw: Raw | None, reason: str, value: Any = None) -> None:
        shown = value if value is not None else (raw.value if raw and isinstance(raw.value, str) else None)
        self.problems.append(Problem(self.source, raw.line if raw else None, field, shown, reason))

    def text(self, fields: dict[str, Raw], name: str, limit: int, *, required: bool = True) -> str:
        raw = fields.get(name)
        if raw is None or raw.value in (None, ""):
            if required:
                self.add(name, raw, "is required")
            return ""
        value = raw.value
        if not isinstance(value, str) or len(value) > limit or any(ord(ch) < 32 for ch in value):
            self.add(name, raw, f"must be one line of at most {limit} characters", str(value))
            return ""
        return value.strip()


def build_session(
    db: Session,
    fields: dict[str, Raw],
    source: Path,
    *,
    base: Path | None = None,
    now: datetime | None = None,
) -> MeetingSession:
    """Validate a definition against the inventory and the check sets; SessionInvalid lists every problem.

    ``base``: the folder a list file is relative to (the session file's own).
    """
    check = _Check(source)
    title = check.text(fields, "title", 300)
    tz_name = check.text(fields, "timezone", 64, required=False) or "Asia/Ho_Chi_Minh"
    zone: ZoneInfo | None = None
    try:
        zone = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        check.add("timezone", fields.get("timezone"), "not a time zone (e.g. Asia/Ho_Chi_Minh)", tz_name)
    starts_at = _start(check, fields.get("start"), zone, now or utcnow())
    dial = check.text(fields, "dial_string", 255)
    if dial and not DIAL.fullmatch(dial):
        check.add("dial_string", fields.get("dial_string"), "not a SIP URI (user@host) or a number")
    bridge = check.text(fields, "bridge", 255, required=False)
    if bridge and not HOST.fullmatch(bridge):
        check.add("bridge", fields.get("bridge"), "not an address or host name")
    check_set = check.text(fields, "check_set", 255, required=False) or "default"
    try:
        load_check_set(find_check_set(check_set))
    except CheckSetInvalid as exc:
        first = exc.problems[0]
        check.add("check_set", fields.get("check_set"), f"cannot be used: {first}", check_set)
    participants = _participants(check, db, fields.get("participants"), base or source.parent)
    if check.problems:
        raise SessionInvalid(check.problems)
    assert starts_at is not None  # noqa: S101 - no problems means a start was read
    return MeetingSession(
        title=title,
        starts_at=starts_at,
        timezone=tz_name,
        dial_string=dial,
        bridge=bridge,
        check_set=check_set,
        participants=participants,
        status=SessionStatus.SCHEDULED,
    )


def date_alone(value: object) -> date | None:
    """The date, when a start gives a date and no time ('2026-12-05', or a YAML date); else None."""
    if isinstance(value, datetime):
        return None
    if isinstance(value, date):
        return value
    text = str(value).strip()
    for candidate in (text, OFFSET.sub("", text)):  # '2026-12-05+07:00' is a date alone too
        try:
            return date.fromisoformat(candidate)
        except ValueError:
            continue
    return None


def date_alone_reason(day: date) -> str:
    return f"a date alone is not a start time; give the time too, e.g. '{day.isoformat()} 08:00'"


def _start(check: _Check, raw: Raw | None, zone: ZoneInfo | None, now: datetime) -> datetime | None:
    if raw is None or raw.value in (None, ""):
        check.add("start", raw, "is required (YYYY-MM-DD HH:MM, local time)")
        return None
    day = date_alone(raw.value)
    if day is not None:  # read as midnight, it would put the readiness runs and the freeze in the night
        text = raw.value.isoformat() if isinstance(raw.value, date) else str(raw.value).strip()
        check.add("start", raw, date_alone_reason(day), text)
        return None
    if isinstance(raw.value, datetime):
        moment, text = raw.value, raw.value.isoformat(" ")
    else:
        text = str(raw.value).strip()
        try:
            moment = datetime.fromisoformat(text.replace(" ", "T", 1) if "T" not in text else text)
        except ValueError:
            check.add("start", raw, "not a date and time (YYYY-MM-DD HH:MM, local time)", text)
            return None
    if moment.tzinfo is None:
        if zone is None:
            return None
        moment = moment.replace(tzinfo=zone)
    if moment < now - PAST_GRACE:
        check.add("start", raw, "is in the past", text)
        return None
    return moment


def _participants(check: _Check, db: Session, raw: Raw | None, base: Path) -> dict[str, Any]:
    how = "all, or one of provinces: [...], group: NAME, sites_file: PATH, sites: [...]"
    if raw is None or raw.value in (None, ""):
        check.add("participants", raw, f"is required: {how}")
        return {}
    value = raw.value
    if value == "all":
        return {"all": True}
    if not isinstance(value, dict) or len(value) != 1:
        check.add("participants", raw, f"must be {how}", str(value))
        return {}
    kind, given = next(iter(value.items()))
    if kind == "provinces":
        codes = []
        for item in given if isinstance(given, list) else [given]:
            try:
                codes.append(resolve_province(db, str(item)).code)
            except NotFoundError as exc:
                check.add("participants.provinces", raw, str(exc), str(item))
        return {"provinces": sorted(set(codes))}
    if kind == "group":
        try:
            sites = group_site_codes(db, str(given))
        except NotFoundError as exc:
            check.add("participants.group", raw, str(exc), str(given))
            return {}
        if not sites:
            check.add("participants.group", raw, "the group has no sites", str(given))
        return {"group": str(given)}
    if kind == "sites_file":
        path = Path(str(given))
        return _sites_file(check, db, path if path.is_absolute() else base / path)
    if kind == "sites":
        known = set(db.exec(select(Site.code)).all())
        listed = [str(s) for s in given] if isinstance(given, list) else []
        for code in listed:
            if code not in known:
                check.add("participants.sites", raw, "no such site", code)
        if not listed:
            check.add("participants.sites", raw, "must be a non-empty list of site codes")
        return {"sites": sorted(set(listed))}
    check.add("participants", raw, f"unknown kind '{kind}': {how}")
    return {}


def _sites_file(check: _Check, db: Session, path: Path) -> dict[str, Any]:
    """One site code per line; '#' starts a comment. Each unknown code is named with its line."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        check.problems.append(Problem(path, None, None, None, f"cannot read the list of sites: {exc}"))
        return {}
    known = set(db.exec(select(Site.code).where(col(Site.code).is_not(None))).all())
    codes: list[str] = []
    for number, line in enumerate(lines, start=1):
        code = line.split("#", 1)[0].strip().split(",", 1)[0].strip()
        if not code:
            continue
        if code not in known:
            check.problems.append(Problem(path, number, "site", code, "no such site in the inventory"))
        codes.append(code)
    if not codes:
        check.problems.append(Problem(path, None, None, None, "lists no site"))
    return {"sites": sorted(set(codes)), "file": path.name}


def options_definition(**options: Any) -> dict[str, Raw]:
    """A definition from command-line options (no lines to name: the option is named instead)."""
    return {name: Raw(value) for name, value in options.items() if value not in (None, "", [])}


def move_session(
    db: Session,
    session_id: int,
    start: str,
    *,
    source: Path = Path("command line"),
    now: datetime | None = None,
) -> MeetingSession:
    """Give a scheduled session a new start (in its own time zone unless an offset is given)."""
    meeting = get_session(db, session_id)
    if meeting.status is SessionStatus.CANCELLED:
        raise SessionStateError(f"session {session_id} is cancelled: {meeting.note or 'no reason given'}")
    check = _Check(source)
    starts_at = _start(check, Raw(start), ZoneInfo(meeting.timezone), now or utcnow())
    if check.problems or starts_at is None:
        raise SessionInvalid(check.problems, f"session {session_id} was not moved")
    meeting.starts_at = starts_at
    db.add(meeting)
    db.commit()
    db.refresh(meeting)
    return meeting
