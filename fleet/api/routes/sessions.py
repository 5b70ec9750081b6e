"""Sessions and readiness runs: create, move and cancel sessions; run readiness; verdicts and reports."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import FileResponse

from fleet.api.deps import DB, Operator, Pages, Svc, Viewer
from fleet.api.routes.inventory import NOT_FOUND
from fleet.api.schemas import (
    ErrorBody,
    Page,
    ReadinessRunOut,
    ReadinessStart,
    SessionCancel,
    SessionCreate,
    SessionDetailOut,
    SessionOut,
    SessionPatch,
    VerdictOut,
)
from fleet.domain.provision import AuditAction
from fleet.domain.readiness import Verdict
from fleet.engine.sessions import build_session, move_session, options_definition
from fleet.errors import NotFoundError
from fleet.service.options import readiness_options
from fleet.settings import Settings
from fleet.store import readiness as repo
from fleet.store.models import MeetingSession, ReadinessRun
from fleet.store.types import show_time, utcnow

CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "The session is cancelled, or a run of it is still going."}
}
router = APIRouter(tags=["sessions"], responses=NOT_FOUND)
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
REQUEST = FilePath("request")


class ReportFormat(StrEnum):
    HTML = "html"
    CSV = "csv"
    JSON = "json"


MEDIA = {ReportFormat.HTML: "text/html", ReportFormat.CSV: "text/csv", ReportFormat.JSON: "application/json"}


def _detail(db: DB, meeting: MeetingSession, settings: Settings) -> SessionDetailOut:
    return SessionDetailOut(
        **SessionOut.model_validate(meeting, from_attributes=True).model_dump(),
        sites=len(repo.participant_codes(db, meeting)),
        readiness_at=[meeting.starts_at - timedelta(minutes=m) for m in settings.readiness_offsets],
    )


def _sync(svc: Svc) -> None:
    if svc.scheduler is not None:
        svc.scheduler.sync_soon()


@router.post("/sessions", response_model=SessionDetailOut, status_code=201)
def create_session(body: SessionCreate, db: DB, svc: Svc, who: Operator) -> Any:
    """Create a session (operator); the scheduler will run readiness at the configured offsets."""
    fields = options_definition(
        title=body.title,
        start=body.start,
        timezone=body.timezone,
        dial_string=body.dial_string,
        bridge=body.bridge,
        check_set=body.check_set,
        participants=body.participants.definition(),
    )
    meeting = repo.add_session(db, build_session(db, fields, REQUEST))
    starts = show_time(meeting.starts_at, svc.settings.timezone)
    who.audit(db, AuditAction.SESSION, f"session {meeting.id} created: {meeting.title}, starts {starts}")
    db.commit()
    _sync(svc)
    return _detail(db, meeting, svc.settings)


@router.get("/sessions", response_model=Page[SessionOut])
def sessions(
    db: DB,
    _who: Viewer,
    pages: Pages,
    include_past: Annotated[bool, Query(description="Also cancelled and past sessions.")] = False,
) -> Any:
    """Sessions from an hour ago on (or all), soonest first."""
    since = None if include_past else utcnow() - timedelta(hours=1)
    rows = repo.list_sessions(
        db, include_cancelled=include_past, since=since, limit=pages.limit + 1, offset=pages.offset
    )
    return pages.page([SessionOut.model_validate(m, from_attributes=True) for m in rows])


@router.get("/sessions/{session_id}", response_model=SessionDetailOut)
def session(session_id: Id, db: DB, svc: Svc, _who: Viewer) -> Any:
    return _detail(db, repo.get_session(db, session_id), svc.settings)


@router.patch("/sessions/{session_id}", response_model=SessionDetailOut, responses=CONFLICT)
def move(session_id: Id, body: SessionPatch, db: DB, svc: Svc, who: Operator) -> Any:
    """Move a session to a new start (operator); its readiness runs move with it."""
    before = repo.get_session(db, session_id).starts_at
    meeting = move_session(db, session_id, body.start, source=REQUEST)
    zone = svc.settings.timezone
    moved = f"from {show_time(before, zone)} to {show_time(meeting.starts_at, zone)}"
    who.audit(db, AuditAction.SESSION, f"session {session_id} moved {moved}")
    db.commit()
    _sync(svc)
    return _detail(db, meeting, svc.settings)


@router.post("/sessions/{session_id}/cancel", response_model=SessionDetailOut, responses=CONFLICT)
def cancel(session_id: Id, body: SessionCancel, db: DB, svc: Svc, who: Operator) -> Any:
    """Cancel a session (operator): no more readiness runs for it."""
    meeting = repo.cancel_session(db, session_id, body.reason)
    who.audit(db, AuditAction.SESSION, f"session {session_id} cancelled: {body.reason}")
    db.commit()
    _sync(svc)
    return _detail(db, meeting, svc.settings)


def _run(run: ReadinessRun) -> ReadinessRunOut:
    reports = {}
    if run.report_dir:
        reports = {f.value: f"/api/v1/readiness-runs/{run.id}/report.{f.value}" for f in ReportFormat}
    return ReadinessRunOut(**run.model_dump(exclude={"report_dir"}), reports=reports)


@router.post(
    "/sessions/{session_id}/readiness", response_model=ReadinessRunOut, status_code=202, responses=CONFLICT
)
def start_readiness(session_id: Id, body: ReadinessStart, db: DB, svc: Svc, who: Operator) -> Any:
    """Run readiness for the session now (operator). Answers once the run is recorded; it runs on."""
    options = readiness_options(svc.settings, deadline=body.deadline, fresh=body.fresh)
    run_id = svc.runs.start_readiness(session_id, options)
    who.audit(
        db, AuditAction.READINESS, f"readiness run {run_id} of session {session_id} started", run_id=run_id
    )
    db.commit()
    return _run(repo.get_run(db, run_id))


@router.get("/readiness-runs", response_model=Page[ReadinessRunOut])
def runs(
    db: DB,
    _who: Viewer,
    pages: Pages,
    session_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Any:
    """Readiness runs, newest first (of one session, or all)."""
    rows = repo.list_runs(db, session_id, limit=pages.limit + 1, offset=pages.offset)
    return pages.page([_run(r) for r in rows])


@router.get("/readiness-runs/{run_id}", response_model=ReadinessRunOut)
def run(run_id: Id, db: DB, _who: Viewer) -> Any:
    return _run(repo.get_run(db, run_id))


@router.get("/readiness-runs/{run_id}/verdicts", response_model=Page[VerdictOut])
def verdicts(
    run_id: Id,
    db: DB,
    _who: Viewer,
    pages: Pages,
    verdict: Annotated[list[Verdict] | None, Query()] = None,
) -> Any:
    """Each site's verdict, why, and who must act; worst first."""
    repo.get_run(db, run_id)
    wanted = [v.value for v in verdict or []]
    rows = repo.verdict_page(db, run_id, wanted, limit=pages.limit + 1, offset=pages.offset)
    return pages.page(
        [
            VerdictOut(
                site=code,
                site_name=name,
                verdict=row.verdict,
                reason=row.reason,
                parties=row.parties,
                results=row.results,
                source=row.source,
                rechecked=row.rechecked,
                checked_at=row.checked_at,
            )
            for code, name, row in rows
        ]
    )


@router.get(
    "/readiness-runs/{run_id}/report.{fmt}",
    response_class=FileResponse,
    responses={
        200: {
            "description": "The report as written for the run.",
            "content": {"text/html": {}, "text/csv": {}, "application/json": {"schema": {"type": "object"}}},
        }
    },
)
def report(run_id: Id, fmt: ReportFormat, db: DB, _who: Viewer) -> FileResponse:
    """The run's report: HTML for people, CSV for spreadsheets, JSON for machines."""
    found = repo.get_run(db, run_id)
    if not found.report_dir:
        raise NotFoundError(f"readiness run {run_id} has no report ({found.status.value})")
    path = FilePath(found.report_dir) / f"run-{run_id}.{fmt.value}"
    if not path.is_file():
        raise NotFoundError(f"the report file of readiness run {run_id} is gone from {found.report_dir}")
    return FileResponse(path, media_type=MEDIA[fmt], filename=path.name, content_disposition_type="inline")
