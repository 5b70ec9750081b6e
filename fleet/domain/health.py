"""What a health sweep concludes about a device: a status, the findings behind it, and who must act."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from fleet.domain.enums import Carrier


class DeviceStatus(StrEnum):
    UP = "up"
    DEGRADED = "degraded"  # answers, but something the session needs is wrong
    DOWN = "down"  # no answer at all
    UNREACHABLE = "unreachable"  # silent because the site's router is down: not a fault of its own
    AUTH_FAILED = "auth_failed"  # answers, but refuses fleet's credentials
    ERROR = "error"  # fleet could not judge it (bad answer, missing secret, unknown host key, a bug)


# Worst first: a device's status is the worst of its findings'.
STATUS_ORDER = (
    DeviceStatus.DOWN,
    DeviceStatus.UNREACHABLE,
    DeviceStatus.AUTH_FAILED,
    DeviceStatus.ERROR,
    DeviceStatus.DEGRADED,
    DeviceStatus.UP,
)
_RANK = {status: rank for rank, status in enumerate(STATUS_ORDER)}


def worst(statuses: list[DeviceStatus]) -> DeviceStatus:
    return min(statuses, key=_RANK.__getitem__, default=DeviceStatus.UP)


class Party(StrEnum):
    """Who must act on a finding."""

    VNPT = "VNPT"
    VIETTEL = "Viettel"
    SITE = "site staff"
    NOC = "NOC"

    @classmethod
    def carrier(cls, carrier: Carrier) -> Party:
        return cls.VNPT if carrier is Carrier.VNPT else cls.VIETTEL


class Owner(StrEnum):
    """Who a finding belongs to, before the site is known: its carrier is resolved per site."""

    CARRIER = "carrier"
    SITE = "site"
    NOC = "noc"


class Finding(StrEnum):
    """Why a device is not simply up. Each has a fixed status and owner (FINDINGS)."""

    NO_ANSWER = "no_answer"
    BEHIND_ROUTER = "behind_router"
    SNMP_SILENT = "snmp_silent"
    SNMP_AUTH = "snmp_auth"
    SNMP_MALFORMED = "snmp_malformed"
    SNMP_ERROR = "snmp_error"
    SNMP_LOSS = "snmp_loss"
    SLOW = "slow"
    SSH_AUTH = "ssh_auth"
    SSH_NO_BANNER = "ssh_no_banner"
    SSH_REFUSED = "ssh_refused"
    SSH_TIMEOUT = "ssh_timeout"
    SSH_RESET = "ssh_reset"
    SSH_HOST_KEY_UNKNOWN = "ssh_host_key_unknown"
    SSH_HOST_KEY_CHANGED = "ssh_host_key_changed"
    SSH_ERROR = "ssh_error"
    SECRET_MISSING = "secret_missing"  # noqa: S105 - a finding, not a secret
    WAN_DOWN = "wan_down"
    WAN_ERRORS = "wan_errors"
    POOR_LINK = "poor_link"
    SIP_UNREGISTERED = "sip_unregistered"
    CAMERA_DISCONNECTED = "camera_disconnected"
    MICROPHONE_MISSING = "microphone_missing"
    DISPLAY_DISCONNECTED = "display_disconnected"
    IN_CALL = "in_call"
    CLOCK_UNSYNCED = "clock_unsynced"
    SOFTWARE_MISMATCH = "software_mismatch"
    VIDEO_SIGNAL_LOST = "video_signal_lost"
    HARDWARE = "hardware"
    INTERNAL = "internal"
    NOT_CHECKED = "not_checked"


@dataclass(frozen=True, slots=True)
class FindingInfo:
    status: DeviceStatus
    owner: Owner
    remedy: str


S, W = DeviceStatus, Owner
FINDINGS: dict[Finding, FindingInfo] = {
    Finding.NO_ANSWER: FindingInfo(S.DOWN, W.CARRIER, "check power and the management link"),
    Finding.BEHIND_ROUTER: FindingInfo(S.UNREACHABLE, W.CARRIER, "repair the site's router or WAN first"),
    Finding.SNMP_SILENT: FindingInfo(S.DEGRADED, W.CARRIER, "restart the SNMP agent; the device answers SSH"),
    Finding.SNMP_AUTH: FindingInfo(S.AUTH_FAILED, W.NOC, "check the SNMPv3 user and keys of the profile"),
    Finding.SNMP_MALFORMED: FindingInfo(S.ERROR, W.CARRIER, "the agent sends unreadable replies"),
    Finding.SNMP_ERROR: FindingInfo(S.ERROR, W.CARRIER, "the agent refused the request"),
    Finding.SNMP_LOSS: FindingInfo(S.DEGRADED, W.CARRIER, "requests are lost on the management path"),
    Finding.SLOW: FindingInfo(S.DEGRADED, W.CARRIER, "the device answers late; check its load and link"),
    Finding.SSH_AUTH: FindingInfo(S.AUTH_FAILED, W.NOC, "check the SSH user and password of the profile"),
    Finding.SSH_NO_BANNER: FindingInfo(
        S.DEGRADED,
        W.CARRIER,
        "the SSH server hangs, or the link is too slow to log in: check the line, then restart it",
    ),
    Finding.SSH_REFUSED: FindingInfo(S.DEGRADED, W.CARRIER, "enable SSH management on the device"),
    Finding.SSH_TIMEOUT: FindingInfo(S.DEGRADED, W.CARRIER, "the SSH session did not finish in time"),
    Finding.SSH_RESET: FindingInfo(S.DEGRADED, W.CARRIER, "the device dropped the SSH session"),
    Finding.SSH_HOST_KEY_UNKNOWN: FindingInfo(S.ERROR, W.NOC, "enrol the host key: fleet ssh trust"),
    Finding.SSH_HOST_KEY_CHANGED: FindingInfo(
        S.ERROR, W.NOC, "verify the device, then re-enrol: fleet ssh trust --replace"
    ),
    Finding.SSH_ERROR: FindingInfo(S.ERROR, W.NOC, "the SSH answer could not be read"),
    Finding.SECRET_MISSING: FindingInfo(S.ERROR, W.NOC, "set the credential reference of the profile"),
    Finding.WAN_DOWN: FindingInfo(S.DOWN, W.CARRIER, "restore the WAN link"),
    Finding.WAN_ERRORS: FindingInfo(S.DEGRADED, W.CARRIER, "check the WAN line: input errors"),
    Finding.POOR_LINK: FindingInfo(S.DEGRADED, W.CARRIER, "the path to the bridge is poor; check the link"),
    Finding.SIP_UNREGISTERED: FindingInfo(S.DEGRADED, W.CARRIER, "restore SIP registration"),
    Finding.CAMERA_DISCONNECTED: FindingInfo(S.DEGRADED, W.SITE, "reconnect the camera to the codec"),
    Finding.MICROPHONE_MISSING: FindingInfo(S.DEGRADED, W.SITE, "connect the microphone"),
    Finding.DISPLAY_DISCONNECTED: FindingInfo(S.DEGRADED, W.SITE, "connect and switch on the display"),
    Finding.IN_CALL: FindingInfo(S.DEGRADED, W.SITE, "end the call on the codec"),
    Finding.CLOCK_UNSYNCED: FindingInfo(S.DEGRADED, W.CARRIER, "restore NTP synchronisation"),
    Finding.SOFTWARE_MISMATCH: FindingInfo(S.DEGRADED, W.CARRIER, "install the expected software"),
    Finding.VIDEO_SIGNAL_LOST: FindingInfo(S.DEGRADED, W.SITE, "the camera sends no picture"),
    Finding.HARDWARE: FindingInfo(S.DEGRADED, W.CARRIER, "a power, fan or temperature sensor is in alarm"),
    Finding.INTERNAL: FindingInfo(S.ERROR, W.NOC, "a fault in fleet itself: report it"),
    Finding.NOT_CHECKED: FindingInfo(S.ERROR, W.NOC, "the run's deadline came first: run it again"),
}
del S, W


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding on one device, with its detail (what was seen) and the party that must act."""

    finding: Finding
    detail: str
    party: Party
    cause: str | None = None  # the device whose fault this is, when it is not this one

    @property
    def status(self) -> DeviceStatus:
        return FINDINGS[self.finding].status

    @property
    def remedy(self) -> str:
        return FINDINGS[self.finding].remedy


def party_for(finding: Finding, carrier: Carrier) -> Party:
    owner = FINDINGS[finding].owner
    if owner is Owner.CARRIER:
        return Party.carrier(carrier)
    return Party.SITE if owner is Owner.SITE else Party.NOC


@dataclass(slots=True)
class DeviceHealth:
    """The verdict on one device after one sweep."""

    device: str
    site: str
    status: DeviceStatus
    problems: list[Problem] = field(default_factory=list)
    facts: dict[str, object] = field(default_factory=dict)

    @property
    def reason(self) -> str:
        return "; ".join(p.detail for p in self.problems)
