"""Real ``fleet serve`` and ``fleet scheduler`` processes for the service tests, and a small HTTP client."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from fleet.inventory.generator import generate
from fleet.sim.lab import lab_secrets
from fleet.sim.process import free_port

ROOT = Path(__file__).resolve().parent.parent
START_SECONDS = 30.0


def fleet_env(db: str, tmp: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEET_")}
    env |= {
        "FLEET_DATABASE_URL": db,
        "FLEET_CONFIG": str(tmp / "absent.toml"),
        "FLEET_SSH_KNOWN_HOSTS": str(tmp / "known_hosts"),
        "FLEET_REPORT_DIR": str(tmp / "reports"),
        "FLEET_LAB_DIR": str(tmp / "absent-lab"),
        "PYTHONIOENCODING": "utf-8",
    }
    # The test inventories' credential references, set: a run refuses to start without them.
    env |= lab_secrets(generate(sites=1, seed=7).credentials)
    return env | (extra or {})


def fleet(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fleet", *args],
        capture_output=True, text=True, encoding="utf-8", env=env, cwd=ROOT, timeout=timeout, check=False,
    )  # fmt: skip


def token(env: dict[str, str], name: str, role: str) -> str:
    made = fleet(env, "token", "create", name, "--role", role)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


@dataclass
class Process:
    args: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def start(self) -> Process:
        handle = self.log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "fleet", *self.args], env=self.env, cwd=ROOT, stdout=handle, stderr=handle
        )
        handle.close()
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM, then the exit code (killed if it does not end in time)."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
                raise
        return self.process.returncode

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def wait_for(what: str, check: Callable[[], Any], seconds: float, every: float = 0.2) -> Any:
    """Poll ``check`` until it returns something true (bounded); fail naming what never happened."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds:g} s waiting for {what}")
        time.sleep(every)


@dataclass
class Server:
    process: Process
    url: str

    def client(self, token: str | None = None, **headers: str) -> httpx.Client:
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def stop(self) -> None:
        self.process.stop()


def start_server(env: dict[str, str], log: Path, *extra: str) -> Server:
    port = free_port()
    process = Process(["serve", "--port", str(port), *extra], env, log).start()
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert process.process is not None
        if process.process.poll() is not None:
            raise AssertionError(f"fleet serve exited {process.process.returncode}:\n{process.output()}")
        try:
            return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    wait_for("fleet serve to answer", up, START_SECONDS)
    return Server(process, url)
