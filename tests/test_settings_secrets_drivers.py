"""Settings sources, secret references and the driver registry."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from fleet.domain.enums import Role
from fleet.domain.secrets import SecretRef
from fleet.drivers import REGISTRY, Driver, DriverRegistry
from fleet.errors import ConfigError, SecretError
from fleet.inventory.generator import generate
from fleet.settings import Settings, get_settings
from fleet.sim.lab import Lab, LabConfig, lab_secrets, lab_values_to_keep


@pytest.fixture(autouse=True)
def _fresh_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("FLEET_DATABASE_URL", "FLEET_AUTO_MIGRATE", "FLEET_TIMEZONE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FLEET_CONFIG", str(tmp_path / "fleet.toml"))
    get_settings.cache_clear()


def test_defaults_then_toml_then_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert Settings().database_url == "sqlite:///fleet.db"
    (tmp_path / "fleet.toml").write_text('database_url = "sqlite:///from-toml.db"\n', encoding="utf-8")
    assert Settings().database_url == "sqlite:///from-toml.db"
    monkeypatch.setenv("FLEET_DATABASE_URL", "postgresql://db/fleet")
    assert Settings().database_url == "postgresql://db/fleet"


def test_invalid_settings_are_a_clear_config_error(tmp_path: Path) -> None:
    (tmp_path / "fleet.toml").write_text("sqlite_busy_timeout_ms = -5\ncolour = 'blue'\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        get_settings()
    assert "sqlite_busy_timeout_ms" in str(info.value)
    assert "colour" in str(info.value)


def test_secret_references_resolve_from_env_and_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LAB_SECRET", "s3cret")
    assert SecretRef.parse("env:LAB_SECRET").resolve() == "s3cret"
    path = tmp_path / "secret"
    path.write_text("from-file\nignored\n", encoding="utf-8")
    assert SecretRef.parse(f"file:{path}").resolve() == "from-file"


def test_secret_errors_name_the_reference_not_the_value(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("LAB_MISSING", raising=False)
    with pytest.raises(SecretError, match="env:LAB_MISSING is not set"):
        SecretRef.parse("env:LAB_MISSING").resolve()
    with pytest.raises(SecretError, match="cannot be read"):
        SecretRef.parse(f"file:{tmp_path / 'absent'}").resolve()
    with pytest.raises(ValueError, match="reference") as info:
        SecretRef.parse("hunter2")
    assert "hunter2" not in str(info.value)
    with pytest.raises(ValueError, match="not a valid environment variable name"):
        SecretRef.parse("env:1BAD")


def test_registry_refuses_a_duplicate_driver_name() -> None:
    registry = DriverRegistry()
    driver = Driver("x", Role.ROUTER, "V", ("M",), None, "test", snmp=REGISTRY.get("axis_ptz").snmp)
    registry.register(driver)
    with pytest.raises(ValueError, match="already registered"):
        registry.register(driver)
    assert REGISTRY.names() == ["axis_ptz", "cisco_ce", "cisco_ios", "huawei_vrp"]
    assert REGISTRY.get("cisco_ce").netmiko_device_type == "cisco_tp"


def test_a_lab_keeps_its_own_secrets_and_never_writes_the_operators(tmp_path: Path) -> None:
    profiles = generate(sites=1, seed=7).credentials
    values = lab_secrets(profiles)
    names = sorted(values)
    environ = {names[0]: values[names[0]], names[1]: "the-operators-own"}  # one from a lab, one real
    kept = lab_values_to_keep(profiles, environ)
    assert names[1] not in kept and kept[names[0]] == values[names[0]]
    assert set(kept) == set(names) - {names[1]}
    lab = Lab(tmp_path / "lab")
    lab.save(LabConfig("inventory", 1, 0.0, 8161), kept)
    assert stat.S_IMODE(lab.secrets_file.stat().st_mode) == 0o600
    assert lab.secrets() == kept and "the-operators-own" not in lab.secrets_file.read_text()
