"""The allowed reads, served without FastAPI's machinery.

py-spy on `hub api` under wrk (README "Benchmarks"): after uvloop, httptools, autocommit and
one serialization, a difficulty read still spent ~18% of its CPU in FastAPI's dependency
solving and ~22% in SQLAlchemy's execute (compiled-cache lookup, greenlet hop, result
proxy), against ~6% in the statement's own asyncpg round trip. So the common case, a valid
token allowed to read, takes this path: the same token check (`principal_from_token`), the
same access rule, the same response models and serialization and freshness headers, with the
statements sent by asyncpg directly on a connection of the same pool.

Each projection declares its endpoints' fast reads next to its routes (`FastRead` in
`consumers/<name>/api.py`: SQL, handler, how the request names its subject); this module only
dispatches to them. Everything else falls through to the FastAPI routes, unchanged: no or a
bad token (401), a refusal (403, audited there on its own connection), unknown or invalid
parameters (400), a missing resource (404), and any read with `Hub-Min-Position` (the wait
lives there). A request is decided here only once it is known to be a 200; otherwise nothing
has been sent and the route answers it from scratch, so error bodies, audit and OpenAPI stay
exactly theirs.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from toolkit.web.access import NO_MENTORS, MentorLookup
from toolkit.web.auth import principal_from_token
from toolkit.web.freshness import Fresh, answer, watch_of
from toolkit.web.read_api import FastRead


def bearer(scope: Scope) -> tuple[str | None, bool]:
    """(token, has Hub-Min-Position)."""
    token, waits = None, False
    for name, value in scope["headers"]:
        if name == b"authorization":
            if token is not None:
                return None, waits  # two: the route decides
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credentials:
                token = credentials
        elif name == b"hub-min-position":
            waits = True
    return token, waits


class FastReads:
    """Pure ASGI: answers the allowed reads of `reads`, passes everything else on."""

    def __init__(self, app: ASGIApp, reads: Sequence[FastRead] = (),
                 mentors: MentorLookup = NO_MENTORS) -> None:
        self.app = app
        self.mentors = mentors
        self.by_path = {r.path: r for r in reads if r.path is not None}
        self.by_pattern = [r for r in reads if r.pattern is not None]
        if len(self.by_path) + len(self.by_pattern) != len(reads):
            raise ValueError("two fast reads for the same path")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path = scope["path"]
            read = self.by_path.get(path)
            if read is not None:
                usable, subject = read.subject(scope["query_string"])
                if usable and await self._answer(read, subject, scope, receive, send):
                    return
            elif not scope["query_string"]:
                for read in self.by_pattern:
                    match = read.pattern.match(path)  # type: ignore[union-attr]
                    if match:
                        if await self._answer(read, match[1], scope, receive, send):
                            return
                        break
        await self.app(scope, receive, send)

    async def _answer(self, read: FastRead, subject: str | None, scope: Scope,
                      receive: Receive, send: Send) -> bool:
        token, waits = bearer(scope)
        if token is None or waits:
            return False
        state = scope["app"].state
        settings = state.settings
        try:
            caller = principal_from_token(token, settings.jwt_secret,
                                          settings.jwt_max_lifetime_seconds)
        except HTTPException:
            return False
        positions = await watch_of(state, read.projection)
        async with getattr(state, "read_engine", state.engine).connect() as conn:
            raw = await conn.get_raw_connection()
            if read.default_to_caller:
                subject = subject or caller.user_id
            model = await read.handler(caller, subject, raw.driver_connection, self.mentors)
        if model is None:
            return False
        await answer(model, Fresh(positions, read.projection, None))(scope, receive, send)
        return True
