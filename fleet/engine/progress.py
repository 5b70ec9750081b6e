"""Progress of a run as the engine reports it: light, so that a display can import it cheaply."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Phase(StrEnum):
    SNMP = "snmp"
    SSH = "ssh"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    phase: Phase
    done: int
    total: int
    device: str | None = None
    ok: bool = True
