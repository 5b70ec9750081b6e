"""The readiness report as one JSON document: what the HTML page, the CSV and API clients read."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from fleet.checks.checkset import CheckSet
from fleet.domain.health import Party
from fleet.domain.readiness import Outcome, SiteVerdict, Verdict
from fleet.inventory.schema import SiteRecord
from fleet.store.models import MeetingSession, ReadinessRun, SiteVerdictRow
from fleet.store.readiness import describe_participants, describe_start
from fleet.store.types import local_zone, show_time

PARTY_ORDER = (Party.VNPT, Party.VIETTEL, Party.SITE, Party.NOC)
SLUG = {Party.VNPT: "vnpt", Party.VIETTEL: "viettel", Party.SITE: "site-staff", Party.NOC: "noc"}


def build_document(
    run: ReadinessRun,
    meeting: MeetingSession,
    check_set: CheckSet,
    verdicts: Sequence[SiteVerdict],
    sites: Mapping[str, SiteRecord],
    province_names: Mapping[str, str],
    previous: ReadinessRun | None,
    before: Mapping[str, SiteVerdictRow],
) -> dict[str, Any]:
    zone = local_zone()  # every time in the report: the NOC's zone, with its offset

    def local(moment: datetime | None) -> str:
        return show_time(moment, zone, seconds=True) if moment else ""

    site_docs = [_site(v, sites[v.site], province_names, local) for v in verdicts]
    counts = Counter(v.verdict for v in verdicts)
    by_province: dict[str, Counter[Verdict]] = {}
    for v in verdicts:
        by_province.setdefault(sites[v.site].province_code, Counter())[v.verdict] += 1
    parties: dict[Party, list[str]] = {}
    for v in verdicts:
        for party in dict.fromkeys(r.party for r in v.problems if r.party is not None):
            parties.setdefault(party, []).append(v.site)
    return {
        "report": "readiness",
        "version": 1,
        "run": {
            "id": run.id,
            "status": run.status.value,
            "session": {
                "id": meeting.id,
                "title": meeting.title,
                "starts_at": describe_start(meeting, zone),
                "dial_string": meeting.dial_string,
                "bridge": meeting.bridge,
                "participants": describe_participants(meeting.participants),
            },
            "check_set": {
                "name": check_set.name,
                "checks": len(check_set.checks),
                "digest": check_set.digest,
            },
            "started_at": local(run.started_at),
            "finished_at": local(run.finished_at),
            "duration_s": round(run.duration_s or 0.0, 1),
            "polled_devices": run.polled,
            "reused_devices": run.reused,
            "rechecked_sites": run.rechecked,
            "deadline_s": run.deadline_s,
            "deadline_hit": run.deadline_hit,
            "previous_run": previous.id if previous is not None else None,
        },
        "counts": {
            "sites": len(verdicts),
            "ready": counts[Verdict.READY],
            "degraded": counts[Verdict.DEGRADED],
            "not_ready": counts[Verdict.NOT_READY],
            "unknown": counts[Verdict.UNKNOWN],
        },
        "provinces": [
            {
                "code": code,
                "name": province_names.get(code, code),
                "sites": sum(c.values()),
                "ready": c[Verdict.READY],
                "degraded": c[Verdict.DEGRADED],
                "not_ready": c[Verdict.NOT_READY],
                "unknown": c[Verdict.UNKNOWN],
            }
            for code, c in sorted(by_province.items())
        ],
        "sites": site_docs,
        "parties": [
            {"party": p.value, "slug": SLUG[p], "sites": parties[p]} for p in PARTY_ORDER if p in parties
        ],
        "changes": _changes(verdicts, sites, province_names, previous, before),
    }


def _site(v: SiteVerdict, site: SiteRecord, province_names: Mapping[str, str], local: Any) -> dict[str, Any]:
    return {
        "site": site.code,
        "name": site.name,
        "province": site.province_code,
        "province_name": province_names.get(site.province_code, site.province_code),
        "carrier": site.carrier.value,
        "contact_name": site.contact_name,
        "contact_phone": site.contact_phone,
        "address": site.address,
        "verdict": v.verdict.value,
        "verdict_label": v.verdict.label,
        "reason": v.reason,
        "parties": [p.value for p in v.parties],
        "checked_at": local(v.checked_at),
        "source": v.source,
        "rechecked": v.rechecked,
        "problems": [
            {
                "check": r.check,
                "title": r.title,
                "device": r.device,
                "role": r.role.value,
                "outcome": r.outcome.value,
                "severity": r.severity.value,
                "reason": r.reason,
                "party": r.party.value if r.party else None,
                "remedy": r.remedy,
                "first_seen": local(r.first_seen),
            }
            for r in v.problems
        ],
        "skipped": [
            {"check": r.check, "device": r.device, "cause": r.cause}
            for r in v.results
            if r.outcome is Outcome.SKIPPED
        ],
    }


def _changes(
    verdicts: Sequence[SiteVerdict],
    sites: Mapping[str, SiteRecord],
    province_names: Mapping[str, str],
    previous: ReadinessRun | None,
    before: Mapping[str, SiteVerdictRow],
) -> dict[str, Any]:
    out: dict[str, Any] = {"previous_run": previous.id if previous else None}
    out |= {"newly_broken": [], "repaired": [], "other": []}
    if previous is None:
        return out
    for v in verdicts:
        old = before.get(v.site)
        if old is None or old.verdict is v.verdict:
            continue
        site = sites[v.site]
        entry = {
            "site": v.site,
            "name": site.name,
            "province_name": province_names.get(site.province_code, site.province_code),
            "verdict_label": v.verdict.label,
            "previous_label": old.verdict.label,
            "reason": v.reason if v.verdict is not Verdict.READY else old.reason,
        }
        if old.verdict is Verdict.READY:
            out["newly_broken"].append(entry)
        elif v.verdict is Verdict.READY:
            out["repaired"].append(entry)
        else:
            out["other"].append(entry)
    return out
