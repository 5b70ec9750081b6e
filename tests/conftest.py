from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from fleet.store.db import Store, create_db_engine, upgrade
from tests.simulator import SimHandle, build_test_inventory, start_simulator

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "inventory"
POSTGRES_URL = os.environ.get("FLEET_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
POSTGRES_REQUIRED = os.environ.get("FLEET_REQUIRE_POSTGRES") == "1"


def _postgres_problem() -> str | None:
    try:
        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except OperationalError as exc:
        return f"PostgreSQL is not reachable at {make_url(POSTGRES_URL).render_as_string()}: {exc.orig}"
    return None


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    problem = _postgres_problem()
    if problem:
        if POSTGRES_REQUIRED:
            pytest.fail(f"{problem} (FLEET_REQUIRE_POSTGRES=1: PostgreSQL tests are required here)")
        pytest.skip(f"{problem}; set FLEET_TEST_POSTGRES_URL to run these tests (CI requires them)")
    return POSTGRES_URL


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"fleet_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres_admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'fleet.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """Every store test runs against both backends."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    engine = create_db_engine(db_url)
    upgrade(engine)
    opened = Store(engine)
    yield opened
    opened.close()


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str


@pytest.fixture
def fleet_cli(tmp_path: Path) -> Iterator[object]:
    """Run the real ``fleet`` command in a subprocess against a database of this test."""

    def run(*args: str, db: str | None = None, env: dict[str, str] | None = None, cwd: Path = ROOT) -> Run:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("FLEET_")}
        full_env["FLEET_DATABASE_URL"] = db or f"sqlite:///{tmp_path / 'cli.db'}"
        full_env["FLEET_CONFIG"] = str(tmp_path / "absent.toml")
        full_env["FLEET_LAB_DIR"] = str(tmp_path / "absent-lab")  # a developer's demo lab stays out
        full_env["PYTHONIOENCODING"] = "utf-8"
        full_env.update(env or {})
        proc = subprocess.run(
            [sys.executable, "-m", "fleet", *args],
            capture_output=True,
            text=True,
            encoding="utf-8",
            env=full_env,
            cwd=cwd,
            timeout=120,
            check=False,
        )
        return Run(proc.returncode, proc.stdout, proc.stderr)

    yield run


# --- the simulator, once per test session --------------------------------------------------------

SIM_SITES = 13  # sites 0-1 healthy controls, 2-9 and 12 faults, 10-11 scratch devices that tests change


def _sim_scenario(names: list[str]) -> str:
    """Faults per site (router, codec, camera); routers alternate Cisco IOS (even) and Huawei VRP (odd)."""
    site = [names[i * 3 : i * 3 + 3] for i in range(SIM_SITES)]
    plan = [
        (site[2][0], "if_errors", {}), (site[2][1], "sip_unregistered", {}), (site[2][2], "snmp_dead", {}),
        (site[3][0], "ssh_auth_failure", {}), (site[3][1], "camera_disconnected", {}), (site[3][2], "slow", {"delay_ms": 700}),
        (site[4][0], "poor_link", {}), (site[4][1], "microphone_missing", {}), (site[4][2], "loss", {"rate": 0.5}),
        (site[5][0], "ssh_no_banner", {}), (site[5][1], "display_disconnected", {}), (site[5][1], "in_call", {}),
        (site[5][2], "powered_off", {}),
        (site[6][1], "clock_unsynced", {}), (site[6][1], "outdated_software", {}), (site[6][1], "snmp_dead", {}),
        (site[6][2], "outdated_software", {}),
        (site[7][0], "config_drift", {}), (site[7][1], "config_drift", {}), (site[7][2], "video_lost", {}),
        (site[8][0], "reset_during_push", {"after_lines": 1}), (site[8][1], "reset_during_push", {"after_lines": 1}),
        (site[8][2], "fan_failure", {}),
        (site[9][0], "wan_down", {}),  # its codec and camera are unreachable behind it
        (site[12][0], "powered_off", {}),  # likewise
    ]  # fmt: skip
    lines = ["seed: 3", "faults:"]
    for device, fault, params in plan:
        lines.append(f"  - device: {device}")
        lines.append(f"    fault: {fault}")
        lines += [f"    {k}: {v}" for k, v in params.items()]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    workdir = tmp_path_factory.mktemp("sim")
    names = list(build_test_inventory(workdir / "probe", SIM_SITES))
    handle = start_simulator(workdir, SIM_SITES, _sim_scenario(names))
    handle.extra["sites"] = [names[i * 3 : i * 3 + 3] for i in range(SIM_SITES)]
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def swept_db(sim: SimHandle, fleet_cli: Any, tmp_path: Path) -> tuple[Any, dict[str, str]]:
    """A database holding the simulator's inventory, with every SSH host key enrolled."""
    db = f"sqlite:///{tmp_path / 'sweep.db'}"
    env = dict(sim.env) | {"FLEET_SSH_KNOWN_HOSTS": str(tmp_path / "known_hosts")}
    run = fleet_cli("inventory", "import", str(sim.inventory_dir), db=db, env=env)
    assert run.code == 0, run.stderr
    trust = fleet_cli("ssh", "trust", db=db, env=env)
    # Powered-off and dark devices cannot be enrolled; every other SSH device is.
    assert "new" in trust.stdout + trust.stderr, trust.stderr
    return db, env
