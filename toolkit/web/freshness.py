"""How fresh each answer is, and read-your-writes through consistency tokens.

Every projection stores, in the transaction that writes its rows, the next offset to read per
partition (`<schema>.positions`). Each API process keeps those positions in memory
(`PositionWatch`), refreshed when the applier's NOTIFY says a projection moved (one LISTEN
connection per process; toolkit/streaming/notify.py), or, on a hot standby where NOTIFY does not
arrive, by one poller per process. No request queries positions or polls for them.

A token is where the publisher's event landed: `topic:partition:offset`. A reader passes it
as `Hub-Min-Position` (several separated by commas) with `wait_ms`; the read waits until the
projection's stored position on that partition has passed the offset (next_offset > offset)
or the wait ends, then reads. The positions come from the database the API reads, so when
they pass, the rows of the same transaction are visible there too.

Response headers (every projection-backed answer):
- `Hub-Projection`: the projection that answered;
- `Hub-Newest-Event-At`: `occurred_at` of the newest event it has applied (`none` before any);
- `Hub-Lag-Seconds`: how long ago that event occurred (the answer's staleness at most, while
  events keep arriving);
- `Hub-Position-Included`: `true` or `false`, when a `Hub-Min-Position` was given.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

import asyncpg
from fastapi import FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.responses import Response

from toolkit.streaming.notify import CHANNEL

log = logging.getLogger("hub.api")

# Kafka topic names are [a-zA-Z0-9._-]: no colon, so the last two fields are unambiguous.
TOKEN = re.compile(r"^([A-Za-z0-9._-]{1,249}):(\d{1,9}):(\d{1,18})$")
MAX_TOKENS = 32
UNSTARTED_POLL_S = 0.05
SAFETY_REFRESH_S = 1.0  # while reads wait: a lost notification delays them this long at most


@dataclass(frozen=True)
class Position:
    topic: str
    partition: int
    offset: int


def parse_tokens(value: str) -> list[Position]:
    """`topic:partition:offset[,…]` → positions; ValueError saying what is wrong."""
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if not parts or len(parts) > MAX_TOKENS:
        raise ValueError(f"expected 1 to {MAX_TOKENS} tokens topic:partition:offset")
    tokens = []
    for part in parts:
        match = TOKEN.match(part)
        if match is None:
            raise ValueError(f"{part[:80]!r} is not topic:partition:offset")
        tokens.append(Position(match[1], int(match[2]), int(match[3])))
    return tokens


class PositionWatch:
    """The stored positions of every projection, as this process last read them.

    `positions`: each served projection's position table, by projection name."""

    def __init__(self, engine: AsyncEngine, positions: Mapping[str, Table], *, listen: bool,
                 poll_interval_s: float) -> None:
        self._engine = engine
        self._positions = dict(positions)
        self._listen = listen
        self._poll_interval_s = poll_interval_s
        self.offsets: dict[str, dict[tuple[str, int], int]] = {n: {} for n in self._positions}
        self.newest: dict[str, datetime | None] = dict.fromkeys(self._positions)
        self._waiters: dict[str, set[asyncio.Future]] = {n: set() for n in self._positions}
        self._refreshing: dict[str, asyncio.Task] = {}
        self._dirty: set[str] = set()
        self._listener: asyncpg.Connection | None = None
        self._task: asyncio.Task | None = None
        self.started = False
        self._listener_ok = True

    async def start(self) -> None:
        self.started = True
        for name in self._positions:
            with contextlib.suppress(Exception):  # not migrated yet: reads will say so
                await self.read(name)
        if self._listen:
            await self._connect_listener()
        self._task = asyncio.create_task(self._poll())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for task in list(self._refreshing.values()):
            task.cancel()
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close(timeout=2)

    async def _connect_listener(self) -> None:
        url = self._engine.url.set(drivername="postgresql")
        try:
            self._listener = await asyncpg.connect(url.render_as_string(hide_password=False))
            await self._listener.add_listener(CHANNEL, self._heard)
        except Exception as exc:  # the poll below keeps waiters served meanwhile
            if self._listener_ok:  # once per outage, not once per retry
                log.warning("positions listener unavailable", extra={"error": repr(exc)})
            self._listener_ok = False
            self._listener = None
            return
        self._listener_ok = True

    def _heard(self, _conn, _pid, _channel, payload: str) -> None:
        if payload in self._positions:
            self.refresh(payload)

    async def _poll(self) -> None:
        """On a replica: every interval. On the primary: only while reads wait, slowly, to
        cover a notification lost with the listener's connection (reconnected here)."""
        while True:
            if self._listen:
                await asyncio.sleep(SAFETY_REFRESH_S)
                if self._listener is None or self._listener.is_closed():
                    await self._connect_listener()
                names = [n for n, w in self._waiters.items() if w]
            else:
                await asyncio.sleep(self._poll_interval_s)
                names = list(self._positions)
            for name in names:
                self.refresh(name)

    def refresh(self, name: str) -> None:
        """Re-read one projection's positions soon; one read at a time per projection, and
        one more after it when news arrived meanwhile."""
        if name in self._refreshing:
            self._dirty.add(name)
            return
        self._refreshing[name] = asyncio.create_task(self._refresh(name))

    async def _refresh(self, name: str) -> None:
        try:
            while True:
                self._dirty.discard(name)
                try:
                    await self.read(name)
                except Exception as exc:  # database away: the next news or poll retries
                    log.warning("positions refresh failed",
                                extra={"projection": name, "error": repr(exc)})
                    return
                self._wake(name)
                if name not in self._dirty:
                    return
        finally:
            self._refreshing.pop(name, None)

    async def read(self, name: str) -> None:
        t = self._positions[name]
        async with self._engine.connect() as conn:
            rows = (await conn.execute(
                select(t.c.topic, t.c.partition, t.c.next_offset, t.c.last_event_at))).all()
        self.offsets[name] = {(r.topic, r.partition): r.next_offset for r in rows}
        self.newest[name] = max((r.last_event_at for r in rows if r.last_event_at),
                                default=None)

    def _wake(self, name: str) -> None:
        for future in list(self._waiters[name]):
            if not future.done():
                future.set_result(None)

    def included(self, name: str, tokens: list[Position]) -> bool:
        offsets = self.offsets[name]
        return all(offsets.get((p.topic, p.partition), 0) > p.offset for p in tokens)

    async def wait(self, name: str, tokens: list[Position], timeout_s: float) -> bool:
        """True once every token is included, False when `timeout_s` passes first."""
        deadline = time.monotonic() + timeout_s
        while not self.included(name, tokens):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if not self.started:  # an app driven without its lifespan (in-process tests)
                await asyncio.sleep(min(left, UNSTARTED_POLL_S))
                await self.read(name)
                continue
            future = asyncio.get_running_loop().create_future()
            self._waiters[name].add(future)
            try:
                await asyncio.wait_for(future, left)
            except TimeoutError:
                pass
            finally:
                self._waiters[name].discard(future)
        return True

    def headers(self, name: str, included: bool | None) -> dict[str, str]:
        newest = self.newest[name]
        headers = {"Hub-Projection": name}
        if newest is None:
            headers["Hub-Newest-Event-At"] = "none"
        else:
            headers["Hub-Newest-Event-At"] = newest.isoformat()
            lag = max(0.0, (datetime.now(UTC) - newest).total_seconds())
            headers["Hub-Lag-Seconds"] = f"{lag:.3f}"
        if included is not None:
            headers["Hub-Position-Included"] = "true" if included else "false"
        return headers


