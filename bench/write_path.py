"""Write-path benchmark: the hub's projection writes against raw asyncpg writing the same rows.

For each projection, decodes a generated sample up front (decoding is the replay benchmark's
business), then:

1. hub: applies it in batches of 5000 through `projection.apply` (state load, pure rules and
   the set-based writes), one transaction per batch, into a fresh migrated database. The
   time of its INSERT/DELETE statements alone (client encode + server) is taken from
   SQLAlchemy's cursor events, apart from the whole apply;
2. the rows the projection ended with (every table of its set but `positions`) are read back;
3. raw COPY: asyncpg `copy_records_to_table` of exactly those rows into a second fresh
   database, in as many transactions as the hub used;
4. raw unnest: asyncpg `INSERT … SELECT * FROM unnest($1::t[], …)` of the same rows, likewise.

Figures are rows per second of the final tables. `ratio_apply` (the report's `ratio`) compares
the hub's whole apply (load, rules and writes) with the faster raw anchor; `ratio_writes`, its
write statements alone, is only meaningful for runs before the hot statements moved to asyncpg
directly (they no longer pass SQLAlchemy's cursor events). Prints one JSON line.

    .venv/bin/python bench/write_path.py [--events N] [--only missions,analytics]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import asyncpg  # noqa: E402
from sqlalchemy import event  # noqa: E402

from bench.replay import (  # noqa: E402
    BATCH,
    COHORTS,
    EVENTS_PER_LEARNER,
    create_databases,
    create_migrated_database,
    database_url,
    drop_databases,
)
from toolkit.settings import Settings  # noqa: E402


def plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


class StatementClock:
    """Sums the wall time of an engine's INSERT and DELETE statements."""

    def __init__(self, engine) -> None:
        self.seconds = 0.0
        self.statements = 0
        self._started: float | None = None
        sync = engine.sync_engine
        event.listen(sync, "before_cursor_execute", self._before)
        event.listen(sync, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, *args) -> None:
        self._started = time.perf_counter() if statement.lstrip()[:6] in ("INSERT", "DELETE") \
            else None

    def _after(self, *args) -> None:
        if self._started is not None:
            self.seconds += time.perf_counter() - self._started
            self.statements += 1


async def hub_apply(url: str, name: str, events: list) -> dict:
    from sqlalchemy.ext.asyncio import create_async_engine

    from hub.projections import all_projections
    from toolkit.settings import get_settings

    projection = all_projections(get_settings())[name]
    accepted = [e for e in events if projection.accepts(e)]
    engine = create_async_engine(url, pool_size=1)
    clock = StatementClock(engine)
    batches = [accepted[i:i + BATCH] for i in range(0, len(accepted), BATCH)]
    try:
        async with engine.begin() as conn:  # connect and warm the statement cache first
            await conn.exec_driver_sql("select 1")
        started, cpu = time.perf_counter(), time.process_time()
        for batch in batches:
            async with engine.begin() as conn:
                await projection.apply(conn, batch)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        await engine.dispose()
    return {"events": len(accepted), "batches": len(batches), "apply_s": round(wall, 3),
            "apply_cpu_s": round(cpu, 3), "write_statements": clock.statements,
            "writes_s": round(clock.seconds, 3)}


async def final_rows(url: str, name: str) -> dict[str, tuple[list[str], list[tuple]]]:
    """Every table of the projection but its positions: (columns, rows)."""
    from hub.projections import all_projections

    projection = all_projections()[name]
    conn = await asyncpg.connect(plain(url))
    try:
        out = {}
        for table in projection.metadata.sorted_tables:
            if table.name == "positions":
                continue
            columns = [c.name for c in table.columns]
            rows = await conn.fetch(f'select {", ".join(columns)} from {table.fullname}')
            out[table.fullname] = (columns, [tuple(r) for r in rows])
        return out
    finally:
        await conn.close()


async def column_types(conn: asyncpg.Connection, fullname: str, columns: list[str]) -> list[str]:
    """The types of `columns`, in their order (a migrated table's column order may differ from
    its definition's: 0011 re-keyed the lifecycle tables)."""
    schema, table = fullname.split(".")
    rows = await conn.fetch(
        "select a.attname, format_type(a.atttypid, a.atttypmod) from pg_attribute a "
        "join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = $1 and c.relname = $2 and a.attnum > 0 and not a.attisdropped",
        schema, table)
    types = {name: type_ for name, type_ in rows}
    return [types[column] for column in columns]


