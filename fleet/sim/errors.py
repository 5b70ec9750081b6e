"""The simulator's error, apart from its runtime so that starting one need not load asyncssh."""

from __future__ import annotations

from fleet.errors import FleetError


class SimError(FleetError):
    """The simulator cannot start as asked."""
