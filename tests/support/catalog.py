"""The PostgreSQL catalog of one schema, as comparable data: columns, defaults, constraints,
indexes, sequences."""

from __future__ import annotations

import uuid
from contextlib import asynccontextmanager

import asyncpg

from tests.support.db import fetch, plain_dsn


async def schema_catalog(url: str, schema: str) -> dict[str, list[tuple]]:
    columns = await fetch(url, """
        SELECT c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod),
               a.attnotnull, pg_get_expr(d.adbin, d.adrelid)
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE n.nspname = $1 AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY 1, 2""", schema)
    constraints = await fetch(url, """
        SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint
        WHERE connamespace = $1::regnamespace ORDER BY 1""", schema)
    indexes = await fetch(url, """
        SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = $1
        ORDER BY 1, 2""", schema)
    sequences = await fetch(url, """
        SELECT sequencename, data_type::text, start_value, increment_by, max_value, cycle
        FROM pg_sequences WHERE schemaname = $1 ORDER BY 1""", schema)
    return {
        "columns": [tuple(r) for r in columns],
        "constraints": [tuple(r) for r in constraints],
        "indexes": [tuple(r) for r in indexes],
        "sequences": [tuple(r) for r in sequences],
    }


async def schemas_of(url: str) -> set[str]:
    rows = await fetch(url, """
        SELECT nspname FROM pg_namespace
        WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'""")
    return {r["nspname"] for r in rows}


@asynccontextmanager
async def producer_database(stack_database_url: str):
    """A fresh, empty `profiler_<random>` database beside the hub's (a producer's own); yields
    its asyncpg URL and drops it afterwards."""
    name = f"profiler_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(plain_dsn(stack_database_url))
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    try:
        yield f"{stack_database_url.rsplit('/', 1)[0]}/{name}"
    finally:
        admin = await asyncpg.connect(plain_dsn(stack_database_url))
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
