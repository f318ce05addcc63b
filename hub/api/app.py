"""The read API (FastAPI): projections to downstream apps, under the CONTRACT's RBAC."""

from __future__ import annotations

import logging
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
from hub.api.freshness import PositionWatch
from hub.api.routes import (
    admin_groups,
    analytics,
    marketplace,
    mentorship,
    missions,
    portfolio,
    recipes,
    skill_gaps,
)
from hub.bootstrap import api_engines
from toolkit.settings import Settings

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


FRESHNESS_HEADERS = {
    "Hub-Projection": "The projection that answered (missions, recipes, portfolio, mentorship, "
                      "analytics).",
    "Hub-Newest-Event-At": "`occurred_at` of the newest event that projection has applied "
                           "(`none` before any).",
    "Hub-Lag-Seconds": "Seconds since that event occurred: how stale the answer can be while "
                       "events keep arriving (absent before any event).",
    "Hub-Position-Included": "With `Hub-Min-Position` only: `true` when the projection has "
                             "applied every token given, `false` when `wait_ms` ran out first "
                             "(the answer is what it had).",
}


def document_freshness(app: FastAPI) -> None:
    """Add the freshness headers to the documented 200 of every projection-backed endpoint
    (those taking `Hub-Min-Position`)."""
    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = generate()
            for operations in schema["paths"].values():
                for operation in operations.values():
                    names = {p["name"] for p in operation.get("parameters", [])}
                    if "Hub-Min-Position" in names and "200" in operation["responses"]:
                        operation["responses"]["200"]["headers"] = {
                            name: {"description": text, "schema": {"type": "string"}}
                            for name, text in FRESHNESS_HEADERS.items()}
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def app_from_environment() -> FastAPI:
    """The app of `hub api`: settings from the environment, logs configured (a worker process
    of `hub api --workers N` starts here)."""
    from toolkit.logs import configure as configure_logs
    from toolkit.settings import get_settings

    settings = get_settings()
    configure_logs(settings.log_level)
    return create_app(settings)


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.engine, app.state.read_engine = api_engines(settings)  # the pools: there
        replica = app.state.read_engine is not app.state.engine
        # NOTIFY reaches the primary's listeners only; on a standby one poller per process.
        app.state.positions = PositionWatch(
            app.state.read_engine, listen=not replica,
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
    )
    app.state.settings = settings
    app.include_router(missions.router)
    app.include_router(portfolio.router)
    app.include_router(analytics.router)
    app.include_router(recipes.router)
    app.include_router(marketplace.router)
    app.include_router(mentorship.router)
    app.include_router(admin_groups.router)
    app.include_router(skill_gaps.router)
    mount_dashboard(app)
    mount_docs(app)

    # Pure ASGI, not @app.middleware("http"): Starlette's BaseHTTPMiddleware runs the rest of
    # the app in a task behind memory streams and cost ~15% of a request's CPU (py-spy).
    # The allowed single-learner reads without FastAPI's and SQLAlchemy's per-request cost
    # (hub/api/fast.py); everything else reaches the routes. Inside RefuseNul: NUL first.
    app.add_middleware(FastReads)
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
