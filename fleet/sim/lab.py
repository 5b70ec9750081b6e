"""The lab: lab secrets for an inventory's env: references, and the demo's simulated fleet kept running.

Real secrets never come from here. The demo, tests and benchmarks use these so that the simulator
and fleet's pollers agree without anyone typing a password.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from fleet.domain.secrets import SecretRef, SecretScheme
from fleet.errors import FleetError
from fleet.inventory.schema import CredentialRecord

SECRET_FIELDS = ("snmp_community", "snmp_auth_key", "snmp_priv_key", "ssh_password")


def lab_secrets(profiles: Iterable[CredentialRecord], salt: str = "fleet-lab") -> dict[str, str]:
    """Environment variables (name -> value) for every env: reference of these profiles."""
    env: dict[str, str] = {}
    for profile in profiles:
        for name in SECRET_FIELDS:
            ref: SecretRef | None = getattr(profile, name)
            if ref is not None and ref.scheme is SecretScheme.ENV:
                digest = hashlib.sha256(f"{salt}:{ref.target}".encode()).hexdigest()[:16]
                env[ref.target] = f"lab-{digest}"
    return env


def lab_values_to_keep(profiles: Iterable[CredentialRecord], environ: Mapping[str, str]) -> dict[str, str]:
    """The lab secrets a lab may use and keep: those the environment lacks or already holds.

    Lab values are fixed per name, so one the environment already holds came from a lab (this one,
    read back by every command); a different value is the operator's own and is never written down.
    """
    return {k: v for k, v in lab_secrets(profiles).items() if environ.get(k) in (None, v)}


# --- the lab: the demo's simulated fleet, kept so that every other command works after it -------

LAB_FILE = "lab.json"
SECRETS_FILE = "secrets.env"
STOP_WAIT = 15.0


class LabError(FleetError):
    """The lab cannot do what was asked (none set up, not running, its simulator would not start)."""

    exit_code = 1


@dataclass(frozen=True, slots=True)
class LabConfig:
    """What brings the same simulated fleet back: same inventory, seed and faults, so the same keys."""

    inventory: str
    seed: int
    fault_rate: float
    control_port: int

    def sim_args(self, truth: Path) -> list[str]:
        return [
            "--seed",
            str(self.seed),
            "--fault-rate",
            str(self.fault_rate),
            "--truth-file",
            str(truth),
        ]


class Lab:
    """A folder (``lab_dir``, ./lab): the simulator's settings, its pid, lab secrets and host keys.

    The secrets file is written 0600 and read by every ``fleet`` command run beside it, for the
    environment variables that are not set already, so the lab works in a new shell without anyone
    typing (or seeing) a secret. Host keys enrolled for the lab go to its own known_hosts file.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.config_file = folder / LAB_FILE
        self.secrets_file = folder / SECRETS_FILE
        self.known_hosts = folder / "known_hosts"
        self.log = folder / "sim.log"
        self.truth = folder / "truth.json"
        self.pid_file = folder / "sim.pid"

    def exists(self) -> bool:
        return self.config_file.is_file()

    # --- settings and secrets ----------------------------------------------------------------

    def save(self, config: LabConfig, secrets: dict[str, str]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        _write_private(self.secrets_file, "".join(f"{k}={v}\n" for k, v in sorted(secrets.items())))
        text = json.dumps(
            {
                "inventory": config.inventory,
                "seed": config.seed,
                "fault_rate": config.fault_rate,
                "control_port": config.control_port,
            },
            indent=2,
        )
        _write_private(self.config_file, text + "\n")

    def config(self) -> LabConfig:
        try:
            data = json.loads(self.config_file.read_text(encoding="utf-8"))
            return LabConfig(
                str(data["inventory"]),
                int(data["seed"]),
                float(data["fault_rate"]),
                int(data["control_port"]),
            )
        except FileNotFoundError:
            raise LabError(f"no lab in {self.folder}/: 'fleet demo' sets one up") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise LabError(f"{self.config_file}: cannot be read ({exc}); run 'fleet demo' again") from None

    def secrets(self) -> dict[str, str]:
        """The lab's secrets (name -> value); never printed."""
        try:
            text = self.secrets_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise LabError(f"{self.secrets_file}: cannot be read: {exc.strerror}") from None
        pairs = (line.partition("=") for line in text.splitlines() if "=" in line)
        return {name.strip(): value.strip() for name, _, value in pairs if name.strip()}

    def fill_environment(self) -> list[str]:
        """Set the lab's secrets that the environment lacks; returns their names."""
        filled = []
        for name, value in self.secrets().items():
            if name not in os.environ:
                os.environ[name] = value
                filled.append(name)
        return filled

    # --- the simulator ---------------------------------------------------------------------------

    def pid(self) -> int | None:
        """The lab simulator's process id while it runs (a stale pid file is ignored)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return None
        port = str(self.config().control_port).encode() if self.exists() else b""
        is_ours = b"sim" in cmdline and b"fleet" in cmdline and (not port or port in cmdline)
        return pid if is_ours else None

    def url(self) -> str:
        return f"http://127.0.0.1:{self.config().control_port}"

    def start(self, wait: float = 180.0) -> int:
        """Start the simulator in the background as the lab was set up; its pid. Idempotent."""
        running = self.pid()
        if running is not None:
            return running
        from fleet.sim.process import SimulatorProcess  # noqa: PLC0415 - heavy; every command reads the lab

        config = self.config()
        self.fill_environment()
        child = SimulatorProcess.start(
            Path(config.inventory),
            dict(os.environ),
            args=config.sim_args(self.truth),
            log=self.log,
            port=config.control_port,
            detach=True,
        )
        # Recorded at once: it runs in a session of its own, so Ctrl-C here never reaches it.
        self.pid_file.write_text(f"{child.process.pid}\n", encoding="utf-8")
        try:
            child.wait_ready(wait)  # stops it and raises SimError with its output when it fails
        except BaseException:
            child.stop()
            self.pid_file.unlink(missing_ok=True)
            raise
        return child.process.pid

    def stop(self) -> bool:
        """Stop the lab's simulator; False when it was not running."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_WAIT
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists() and not _zombie(pid):
            time.sleep(0.05)
        if Path(f"/proc/{pid}").exists() and not _zombie(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        return True


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return True


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` readable by its owner only, atomically (never a moment with wider rights)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    tmp.replace(path)
