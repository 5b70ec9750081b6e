"""fleet's SNMP transport (pysnmp 7) against the simulator: values, and each failure as fleet's own kind."""

from __future__ import annotations

import asyncio
from typing import Any

from pysnmp.proto import errind

from fleet.domain.enums import SnmpAuthProtocol, SnmpPrivProtocol, SnmpVersion
from fleet.transports.errors import TransportErrorKind
from fleet.transports.snmp import SnmpClient, SnmpCredentials, SnmpResult, SnmpTarget, classify_indication

SYS_NAME = "1.3.6.1.2.1.1.5.0"
IF_OPER_WAN = "1.3.6.1.2.1.2.2.1.8.1"
ABSENT = "1.3.6.1.2.1.1.9.0"


def target(sim: Any, name: str, *, auth_key: str | None = None) -> SnmpTarget:
    dev = sim.device(name)
    if dev.credential_profile == "camera-v2c":
        creds = SnmpCredentials(SnmpVersion.V2C, community=sim.env["FLEET_CAMERA_SNMP_COMMUNITY"])
    else:
        carrier = "VIETTEL" if dev.credential_profile.startswith("viettel") else "VNPT"
        creds = SnmpCredentials(
            SnmpVersion.V3,
            user=f"noc-{carrier.lower()}",
            auth_protocol=SnmpAuthProtocol.SHA,
            auth_key=auth_key or sim.env[f"FLEET_{carrier}_SNMP_AUTH_KEY"],
            priv_protocol=SnmpPrivProtocol.AES,
            priv_key=sim.env[f"FLEET_{carrier}_SNMP_PRIV_KEY"],
        )
    return SnmpTarget(name, dev.mgmt_address, dev.snmp_port, creds)


def sweep(targets: list[SnmpTarget], oids: list[str]) -> dict[str, SnmpResult]:
    async def run() -> list[SnmpResult]:
        client = SnmpClient(timeout=0.5, retries=0)
        try:
            await client.prepare(targets)
            return list(await asyncio.gather(*(client.get(t, oids) for t in targets)))
        finally:
            client.close()

    return {r.name: r for r in asyncio.run(run())}


def test_v2c_and_v3_values_and_each_failure_kind(sim: Any) -> None:
    sites = sim.extra["sites"]
    healthy_router, healthy_codec, healthy_camera = sites[0]
    wan_down_router = sites[9][0]
    dead_camera = sites[2][2]  # snmp_dead
    off_router = sites[12][0]  # powered_off
    targets = [
        target(sim, healthy_router),
        target(sim, healthy_codec),
        target(sim, healthy_camera),
        target(sim, wan_down_router),
        target(sim, dead_camera),
        target(sim, off_router),
    ]
    wrong = target(sim, sites[1][0], auth_key="definitely-the-wrong-key")
    results = sweep([*targets, wrong], [SYS_NAME, IF_OPER_WAN, ABSENT])

    for name in (healthy_router, healthy_codec, healthy_camera):
        assert results[name].ok, results[name]
        assert str(results[name].values[SYS_NAME]) == name
        assert results[name].missing == [ABSENT]
    assert int(results[healthy_router].values[IF_OPER_WAN]) == 1
    assert int(results[wan_down_router].values[IF_OPER_WAN]) == 2
    assert results[dead_camera].error is TransportErrorKind.TIMEOUT
    assert results[off_router].error is TransportErrorKind.TIMEOUT
    assert results[wrong.name].error is TransportErrorKind.AUTH_FAILED
    assert "community" not in repr(wrong.credentials)
    assert "definitely" not in repr(wrong.credentials)


def test_library_indications_map_to_fleet_kinds() -> None:
    assert classify_indication(errind.RequestTimedOut()) is TransportErrorKind.TIMEOUT
    assert classify_indication(errind.WrongDigest()) is TransportErrorKind.AUTH_FAILED
    assert classify_indication(errind.UnknownUserName()) is TransportErrorKind.AUTH_FAILED
    assert classify_indication(errind.NotInTimeWindow()) is TransportErrorKind.PROTOCOL
