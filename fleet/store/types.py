"""Column types that keep the database portable between SQLite and PostgreSQL; times as stored and as shown.

Times are stored in UTC. A time shown to a person (a message, a table, a report, a problem) is in the
NOC's zone (the ``timezone`` setting) with its offset, so it cannot be misread: ``show_time``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from fleet.settings import get_settings


class StrEnumType(TypeDecorator[StrEnum]):
    """A StrEnum stored as its value in a VARCHAR (no native enum types to migrate)."""

    impl = String
    cache_ok = True

    def __init__(self, enum_cls: type[StrEnum], length: int = 32) -> None:
        super().__init__(length)
        self.enum_cls = enum_cls

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return self.enum_cls(value).value

    def process_result_value(self, value: Any, dialect: Dialect) -> StrEnum | None:
        if value is None:
            return None
        return self.enum_cls(value)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a timestamp from the database, got {type(value).__name__}")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def local_zone() -> ZoneInfo:
    """The NOC's time zone: the ``timezone`` setting."""
    return ZoneInfo(get_settings().timezone)


def local_iso(moment: datetime) -> str:
    """An aware time for machines (JSON): ISO 8601 in the NOC's zone, with its offset."""
    return moment.astimezone(local_zone()).isoformat()


def show_time(moment: datetime, zone: tzinfo | str | None = None, *, seconds: bool = False) -> str:
    """An aware time as people read it, in the NOC's zone (or ``zone``) with its offset.

    ``2026-12-05 08:00 +07:00``, or ``2026-12-05 08:00:05 +07:00`` with ``seconds``.
    """
    if moment.tzinfo is None:
        raise ValueError("only a timezone-aware time can be shown")
    if zone is None:
        zone = local_zone()
    elif isinstance(zone, str):
        zone = ZoneInfo(zone)
    local = moment.astimezone(zone)
    offset = int((local.utcoffset() or timedelta()).total_seconds()) // 60
    sign = "-" if offset < 0 else "+"
    hours, minutes = divmod(abs(offset), 60)
    shown = local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    return f"{shown} {sign}{hours:02d}:{minutes:02d}"
