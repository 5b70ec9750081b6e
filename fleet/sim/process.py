"""Run `fleet sim` as a child process: for tests, benchmarks and (later) the main job.

One place knows how to start it on a free control port, wait until it answers, and stop it
cleanly, so none of its users grows its own polling loop.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

from fleet.sim.errors import SimError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class SimulatorProcess:
    def __init__(self, process: subprocess.Popen[bytes], port: int, log: Path | None) -> None:
        self.process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = log

    @classmethod
    def start(
        cls,
        inventory: Path,
        env: Mapping[str, str],
        *,
        args: Sequence[str] = (),
        log: Path | None = None,
        port: int | None = None,
        detach: bool = False,
    ) -> SimulatorProcess:
        """Start `fleet sim` on ``inventory`` (a free control port unless ``port``); output goes to ``log``.

        ``detach``: in a session of its own, so it outlives this process and the terminal (the lab).
        """
        port = port or free_port()
        command = [
            sys.executable,
            "-m",
            "fleet",
            "sim",
            "--inventory",
            str(inventory),
            "--control-port",
            str(port),
        ]
        if log is None:
            process = subprocess.Popen(  # noqa: S603 - our own command line
                [*command, *args],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=dict(env),
                start_new_session=detach,
            )
        else:
            with log.open("wb") as out:
                process = subprocess.Popen(  # noqa: S603 - our own command line
                    [*command, *args],
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=dict(env),
                    start_new_session=detach,
                )
        return cls(process, port, log)

    def _output(self) -> str:
        return (
            self.log.read_text(encoding="utf-8", errors="replace")
            if self.log is not None
            else "(no log kept)"
        )

    def wait_ready(self, seconds: float = 30.0) -> None:
        """Poll /health until it answers; raise SimError with the simulator's output if it never does."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SimError(f"fleet sim exited with {self.process.returncode}:\n{self._output()}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:  # noqa: S310 - loopback
                    if json.loads(response.read()).get("ready"):
                        return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise SimError(f"fleet sim was not ready within {seconds:.0f} s:\n{self._output()}")

    def stop(self, seconds: float = 15.0) -> int | None:
        """Ctrl-C, then kill if it does not stop in time; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=seconds)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        return self.process.returncode
