"""Facts a driver reads off a device, whatever the platform: each is None when the device did not say."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from fleet.drivers.parsers.xapi import CodecStatus


@dataclass(slots=True)
class Facts:
    sys_name: str | None = None
    sys_descr: str | None = None
    firmware: str | None = None
    uptime_s: float | None = None
    cpu_pct: int | None = None
    # The router's WAN interface
    wan_name: str | None = None
    wan_up: bool | None = None
    wan_in_errors: int | None = None
    wan_in_packets: int | None = None
    # The router's probe toward the bridge (IP SLA / NQA udp-jitter)
    sla_ok: bool | None = None
    rtt_ms: float | None = None
    loss_pct: float | None = None
    jitter_ms: float | None = None
    # Cameras
    video_signal_ok: bool | None = None
    hardware_alarms: list[str] = field(default_factory=list)
    # Codecs, over SSH
    codec: CodecStatus | None = None

    def to_json(self) -> dict[str, Any]:
        """Only what is known, for the store and --json output."""
        out = {k: v for k, v in asdict(self).items() if v not in (None, [])}
        if self.codec is not None:
            out["codec"] = {k: v for k, v in asdict(self.codec).items() if v not in (None, [])}
        return out