async def raw_write(url: str, tables: dict, batches: int, how: str) -> float:
    """Write the rows with asyncpg alone, `batches` transactions per table; seconds."""
    conn = await asyncpg.connect(plain(url))
    try:
        statements = {}
        for fullname, (columns, _) in tables.items():
            types = await column_types(conn, fullname, columns)
            arrays = ", ".join(f"${i + 1}::{t}[]" for i, t in enumerate(types))
            statements[fullname] = (
                f'insert into {fullname} ({", ".join(columns)}) select * from unnest({arrays})'
            )
        started = time.perf_counter()
        for fullname, (columns, rows) in tables.items():
            if not rows:
                continue
            schema, table = fullname.split(".")
            size = max(1, -(-len(rows) // batches))
            for i in range(0, len(rows), size):
                chunk = rows[i:i + size]
                async with conn.transaction():
                    if how == "copy":
                        await conn.copy_records_to_table(table, schema_name=schema,
                                                         columns=columns, records=chunk)
                    else:
                        await conn.execute(statements[fullname],
                                           *([r[j] for r in chunk] for j in range(len(columns))))
        return time.perf_counter() - started
    finally:
        await conn.close()


def supports_unnest(tables: dict) -> bool:
    """unnest flattens arrays of arrays: a table with an array column has no unnest anchor."""
    return not any(isinstance(v, list) for _, rows in tables.values() for r in rows[:1] for v in r)


def run(settings: Settings, count: int, names: list[str]) -> dict:
    from producers.sample import generate_sample
    from schemas.registry import decode

    run_id = uuid.uuid4().hex[:8]
    sample = generate_sample(count, users=max(1, count // EVENTS_PER_LEARNER), cohorts=COHORTS,
                             seed=1)
    events = [decode(m.value) for m in sample.messages]
    template = f"hub_wbench_{run_id}_template"
    databases = [f"hub_wbench_{run_id}_{n}_{side}" for n in names for side in ("hub", "copy",
                                                                                "unnest")]
    results = {}
    try:
        create_migrated_database(settings, template)
        asyncio.run(create_databases(settings, databases, template))
        for name in names:
            url = {side: database_url(settings, f"hub_wbench_{run_id}_{name}_{side}")
                   for side in ("hub", "copy", "unnest")}
            hub = asyncio.run(hub_apply(url["hub"], name, events))
            tables = asyncio.run(final_rows(url["hub"], name))
            rows = sum(len(r) for _, r in tables.values())
            copy_s = asyncio.run(raw_write(url["copy"], tables, hub["batches"], "copy"))
            unnest_s = (asyncio.run(raw_write(url["unnest"], tables, hub["batches"], "unnest"))
                        if supports_unnest(tables) else None)
            raw_s = min(s for s in (copy_s, unnest_s) if s is not None)
            results[name] = {
                **hub, "rows": rows,
                "rows_per_table": {t: len(r) for t, (_, r) in tables.items()},
                "raw_copy_s": round(copy_s, 3),
                "raw_unnest_s": None if unnest_s is None else round(unnest_s, 3),
                "hub_rows_per_s": round(rows / hub["writes_s"]),
                "hub_apply_rows_per_s": round(rows / hub["apply_s"]),
                "raw_rows_per_s": round(rows / raw_s),
                "ratio_writes": round(raw_s / hub["writes_s"], 3),
                "ratio_apply": round(raw_s / hub["apply_s"], 3),
            }
            # The report's common keys: the whole apply. Since the live path runs its hot
            # statements on asyncpg directly (toolkit/streaming/direct.py), SQLAlchemy's cursor
            # events see only the rare statements left to it, so `writes_s` no longer times the
            # hub's writes and `ratio_writes` is kept for older runs' comparison only.
            results[name]["ratio"] = results[name]["ratio_apply"]
            results[name]["hub_rows_per_s"] = results[name]["hub_apply_rows_per_s"]
    finally:
        asyncio.run(drop_databases(settings, [*databases, template]))
    return {"benchmark": "write_path", "events": count, "batch": BATCH, "cpus": os.cpu_count(),
            "write_path": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--only", default="", help="comma-separated projections (default all)")
    args = parser.parse_args()

    from hub.projections import all_projections
    from hub.stack.api import ensure_stack_up
    from toolkit.gc_tuning import tune_for_throughput

    ensure_stack_up()
    tune_for_throughput()
    names = [n for n in args.only.split(",") if n] or list(all_projections())
    print(json.dumps(run(Settings(), args.events, names)))


if __name__ == "__main__":
    main()
