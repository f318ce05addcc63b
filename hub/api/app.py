"""The read API (FastAPI): projections to downstream apps, under the CONTRACT's RBAC."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Sequence
from contextlib import asynccontextmanager
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.types import ASGIApp, Receive, Scope, Send

from hub.api.dashboard import mount_dashboard
from hub.api.docs import mount_docs
from hub.api.fast import FastReads
from hub.api.routes import admin_groups, skill_gaps
from hub.bootstrap import api_engines
from hub.projections import REGISTERED, Registration, all_projections, read_apis
from toolkit.settings import Settings
from toolkit.tracing import exporting as tracing_exported
from toolkit.web.access import NO_MENTORS
from toolkit.web.freshness import PositionWatch, document_freshness

log = logging.getLogger("hub.api")


class RefuseNul:
    """No id holds U+0000 (PostgreSQL text cannot), and asyncpg fails on one: answer 400
    naming the fields instead."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (b"%00" in scope["query_string"]
                                        or b"\x00" in scope["query_string"]
                                        or "\x00" in scope["path"]):
            fields = [name for name, value in parse_qsl(
                scope["query_string"].decode("latin-1"), keep_blank_values=True)
                if "\x00" in name or "\x00" in value]
            if "\x00" in scope["path"]:
                fields.append("path")
            if fields:
                problems = [{"field": f.replace("\x00", "\\u0000"),
                             "error": "NUL character (U+0000) is not allowed"} for f in fields]
                response = JSONResponse({"detail": "invalid request", "problems": problems}, 400)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def app_from_environment() -> FastAPI:
    """The app of `hub api`: settings from the environment, logs configured (a worker process
    of `hub api --workers N` starts here)."""
    from toolkit.logs import configure as configure_logs
    from toolkit.settings import get_settings
    from toolkit.tracing import configure_tracing

    settings = get_settings()
    configure_logs(settings.log_level)
    configure_tracing("profiler-hub-api")  # once per process: a no-op where `hub` did it
    return create_app(settings)


def native_telemetry() -> dict:
    """FastAPI (≥ 0.165) starts a server span per request once a tracer provider is set
    (`toolkit.tracing`). With exporting off none is ever recorded, and they cost ~25% of a
    read's CPU (0.29 → 0.38 ms per difficulty read under wrk): request spans only when spans
    are exported."""
    if "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}
    return {"telemetry": {"tracing": tracing_exported()}}


def create_app(settings: Settings, registered: Sequence[Registration] = REGISTERED) -> FastAPI:
    """The API over the `registered` projections: each one's routes, fast reads and freshness,
    then the reads that span projections (hub/api/routes/)."""
    apis = read_apis(registered)
    providers = [api.mentors for api in apis if api.mentors is not None]
    if len(providers) > 1:
        raise ValueError("more than one registered projection says who mentors whom")
    mentors = providers[0] if providers else NO_MENTORS

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.engine, app.state.read_engine = api_engines(settings)  # the pools: there
        replica = app.state.read_engine is not app.state.engine
        # NOTIFY reaches the primary's listeners only; on a standby one poller per process.
        app.state.positions = PositionWatch(
            app.state.read_engine, app.state.position_tables, listen=not replica,
            poll_interval_s=settings.api_positions_poll_ms / 1000)
        await app.state.positions.start()
        try:
            yield
        finally:
            await app.state.positions.stop()
            if replica:
                await app.state.read_engine.dispose()
            await app.state.engine.dispose()

    app = FastAPI(
        title="Profiler Integration Hub read API",
        version="1",
        lifespan=lifespan,
        description="Projections of profiler events. Bearer JWT (HS256) on every /api route.",
        # FastAPI's pages load their scripts from a CDN; mount_docs serves Swagger UI locally.
        docs_url=None,
        redoc_url=None,
        **native_telemetry(),
    )
    app.state.settings = settings
    app.state.mentors = mentors
    app.state.position_tables = {
        name: p.positions for name, p in all_projections(None, registered).items()}
    for api in apis:
        for router in api.routers:
            app.include_router(router)
    # Reads over several projections (the dashboard's): they belong to no one folder.
    app.include_router(admin_groups.router)
    app.include_router(skill_gaps.router)
    mount_dashboard(app)
    mount_docs(app)

    # Pure ASGI, not @app.middleware("http"): Starlette's BaseHTTPMiddleware runs the rest of
    # the app in a task behind memory streams and cost ~15% of a request's CPU (py-spy).
    # The allowed reads without FastAPI's and SQLAlchemy's per-request cost (hub/api/fast.py,
    # each projection's FastRead); everything else reaches the routes. Inside RefuseNul: NUL
    # first.
    app.add_middleware(FastReads, reads=[r for api in apis for r in api.fast_reads],
                       mentors=mentors)
    app.add_middleware(RefuseNul)

    document_freshness(app)

    @app.exception_handler(RequestValidationError)
    async def precise_400(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": ".".join(str(p) for p in e["loc"][1:]) or str(e["loc"][0]), "error": e["msg"]}
            for e in exc.errors()
        ]
        return JSONResponse({"detail": "invalid request", "problems": problems}, status_code=400)

    # Documented as text/plain (Prometheus exposition), not FastAPI's default JSON.
    @app.get("/metrics", tags=["health"], summary="Prometheus metrics of this process",
             response_class=PlainTextResponse)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz", tags=["health"], summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], summary="The projections database answers")
    async def readyz(request: Request) -> JSONResponse:
        try:
            async with request.app.state.engine.connect() as conn:
                await conn.execute(text("select 1"))
        except Exception as exc:  # any failure means not ready
            # The exception names database, role, host and port: for the log, not the caller.
            # uvloop's connection errors do not name the address: say which database it was.
            log.warning("readyz: database unavailable", extra={
                "error": repr(exc),
                "database": request.app.state.engine.url.render_as_string(hide_password=True)})
            return JSONResponse({"status": "unavailable", "database": "unavailable"}, 503)
        return JSONResponse({"status": "ready"})

    return app
