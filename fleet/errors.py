"""fleet's own exception tree; every layer raises these, never a library's errors."""

from __future__ import annotations


class FleetError(Exception):
    """Base of every error fleet reports to a user."""

    exit_code = 1


class ConfigError(FleetError):
    """Settings or a configuration file are wrong."""

    exit_code = 2


class StoreError(FleetError):
    """The database could not be reached or did not accept a change."""

    exit_code = 3


class NotFoundError(FleetError):
    """A named object does not exist."""

    exit_code = 4


class SecretError(FleetError):
    """A secret reference could not be resolved. Never carries the secret itself."""
