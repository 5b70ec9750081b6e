"""One settings object for the whole of fleet.

Sources, strongest first: arguments given in code, ``FLEET_*`` environment variables, then
``fleet.toml`` (in the working directory, or the file named by ``FLEET_CONFIG``).
"""

from __future__ import annotations

import os
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from fleet.errors import ConfigError
from fleet.transports.ssh_types import SshReader


def _config_file() -> Path:
    return Path(os.environ.get("FLEET_CONFIG", "fleet.toml"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FLEET_", extra="forbid")

    database_url: str = Field(
        default="sqlite:///fleet.db",
        description="SQLAlchemy URL; SQLite file in the working directory by default, "
        "postgresql+psycopg://… in production.",
    )
    auto_migrate: bool = Field(
        default=True, description="Bring the database schema up to date when a command opens it."
    )
    sqlite_busy_timeout_ms: int = Field(default=10_000, ge=0)
    timezone: str = Field(default="Asia/Ho_Chi_Minh", description="The NOC's local time zone.")
    sample_retention_days: int = Field(
        default=30, ge=1, le=3650, description="Days of per-device sweep samples kept in the database."
    )
    ssh_known_hosts: Path = Field(
        default=Path("known_hosts"),
        description="OpenSSH-format file of enrolled device host keys ('fleet ssh trust' writes it).",
    )
    ssh_reader: SshReader = Field(
        default=SshReader.ASYNCSSH,
        description="How sweeps read devices over SSH: asyncssh sessions on the event loop, "
        "or netmiko threads.",
    )
    ssh_in_flight: int = Field(
        default=200, ge=1, le=5000, description="Sweep SSH sessions open at once with the asyncssh reader."
    )
    ssh_workers: int = Field(
        default=50,
        ge=1,
        le=500,
        description="netmiko sessions at a time in one process (ssh_reader=netmiko).",
    )
    ssh_time_limit: float = Field(
        default=30.0, gt=0, le=3600, description="Seconds one device's SSH session may take in all."
    )
    ssh_connect_timeout: float = Field(
        default=10.0, gt=0, le=600, description="Seconds to wait for TCP connect and for the SSH banner."
    )

    lab_dir: Path = Field(
        default=Path("lab"),
        description="The demo's lab: simulator settings, lab secrets (0600) and its host keys; "
        "commands run beside it use them.",
    )
    report_dir: Path = Field(
        default=Path("reports"), description="Where readiness reports are written (a folder per session)."
    )
    readiness_deadline: float = Field(
        default=110.0, gt=0, le=3600, description="Seconds a readiness run may take before its verdicts."
    )
    readiness_offsets: list[float] = Field(
        default=[60, 30, 10],
        description="Minutes before each session at which the scheduler runs readiness.",
    )

    provision_workers: int = Field(
        default=20, ge=1, le=200, description="Devices provisioned at a time (fleet provision --workers)."
    )
    provision_time_limit: float = Field(
        default=60.0, gt=0, le=3600, description="Seconds one provisioning SSH session may take in all."
    )
    provision_canary: int = Field(
        default=5, ge=0, le=1000, description="Devices changed first; the run stops if too many of them fail."
    )
    provision_max_failure_rate: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="Failure rate past which a provisioning run stops starting devices.",
    )
    change_freeze_before: int = Field(
        default=120,
        ge=0,
        le=10080,
        description="Minutes before a session's start in which its sites are frozen.",
    )
    change_freeze_after: int = Field(
        default=240, ge=0, le=10080, description="Minutes after a session's start that its sites stay frozen."
    )

    sweep_interval: float = Field(
        default=300.0, ge=1, le=86400, description="Seconds between scheduled health sweeps."
    )
    scheduler_lease: float = Field(
        default=30.0,
        ge=1,
        le=3600,
        description="Seconds a scheduler holds its lease without renewing it; a standby takes over after.",
    )
    scheduler_sync_interval: float = Field(
        default=30.0,
        ge=0.5,
        le=3600,
        description="Seconds between two reads of the sessions table to create, move or drop readiness jobs.",
    )
    scheduler_late_after: float = Field(
        default=60.0, ge=0, le=86400, description="A scheduled run starting this many seconds late is logged."
    )
    api_host: str = Field(default="127.0.0.1", description="Address 'fleet serve' listens on.")
    api_port: int = Field(default=8000, ge=1, le=65535, description="Port 'fleet serve' listens on.")
    api_max_page: int = Field(default=500, ge=10, le=10000, description="Most items one API page returns.")

    @property
    def sample_retention(self) -> timedelta:
        return timedelta(days=self.sample_retention_days)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("not a time zone (e.g. Asia/Ho_Chi_Minh)") from None
        return value

    @field_validator("readiness_offsets")
    @classmethod
    def _offsets(cls, value: list[float]) -> list[float]:
        if any(v < 0 or v > 10080 for v in value):
            raise ValueError("each offset is minutes before the session, 0 to 10080")
        return sorted(set(value), reverse=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=_config_file())
        return (init_settings, env_settings, toml)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        raise ConfigError(f"invalid settings ({_config_file()} or FLEET_* variables): {problems}") from None
    except ValueError as exc:  # malformed TOML
        raise ConfigError(f"cannot read {_config_file()}: {exc}") from None