@dataclass
class Fresh:
    """One request's freshness: its projection and whether its token was included."""

    watch: PositionWatch
    projection: str
    included: bool | None

    def headers(self) -> dict[str, str]:
        return self.watch.headers(self.projection, self.included)


async def watch_of(state, projection: str) -> PositionWatch:
    """The process's PositionWatch. An app driven without its lifespan (in-process tests) has
    none started: it gets one without listener, which reads the positions per request."""
    watch: PositionWatch | None = getattr(state, "positions", None)
    if watch is None:
        watch = state.positions = PositionWatch(
            getattr(state, "read_engine", state.engine), state.position_tables, listen=False,
            poll_interval_s=1)
    if not watch.started:
        await watch.read(projection)
    return watch


MIN_POSITION_DOC = (
    "Consistency token(s) from the publisher or outbox relay, `topic:partition:offset` "
    "(comma-separated for several): answer once this projection has applied them, waiting at "
    "most `wait_ms`. The answer's `Hub-Position-Included` header says whether it does.")
WAIT_DOC = ("Longest wait in milliseconds for `Hub-Min-Position` (capped by "
            "HUB_API_MAX_WAIT_MS); 0 answers at once.")


def projection_read(projection: str):
    """The dependency of an endpoint backed by `projection`: waits for a token when given."""

    async def dependency(
        request: Request,
        hub_min_position: Annotated[str | None, Header(
            alias="Hub-Min-Position", max_length=4096, description=MIN_POSITION_DOC)] = None,
        wait_ms: Annotated[int, Query(ge=0, le=600_000, description=WAIT_DOC)] = 0,
    ) -> Fresh:
        watch = await watch_of(request.app.state, projection)
        if hub_min_position is None:
            return Fresh(watch, projection, None)
        try:
            tokens = parse_tokens(hub_min_position)
        except ValueError as exc:  # the 400 body every bad parameter gets (hub/api/app.py)
            raise RequestValidationError([{
                "type": "value_error", "loc": ("header", "Hub-Min-Position"),
                "msg": str(exc), "input": None}]) from None
        cap_ms = request.app.state.settings.api_max_wait_ms
        included = await watch.wait(projection, tokens, min(wait_ms, cap_ms) / 1000)
        return Fresh(watch, projection, included)

    return dependency


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


def answer(model: BaseModel | bytes, fresh: Fresh | None = None) -> Response:
    """The model as JSON (or JSON already serialized as the model would be), with the freshness
    headers. Returning a Response skips FastAPI's second validation of the model against
    `response_model` (which stays on the route for the OpenAPI document); the bytes are
    pydantic's serialization either way."""
    body = model if isinstance(model, bytes) else model.__pydantic_serializer__.to_json(model)
    return Response(body, media_type="application/json",
                    headers=fresh.headers() if fresh is not None else None)
