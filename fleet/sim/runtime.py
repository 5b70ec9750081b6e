"""The simulator process: builds device states from an inventory and serves them all.

Every device gets a UDP socket for SNMP on its own address and, when its driver speaks SSH,
a TCP listener. One asyncio loop serves them all; faults change what each device does.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import random
import resource
import socket
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import asyncssh

from fleet.domain.enums import Role, SnmpVersion
from fleet.inventory.reference import reference
from fleet.inventory.schema import CredentialRecord
from fleet.inventory.validate import Inventory
from fleet.inventory.writer import write_atomic
from fleet.sim import control, ssh
from fleet.sim.cli_base import Cli
from fleet.sim.credentials import Secrets, check_v3_profiles
from fleet.sim.device import DeviceState, build_state
from fleet.sim.errors import SimError
from fleet.sim.faults import FAULTS, Fault, FaultKind, Scenario, choose_faults, make_fault
from fleet.sim.models.registry import MODELS
from fleet.sim.plan import Boot
from fleet.sim.snmp.agent import Agent, AgentStats, Identity
from fleet.sim.snmp.mib import MibView
from fleet.snmp import usm

log = logging.getLogger(__name__)
CUTS_OFF = frozenset({FaultKind.POWERED_OFF, FaultKind.WAN_DOWN})  # router faults that darken a site


@dataclass(slots=True)
class Served:
    state: DeviceState
    agent: Agent
    ident: Identity
    password: str = ""
    transport: asyncio.DatagramTransport | None = None
    listener: ssh.SshListener | None = None
    options: asyncssh.SSHServerConnectionOptions | None = None
    upstream: Served | None = None  # the site's router, for its codec and camera
    # The SSH side of 'loss': seeded per device, so a run's stalls are the same each time.
    link_rng: random.Random = field(default_factory=random.Random)
    downstream: list[Served] = field(default_factory=list)

    @property
    def cut_off(self) -> bool:
        """Behind a router that is off or whose WAN is down: unreachable, as in the field."""
        up = self.upstream
        return up is not None and (
            FaultKind.POWERED_OFF in up.state.faults or FaultKind.WAN_DOWN in up.state.faults
        )

    @property
    def silent(self) -> bool:
        return FaultKind.POWERED_OFF in self.state.faults or self.cut_off


class SnmpEndpoint(asyncio.DatagramProtocol):
    def __init__(self, sim: Simulator, served: Served) -> None:
        self.sim = sim
        self.served = served
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        state = self.served.state
        faults = state.faults
        if self.served.upstream is not None and self.served.cut_off:
            return
        if faults:
            if FaultKind.POWERED_OFF in faults or FaultKind.SNMP_DEAD in faults:
                return
            loss = faults.get(FaultKind.LOSS)
            if loss is not None and self.sim.rng.random() < loss.number("rate"):
                return
        reply = self.served.agent.handle(data, self.served.ident, state, time.monotonic())
        if reply is None or self.transport is None:
            return
        if faults and FaultKind.SNMP_MALFORMED in faults:
            reply = self.garble(reply)
        slow = faults.get(FaultKind.SLOW) if faults else None
        if slow is not None:
            asyncio.get_running_loop().call_later(slow.number("delay_ms") / 1000, self._send, reply, addr)
        else:
            self.transport.sendto(reply, addr)

    @staticmethod
    def garble(reply: bytes) -> bytes:
        """What a broken agent sends (snmp_malformed): the reply cut after half its bytes, undecodable."""
        return reply[: max(1, len(reply) // 2)]

    def _send(self, reply: bytes, addr: tuple[str | Any, int]) -> None:
        if self.served.silent or FaultKind.SNMP_DEAD in self.served.state.faults:
            return  # the device died, or its site went dark, while the late answer was on its way
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(reply, addr)


@dataclass(slots=True)
class Stats:
    snmp: AgentStats = field(default_factory=AgentStats)


class Simulator:
    def __init__(
        self,
        inventory: Inventory,
        scenario: Scenario | None = None,
        *,
        seed: int = 0,
        fault_rate: float = 0.0,
        truth_file: Path | None = None,
        faults: dict[str, list[Fault]] | None = None,
        boot: Boot | None = None,
    ) -> None:
        self.inventory = inventory
        self.scenario = scenario or Scenario()
        self.seed = seed
        self.fault_rate = fault_rate
        self.truth_file = truth_file
        self.rng = random.Random(seed)  # noqa: S311 - simulated packet loss
        self.stats = Stats()
        self.devices: dict[str, Served] = {}
        self.faults = faults  # a shard's: chosen by its parent over the whole inventory
        boot = boot or Boot.now()
        self.started_at, self.started, self.engine_boots = boot.started_at, boot.started, boot.engine_boots
        self._loop: asyncio.AbstractEventLoop | None = None
        self._control: asyncio.Server | None = None
        self.control_address: tuple[str, int] | None = None

    # --- building ----------------------------------------------------------------------------

    def build(self) -> None:
        ref = reference()
        sites = {s.code: s for s in self.inventory.sites}
        profiles = {p.name: p for p in self.inventory.credentials}
        now = time.monotonic()
        secret = Secrets()
        views: dict[str, MibView] = {}
        check_v3_profiles(self.inventory, secret)
        for record in self.inventory.devices:
            site = sites.get(record.site_code)
            if site is None:
                raise SimError(
                    f"device {record.name} names site {record.site_code}, which the inventory lacks"
                )
            if record.driver not in MODELS:
                raise SimError(f"the simulator has no model for driver '{record.driver}' ({record.name})")
            province = ref.provinces[site.province_code].name
            state = build_state(record, site, province, now, self.seed)
            profile = profiles[record.credential_profile]
            state.ssh_user = profile.ssh_user
            if record.driver not in views:
                views[record.driver] = MODELS[record.driver].view(state.interfaces)
            ident = self._identity(state, profile, secret, now)
            served = Served(
                state, Agent(views[record.driver], self.stats.snmp), ident, secret(profile.ssh_password)
            )
            served.link_rng.seed(f"fleet-sim-link:{self.seed}:{record.name}")
            self.devices[record.name] = served
        routers = {s.state.site.code: s for s in self.devices.values() if s.state.role is Role.ROUTER}
        for served in self.devices.values():
            router = routers.get(served.state.site.code)
            if served.state.role is not Role.ROUTER and router is not None:
                served.upstream = router
                router.downstream.append(served)
        secret.raise_missing()
        self._apply_scenario()

    def _identity(
        self, state: DeviceState, profile: CredentialRecord, secret: Callable[[Any], str], now: float
    ) -> Identity:
        communities: frozenset[bytes] = frozenset()
        users: dict[bytes, Callable[[], usm.LocalKeys]] = {}
        if profile.snmp_version is SnmpVersion.V2C:
            communities = frozenset({secret(profile.snmp_community).encode()})
        else:
            auth, priv = profile.snmp_auth_protocol, profile.snmp_priv_protocol
            auth_pw, priv_pw = secret(profile.snmp_auth_key), secret(profile.snmp_priv_key)
            assert auth is not None and priv is not None  # noqa: S101 - validated inventory
            user = profile.snmp_user.encode()

            def keys(state: DeviceState = state) -> usm.LocalKeys:
                cached = state.snmp_keys.get(user)
                if cached is None:
                    cached = usm.local_keys(auth, auth_pw, priv, priv_pw, state.engine_id)
                    state.snmp_keys[user] = cached
                return cached

            users[user] = keys
        return Identity(communities, state.engine_id, self.engine_boots, self.started, users)

    def _apply_scenario(self) -> None:
        chosen = self.faults
        if chosen is None:
            roles = [(name, s.state.role) for name, s in self.devices.items()]
            chosen = choose_faults(roles, self.scenario, self.fault_rate, self.seed)
        for name, faults in chosen.items():
            for fault in faults:
                self._set(self.devices[name], fault)

    # --- serving -----------------------------------------------------------------------------

    async def start(self, control_port: int | None = 8161) -> None:
        self._loop = asyncio.get_running_loop()
        if not self.devices:
            self.build()
        needed = len(self.devices) + sum(1 for s in self.devices.values() if s.state.record.ssh_port) + 256
        _raise_file_limit(needed)
        for served in self.devices.values():
            record = served.state.record
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                sock.bind((record.mgmt_address, record.snmp_port))
            except OSError as exc:
                sock.close()
                raise SimError(
                    f"cannot bind {record.mgmt_address}:{record.snmp_port}/udp for {record.name}: {exc}"
                ) from None
            transport, _proto = await self._loop.create_datagram_endpoint(
                functools.partial(SnmpEndpoint, self, served), sock=sock
            )
            served.transport = transport
            if record.ssh_port is not None:  # the validated inventory gives SSH ports to SSH drivers only
                served.listener = ssh.SshListener(
                    served.state, functools.partial(self._ssh_options, served), served.link_rng
                )
                if not served.silent:
                    try:
                        served.listener.open(self._loop)
                    except OSError as exc:
                        raise SimError(
                            f"cannot listen on {record.mgmt_address}:{record.ssh_port}/tcp: {exc}"
                        ) from None
        if control_port is not None:
            try:
                self._control, self.control_address = await control.serve(self._answer, control_port)
            except OSError as exc:
                await self.stop()
                raise SimError(
                    f"cannot listen on 127.0.0.1:{control_port} for fault control: {exc.strerror}"
                ) from None
        self.write_truth()

    def _ssh_options(self, served: Served) -> asyncssh.SSHServerConnectionOptions:
        if served.options is None:
            state = served.state
            model = MODELS[state.driver]

            def make_cli() -> Cli:
                cli = model.make_cli(state)
                assert cli is not None  # noqa: S101 - only SSH models get a listener
                return cli

            served.options = asyncssh.SSHServerConnectionOptions(
                server_host_keys=[ssh.host_key(self.seed, state.name)],
                server_factory=lambda: ssh.DeviceSshServer(state, served.password, make_cli, served.link_rng),
                server_version=ssh.SERVER_VERSION.get(state.driver, "OpenSSH_8.9"),
                line_editor=False,
                keepalive_interval=0,
                login_timeout=30,
            )
        return served.options

    async def stop(self) -> None:
        if self._control is not None:
            self._control.close()
            await self._control.wait_closed()
        loop = asyncio.get_running_loop()
        for served in self.devices.values():
            if served.transport is not None:
                served.transport.close()
            if served.listener is not None:
                served.listener.close(loop)

    # --- faults and truth --------------------------------------------------------------------

    def _set(self, served: Served, fault: Fault) -> None:
        state = served.state
        kind = fault.kind
        if state.role not in FAULTS[kind].roles:
            raise ValueError(f"{kind.value} does not apply to {state.name} (a {state.role.value})")
        if kind in state.faults:
            state.end_fault(kind, time.monotonic())
        already_drifted = kind is FaultKind.CONFIG_DRIFT and kind in state.faults
        state.faults[kind] = fault
        state.fault_since[kind] = time.monotonic()
        if kind is FaultKind.CONFIG_DRIFT and not already_drifted:
            MODELS[state.driver].drift(state)
        self._sync_listeners(served)

    def set_fault(self, device: str, kind: FaultKind, params: dict[str, Any] | None = None) -> Fault:
        served = self._served(device)
        fault = make_fault(kind, served.state.role, params or {})
        self._set(served, fault)
        self.write_truth()
        return fault

    def clear_fault(self, device: str, kind: FaultKind | None = None) -> list[FaultKind]:
        served = self._served(device)
        state = served.state
        kinds = [kind] if kind is not None else list(state.faults)
        cleared = []
        now = time.monotonic()
        for k in kinds:
            if k not in state.faults:
                continue
            state.end_fault(k, now)
            del state.faults[k]
            state.fault_since.pop(k, None)
            cleared.append(k)
            if k is FaultKind.CONFIG_DRIFT:
                MODELS[state.driver].undrift(state)
        self._sync_listeners(served)
        self.write_truth()
        return cleared

    def _sync_listeners(self, served: Served) -> None:
        """Open or close SSH listeners to match power and reachability, for a device and those behind it."""
        if self._loop is None:
            return
        for each in (served, *served.downstream):
            if each.listener is None:
                continue
            if each.silent:
                each.listener.close(self._loop)
            else:
                each.listener.open(self._loop)

    def _served(self, device: str) -> Served:
        try:
            return self.devices[device]
        except KeyError:
            raise SimError(f"no device named '{device}' in the simulator") from None

    def truth(self) -> dict[str, Any]:
        faults = []
        for served in self.devices.values():
            state = served.state
            for fault in state.faults.values():
                faults.append(
                    {
                        "device": state.name,
                        "site": state.site.code,
                        "role": state.role.value,
                        "driver": state.driver,
                        "carrier": state.site.carrier.value,
                        "province": state.site.province_code,
                        "address": state.record.mgmt_address,
                        **fault.to_dict(),
                    }
                )
        roles = Counter(s.state.role.value for s in self.devices.values())
        unreachable = [
            {
                "device": s.state.name,
                "role": s.state.role.value,
                "behind": s.upstream.state.name,
                "because": sorted(k.value for k in s.upstream.state.faults if k in CUTS_OFF),
            }
            for s in self.devices.values()
            if s.upstream is not None and s.cut_off
        ]
        return {
            "started_at": self.started_at.isoformat(),
            "seed": self.seed,
            "devices": len(self.devices),
            "by_role": dict(sorted(roles.items())),
            "faults": faults,
            "fault_counts": dict(sorted(Counter(f["fault"] for f in faults).items())),
            "unreachable": unreachable,
        }

    def write_truth(self) -> None:
        if self.truth_file is not None:
            write_atomic(self.truth_file, json.dumps(self.truth(), ensure_ascii=False, indent=1) + "\n")

    def running_config(self, device: str) -> str:
        served = self._served(device)
        return MODELS[served.state.driver].running_config(served.state)

    def startup_config(self, device: str) -> str:
        """The configuration the device would boot with: what was last saved (codecs: as running)."""
        served = self._served(device)
        return MODELS[served.state.driver].startup_config(served.state)

    # --- control HTTP ------------------------------------------------------------------------

    async def _answer(self, method: str, target: str, body: bytes) -> tuple[int, Any]:
        return self._route(method, target, body)

    def _route(self, method: str, target: str, body: bytes) -> tuple[int, Any]:
        path = target.split("?", 1)[0].rstrip("/")
        try:
            if method == "GET" and path == "/health":
                return 200, {"ready": True, "devices": len(self.devices)}
            if method == "GET" and path == "/truth":
                return 200, self.truth()
            if method == "GET" and path == "/summary":
                return 200, self.summary()
            if method == "GET" and path.startswith("/devices/") and path.endswith("/config"):
                return 200, self.running_config(path.split("/")[2])
            if method == "GET" and path.startswith("/devices/") and path.endswith("/startup"):
                return 200, self.startup_config(path.split("/")[2])
            if path == "/faults" and method in {"POST", "DELETE"}:
                data = json.loads(body or b"{}")
                if not isinstance(data, dict) or not isinstance(data.get("params", {}), dict | None):
                    return 400, {"error": "the body must be a JSON object; 'params' an object"}
                device = str(data.get("device", ""))
                kind = FaultKind(data["fault"]) if data.get("fault") else None
                if method == "POST":
                    if kind is None:
                        return 400, {"error": "'fault' is required"}
                    fault = self.set_fault(device, kind, data.get("params") or {})
                    return 200, {"device": device, **fault.to_dict()}
                return 200, {"device": device, "cleared": [k.value for k in self.clear_fault(device, kind)]}
        except SimError as exc:
            return 404, {"error": str(exc)}
        except OSError as exc:
            return 500, {"error": f"cannot do that now: {exc.strerror}"}
        except (ValueError, KeyError, TypeError) as exc:
            return 400, {"error": str(exc)}
        return 404, {"error": f"no route for {method} {path}"}

    def summary(self) -> dict[str, Any]:
        roles = Counter(s.state.role for s in self.devices.values())
        addresses = sorted(s.state.record.mgmt_address for s in self.devices.values())
        ssh_ports = {s.state.record.ssh_port for s in self.devices.values() if s.listener is not None}
        snmp_ports = {s.state.record.snmp_port for s in self.devices.values()}
        return {
            "devices": len(self.devices),
            "routers": roles[Role.ROUTER],
            "codecs": roles[Role.CODEC],
            "cameras": roles[Role.CAMERA],
            "first_address": addresses[0] if addresses else None,
            "last_address": addresses[-1] if addresses else None,
            "snmp_ports": sorted(snmp_ports),
            "ssh_ports": sorted(p for p in ssh_ports if p is not None),
            "faults": sum(len(s.state.faults) for s in self.devices.values()),
        }


def _raise_file_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise SimError(
            f"serving these devices needs {needed} open files but the limit is {hard}; "
            "serve fewer devices per process or raise the hard limit (ulimit -Hn)"
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed if hard == resource.RLIM_INFINITY else hard, hard))
