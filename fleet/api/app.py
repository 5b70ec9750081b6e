"""The REST API: ``create_app`` builds it; ``fleet serve`` runs it under uvicorn."""

from __future__ import annotations

import logging
import os
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from fleet import __version__
from fleet.api.deps import Service, Viewer
from fleet.api.routes import admin, inventory, provision, sessions, sweeps
from fleet.api.schemas import ErrorBody, Health
from fleet.errors import FleetError
from fleet.service.jobs import BackgroundRuns
from fleet.service.metrics import Metrics
from fleet.service.scheduler import SchedulerService
from fleet.settings import Settings, get_settings
from fleet.store.db import Store

log = logging.getLogger(__name__)
API = "/api/v1/"
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
STATUS_OF_EXIT = {2: 422, 3: 503, 4: 404, 5: 409, 6: 503}  # fleet's exit codes as HTTP statuses
DOCS_ASSETS = "/docs/assets"  # Swagger UI's and ReDoc's files, from the fastapi-offline package
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ErrorBody,
        "description": "The request cannot be read (malformed JSON, a NUL in the URL).",
    },
    401: {"model": ErrorBody, "description": "No token, or a token that is unknown, revoked or expired."},
    403: {"model": ErrorBody, "description": "The token's role may not do this."},
    422: {"model": ErrorBody, "description": "The request is not valid; each problem is listed."},
    503: {"model": ErrorBody, "description": "The database cannot be reached."},
}


def _error(
    request: Request, status: int, message: str, problems: list[dict[str, Any]] | None = None
) -> JSONResponse:
    request_id = getattr(request.state, "request_id", "")
    body = {
        "error": {"status": status, "message": message, "request_id": request_id, "problems": problems or []}
    }
    headers = {"X-Request-ID": request_id} if request_id else {}
    return JSONResponse(jsonable_encoder(body), status_code=status, headers=headers)


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(FleetError)
    async def fleet_error(request: Request, exc: FleetError) -> JSONResponse:
        return _error(request, STATUS_OF_EXIT.get(exc.exit_code, 400), str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        response = _error(request, exc.status_code, str(exc.detail))
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"where": ".".join(str(p) for p in err.get("loc", ())), "message": err.get("msg", "")}
            for err in exc.errors()
        ]
        summary = "; ".join(f"{p['where']}: {p['message']}" for p in problems[:5])
        return _error(request, 422, f"the request is not valid: {summary}", problems)

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        log.exception("request %s %s failed", request.method, request.url.path)
        return _error(request, 500, "fleet failed to answer this request; the service log has the details")


def _install_docs(app: FastAPI) -> None:
    """/docs (Swagger UI) and /redoc with their scripts, styles and icon served by fleet itself.

    FastAPI's own pages load them from a public CDN, which a NOC network without Internet access
    cannot reach; these pages name no address but this server's.
    """
    app.mount(DOCS_ASSETS, StaticFiles(packages=[("fastapi_offline", "static")]), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} API",
            swagger_js_url=f"{root}{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png",
            swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from swagger.io
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} API",
            redoc_js_url=f"{root}{DOCS_ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png",
            with_google_fonts=False,
        )


def create_app(
    settings: Settings | None = None, *, scheduler: bool | None = None, store: Store | None = None
) -> FastAPI:
    """The API application; ``scheduler``: also compete for the scheduler's lease in this process."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        opened = store or Store.open(settings)
        embedded = SchedulerService(opened, settings) if scheduler else None
        app.state.service = Service(
            settings, opened, BackgroundRuns(opened, settings), embedded, {}, threading.Lock()
        )
        app.state.metrics = Metrics(opened)
        if embedded is not None:
            embedded.start()
        try:
            yield
        finally:
            if embedded is not None:
                embedded.stop()
            if store is None:
                opened.close()

    app = FastAPI(
        title="fleet",
        version=__version__,
        description="Conference endpoint fleet manager: inventory, health, readiness, provisioning.",
        lifespan=lifespan,
        responses=ERRORS,
        docs_url=None,  # served by _install_docs, without a CDN
        redoc_url=None,
    )
    _install_errors(app)
    _install_docs(app)

    @app.middleware("http")
    async def request_id(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        given = request.headers.get("x-request-id", "")
        request.state.request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        started = time.perf_counter()
        raw = request.scope.get("query_string", b"") + request.scope.get("raw_path", b"")
        if b"%00" in raw or b"\x00" in raw:  # no database takes a NUL inside a string
            response: Response = _error(request, 400, "the request's URL holds a NUL character")
        else:
            response = await call_next(request)
        response.headers["X-Request-ID"] = request.state.request_id
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        if request.url.path.startswith(API) and not path.startswith(API):
            path = API.rstrip("/") + path  # routes of an included router keep their own path
        metrics = getattr(request.app.state, "metrics", None)
        if metrics is not None:
            metrics.requests.labels(request.method, path, str(response.status_code)).inc()
            metrics.latency.labels(request.method, path).observe(time.perf_counter() - started)
        return response

    @app.get("/healthz", response_model=Health, tags=["service"])
    def healthz() -> Health:
        """Liveness: the process answers (no token needed)."""
        return Health(status="ok", version=__version__)

    @app.get(
        "/metrics",
        tags=["service"],
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format."}},
    )
    def metrics(request: Request, _who: Viewer) -> Response:
        """Prometheus metrics (a viewer token: Prometheus sends it with 'authorization')."""
        registry = request.app.state.metrics.registry
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    for router in (inventory.router, sweeps.router, sessions.router, provision.router, admin.router):
        app.include_router(router, prefix=API.rstrip("/"))
    return app


def app_from_environment() -> FastAPI:
    """For ``uvicorn --factory`` and several workers: settings from FLEET_* and fleet.toml."""
    return create_app(scheduler=os.environ.get("FLEET_SERVE_SCHEDULER", "1") == "1")
