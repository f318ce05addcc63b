"""The hot path's statements on asyncpg directly: compiled by SQLAlchemy once, run without it.

A live batch of a few records runs about seven statements, and per statement SQLAlchemy's
execute (cache-key generation, compiled-cache lookup, parameter processing, the greenlet
bridge, the cursor adapter and its result wrapper) cost as much CPU as asyncpg and the socket
write together: a third of a worker's busy samples at batches of one (py-spy,
bench/live_batch_cost.py --size 1). `run` compiles a statement once per dialect and table
set (`schema_translate_map`), keeps its bind processors (JSONB serialising, as SQLAlchemy
would), and hands the SQL and positional arguments to the asyncpg connection under the
SQLAlchemy connection, whose prepared-statement cache makes it one Bind/Execute round trip.

The statement joins the SQLAlchemy connection's transaction: the transaction SQLAlchemy
starts lazily is started first when no statement has started it yet. Errors are asyncpg's
own (`toolkit.streaming.faults.is_transient` knows them); a lost connection is invalidated
so the pool replaces it, as SQLAlchemy would.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.expression import Executable

_LOST_CONNECTION = (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, ConnectionError,
                    OSError)


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]
    defaults: Mapping[str, Any]
    processors: Mapping[str, Callable[[Any], Any]]


# Hot statements are built once (module constants, functools.cache, a store's attributes),
# so keying on the statement object keeps this small.
_compiled: dict[tuple[int, Any, Any], tuple[Executable, _Compiled]] = {}


def _compile(conn: AsyncConnection, statement: Executable) -> _Compiled:
    sync = conn.sync_connection
    schema_map = sync.get_execution_options().get("schema_translate_map") if sync else None
    map_key = tuple(sorted(schema_map.items(), key=repr)) if schema_map else None
    key = (id(statement), conn.dialect.name, map_key)
    cached = _compiled.get(key)
    if cached is not None and cached[0] is statement:
        return cached[1]
    compiled = statement.compile(  # type: ignore[attr-defined]
        dialect=conn.dialect, schema_translate_map=schema_map,
        render_schema_translate=bool(schema_map),
    )
    names = tuple(compiled.positiontup or ())
    if any(compiled.binds[name].expanding for name in names):
        raise ValueError("direct.run takes no expanding IN parameters; use = ANY(:array)")
    # The values built into the statement (pg_notify's channel); the rest come per call.
    defaults = compiled.construct_params(_check=False)
    entry = _Compiled(
        compiled.string, names, {n: defaults.get(n) for n in names},
        {n: p for n, p in compiled._bind_processors.items() if n in names},  # noqa: SLF001
    )
    _compiled[key] = (statement, entry)  # the statement is kept, so its id stays its own
    return entry


def _arguments(compiled: _Compiled, params: Mapping[str, Any] | None) -> list[Any]:
    given = params or {}
    args = []
    for name in compiled.names:
        value = given[name] if name in given else compiled.defaults[name]
        processor = compiled.processors.get(name)
        args.append(processor(value) if processor is not None else value)
    return args


async def run(
    conn: AsyncConnection, statement: Executable, params: Mapping[str, Any] | None = None
) -> list[asyncpg.Record]:
    """Run a prebuilt statement in `conn`'s transaction; its rows (asyncpg records: by name
    or position). A write deferred with `run_last` runs first, on its own."""
    pending = _deferred.get()
    if pending:
        await _fetch(conn, *pending.pop())
    compiled = _compile(conn, statement)
    return await _fetch(conn, compiled.sql, _arguments(compiled, params))


# A projection's last write, held (when the applier opened `deferring`) to ride in the
# statement that advances the positions: (sql, arguments).
_deferred: ContextVar[list[tuple[str, list[Any]]] | None] = ContextVar("deferred", default=None)


@contextmanager
def deferring() -> Iterator[None]:
    """Within this block `run_last` may hold its write for `run_with_deferred`. A block left
    by an exception drops what is held (its transaction rolls back); one left normally with
    a write still held raises, so a write is never lost unnoticed."""
    held: list[tuple[str, list[Any]]] = []
    token = _deferred.set(held)
    try:
        yield
    finally:
        _deferred.reset(token)
    if held:
        raise RuntimeError("a deferred write was never sent: no run_with_deferred followed")


async def run_last(
    conn: AsyncConnection, statement: Executable, params: Mapping[str, Any] | None = None
) -> None:
    """A write that is the last statement of its transaction before the positions advance:
    held for `run_with_deferred` inside `deferring`, else run now. Only for a statement
    after which nothing reads or writes through SQLAlchemy (nothing here would run it
    first), on another table than the positions'."""
    pending = _deferred.get()
    if pending is None:
        await run(conn, statement, params)
        return
    if pending:
        await _fetch(conn, *pending.pop())
    compiled = _compile(conn, statement)
    pending.append((compiled.sql, _arguments(compiled, params)))


_PLACEHOLDER = re.compile(r"\$(\d+)")


async def run_with_deferred(
    conn: AsyncConnection, statement: Executable, params: Mapping[str, Any] | None = None
) -> list[asyncpg.Record]:
    """`run` a `WITH ...` statement with the held write (if any) as one more data-modifying
    CTE in front: one round trip for both. PostgreSQL runs every data-modifying CTE whether
    or not the query reads it; the two write different tables, so neither needs to see
    the other's rows."""
    compiled = _compile(conn, statement)
    args = _arguments(compiled, params)
    pending = _deferred.get()
    if not pending:
        return await _fetch(conn, compiled.sql, args)
    sql, held_args = pending.pop()
    if not compiled.sql.startswith("WITH "):
        raise ValueError("run_with_deferred takes a WITH statement")
    shift = len(held_args)
    rest = _PLACEHOLDER.sub(lambda m: f"${int(m.group(1)) + shift}", compiled.sql[5:])
    return await _fetch(conn, f"WITH deferred_write AS ({sql}), {rest}", [*held_args, *args])


async def _fetch(conn: AsyncConnection, sql: str, args: list[Any]) -> list[asyncpg.Record]:
    fairy = await conn.get_raw_connection()
    adapted = fairy.dbapi_connection
    driver: asyncpg.Connection = fairy.driver_connection
    try:
        async with adapted._execute_mutex:  # type: ignore[union-attr]  # noqa: SLF001
            if adapted._transaction is None:  # type: ignore[union-attr]  # noqa: SLF001
                await adapted._start_transaction()  # type: ignore[union-attr]  # noqa: SLF001
            return await driver.fetch(sql, *args)
    except _LOST_CONNECTION:
        await conn.invalidate()
        raise
