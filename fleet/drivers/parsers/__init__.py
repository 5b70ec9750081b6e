"""Parsers: pure functions from device output to facts, tested on recorded real-format output."""

from fleet.errors import FleetError


class ParseError(FleetError):
    """Device output fleet cannot read; says what was expected."""
