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

from collections.abc import Callable, Mapping
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


async def run(
    conn: AsyncConnection, statement: Executable, params: Mapping[str, Any] | None = None
) -> list[asyncpg.Record]:
    """Run a prebuilt statement in `conn`'s transaction; its rows (asyncpg records: by name
    or position)."""
    compiled = _compile(conn, statement)
    given = params or {}
    args = []
    for name in compiled.names:
        value = given[name] if name in given else compiled.defaults[name]
        processor = compiled.processors.get(name)
        args.append(processor(value) if processor is not None else value)
    fairy = await conn.get_raw_connection()
    adapted = fairy.dbapi_connection
    driver: asyncpg.Connection = fairy.driver_connection
    try:
        async with adapted._execute_mutex:  # type: ignore[union-attr]  # noqa: SLF001
            if adapted._transaction is None:  # type: ignore[union-attr]  # noqa: SLF001
                await adapted._start_transaction()  # type: ignore[union-attr]  # noqa: SLF001
            return await driver.fetch(compiled.sql, *args)
    except _LOST_CONNECTION:
        await conn.invalidate()
        raise
