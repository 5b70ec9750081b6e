"""States of a health sweep."""

from __future__ import annotations

from enum import StrEnum


class SweepStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    ABORTED = "aborted"  # interrupted, or found still 'running' after its process died
    FAILED = "failed"  # fleet itself failed; the note says why
