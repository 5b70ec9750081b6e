"""The README's "Using fleet" commands, run as written, in order, right after `fleet demo`.

The demo runs on 40 of the shipped inventory's sites of Hồ Chí Minh (province 79), the README's
example site among them, so that it takes seconds, in a folder of its own laid out like the project's root. Every line of the
README's block runs through bash from that folder, as a user would paste it; a line whose comment
says "exit 1" may report faults that way, every other line must exit 0. Nothing may print a lab
secret. The lab is stopped at the end whatever happens.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROVINCE = "79"
SITES = 40  # of the province's 168: enough for every example, few enough to take seconds
EXAMPLE_SITE = "25747"  # the README's example site
LONG_RUNNING = "runs until Ctrl-C"


def readme_commands() -> list[tuple[str, str]]:
    """(command, comment) for each line of the README's "Using fleet" block."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Using fleet") :]
    block = section[section.index("```sh\n") + 6 : section.index("```\n", section.index("```sh\n") + 6)]
    commands = []
    for line in block.splitlines():
        if not line.strip():
            continue
        command, _, comment = line.partition("  # ")
        commands.append((command.strip(), comment.strip()))
    return commands


def province_inventory(target: Path) -> int:
    """The shipped inventory's files, cut to some of one province's sites and their devices; how many."""
    target.mkdir()
    with (ROOT / "inventory" / "sites.csv").open(encoding="utf-8", newline="") as f:
        sites = list(csv.DictReader(f))
    ours = [s["code"] for s in sites if s["province_code"] == PROVINCE]
    keep = set(ours[:SITES]) | {EXAMPLE_SITE}
    for name, key in (("sites.csv", "code"), ("devices.csv", "site_code")):
        with (ROOT / "inventory" / name).open(encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            rows = [r for r in reader if r[key] in keep]
            fields = reader.fieldnames or []
        with (target / name).open("w", encoding="utf-8", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
    for name in ("credentials.yaml", "groups.yaml"):
        shutil.copy(ROOT / "inventory" / name, target / name)
    return len(keep)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_every_readme_command_works_after_the_demo(tmp_path: Path) -> None:
    work = tmp_path / "noc"
    work.mkdir()
    sites = province_inventory(work / "inventory")
    (work / "playbooks").symlink_to(ROOT / "playbooks")
    api_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEET_")}
    env |= {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        "PYTHONIOENCODING": "utf-8",
        "FLEET_API_PORT": str(api_port),
        "FLEET_SWEEP_INTERVAL": "3600",  # the scheduler's sweep is not what these lines check
        "SNMP_PERSISTENT_DIR": str(tmp_path / "snmp"),
    }
    seen: list[str] = []

    def run(command: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=timeout,
            check=False,
        )
        seen.append(done.stdout + done.stderr)
        return done

    try:
        demo = run("fleet demo", timeout=400)
        assert demo.returncode == 0, demo.stderr[-3000:]
        assert "lab: the simulator keeps running" in demo.stdout
        # The whole loop: import, sweep with its faults, readiness judged from that sweep, the report.
        assert f"{sites} sites in 1 provinces" in demo.stdout and "Faults (" in demo.stdout
        assert "79 Thành phố Hồ Chí Minh" in demo.stdout
        assert "Readiness run 1 of session 1" in demo.stdout
        html = next(line for line in demo.stdout.splitlines() if line.startswith("report (html):"))
        assert (work / html.split(": ", 1)[1]).is_file()
        doc = json.loads(next((work / "reports").rglob("run-1.json")).read_text(encoding="utf-8"))
        assert doc["counts"]["sites"] == len(doc["sites"]) == sites and doc["run"]["reused_devices"] > 0
        secrets_file = work / "lab" / "secrets.env"
        assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
        secrets = [line.partition("=")[2] for line in secrets_file.read_text().splitlines()]
        assert len(secrets) == 7 and all(secrets)

        ran = []
        for command, comment in readme_commands():
            started = time.monotonic()
            if LONG_RUNNING in comment:
                code = _run_service(command, work, env, api_port, seen)
            else:
                code = run(command).returncode
            allowed = {0, 1} if "exit 1" in comment else {0}
            ran.append(f"{code} {time.monotonic() - started:5.1f}s {command}")
            assert code in allowed, f"{command!r} exited {code}:\n{seen[-1][-3000:]}"
        print("\n".join(ran))  # the list and exit codes, for the closing note

        # The fleet 'fleet lab start' brought back is the same: the enrolled host keys still match.
        again = run(f"fleet sweep --province {PROVINCE} --role codec --json")
        assert again.returncode in (0, 1), again.stderr[-3000:]
        assert "ssh_host_key_changed" not in again.stdout and "ssh_host_key_unknown" not in again.stdout
        assert '"status": "up"' in again.stdout
    finally:
        subprocess.run(["bash", "-c", "fleet lab stop"], cwd=work, env=env, timeout=60, check=False)
    for text in seen:
        for secret in secrets:
            assert secret not in text


def _run_service(command: str, work: Path, env: dict[str, str], api_port: int, seen: list[str]) -> int:
    """Start a long-running command, wait until it serves, stop it as Ctrl-C does; its exit code."""
    log = work / "service.log"
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=work, env=env, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if command.startswith("fleet serve"):
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{api_port}/healthz", timeout=2) as answer:
                        if answer.status == 200:
                            break
                except OSError:
                    pass
            elif re.search(r"scheduler \S+: sweeps every", log.read_text(encoding="utf-8")):
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"{command!r} did not come up:\n{log.read_text(encoding='utf-8')[-3000:]}")
        proc.send_signal(signal.SIGINT)
        return proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        seen.append(log.read_text(encoding="utf-8"))
