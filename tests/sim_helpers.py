"""Real clients against the simulator: net-snmp's command-line tools, OpenSSH, netmiko."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.simulator import SimHandle

NET_SNMP = shutil.which("snmpget") is not None
OPENSSH = shutil.which("ssh") is not None and shutil.which("ssh-keyscan") is not None
REQUIRED = os.environ.get("FLEET_REQUIRE_TOOLS") == "1"


def need(tool_present: bool, what: str) -> None:
    if tool_present:
        return
    if REQUIRED:
        pytest.fail(f"{what} is required here (FLEET_REQUIRE_TOOLS=1)")
    pytest.skip(f"{what} is not installed (Debian: apt-get install snmp openssh-client)")


def snmp(
    sim: SimHandle, tool: str, device: str, *oids: str, v3_key: str | None = None, timeout: float = 1.0
) -> subprocess.CompletedProcess[str]:
    need(NET_SNMP, "net-snmp's command-line tools")
    dev = sim.device(device)
    target = f"{dev.mgmt_address}:{dev.snmp_port}"
    if dev.credential_profile == "camera-v2c":
        auth = ["-v2c", "-c", sim.env["FLEET_CAMERA_SNMP_COMMUNITY"]]
    else:
        carrier = "VIETTEL" if dev.credential_profile.startswith("viettel") else "VNPT"
        user = "noc-viettel" if carrier == "VIETTEL" else "noc-vnpt"
        auth = ["-v3", "-l", "authPriv", "-u", user, "-a", "SHA", "-A", v3_key or sim.env[f"FLEET_{carrier}_SNMP_AUTH_KEY"],
                "-x", "AES", "-X", sim.env[f"FLEET_{carrier}_SNMP_PRIV_KEY"]]  # fmt: skip
    args = [tool, *auth, "-On", "-t", str(timeout), "-r", "0", target, *oids]
    return subprocess.run(args, capture_output=True, text=True, env=sim.env, timeout=60, check=False)


def snmp_value(sim: SimHandle, device: str, oid: str) -> str:
    result = snmp(sim, "snmpget", device, oid)
    assert result.returncode == 0, result.stderr
    return result.stdout.split(" = ", 1)[1].strip()


def ssh_exec(
    sim: SimHandle, device: str, command: str, known_hosts: Path, password: str | None = None
) -> subprocess.CompletedProcess[str]:
    """OpenSSH with strict host key checking; the password comes through SSH_ASKPASS."""
    need(OPENSSH, "OpenSSH's client")
    dev = sim.device(device)
    askpass = known_hosts.parent / "askpass.sh"
    askpass.write_text(f"#!/bin/sh\necho '{password or sim.password(device)}'\n", encoding="utf-8")
    askpass.chmod(0o700)
    env = sim.env | {"SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force", "DISPLAY": ":0"}
    args = ["ssh", "-o", f"UserKnownHostsFile={known_hosts}", "-o", "StrictHostKeyChecking=yes",
            "-o", "NumberOfPasswordPrompts=1", "-o", "PreferredAuthentications=password,keyboard-interactive",
            "-o", "ConnectTimeout=5", "-p", str(dev.ssh_port), f"noc@{dev.mgmt_address}", command]  # fmt: skip
    return subprocess.run(
        args, capture_output=True, text=True, env=env, timeout=60, check=False, stdin=subprocess.DEVNULL
    )


def keyscan(sim: SimHandle, device: str, known_hosts: Path) -> None:
    need(OPENSSH, "OpenSSH's client")
    dev = sim.device(device)
    result = subprocess.run(
        ["ssh-keyscan", "-T", "5", "-p", str(dev.ssh_port), "-t", "ed25519", dev.mgmt_address],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.stdout.strip(), result.stderr
    with known_hosts.open("a", encoding="utf-8") as out:
        out.write(result.stdout)
