"""Migrations and table definitions agree; `hub migrate` is idempotent."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import UTC, datetime

import asyncpg
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import create_async_engine

from consumers.portfolio.decide import ITEM_NAMESPACE, item_id_for
from hub.migrate import alembic_config, upgrade_database
from hub.projections import all_metadata
from tests.conftest import settings_env
from tests.support.db import plain_dsn
from tests.support.procs import run_hub
from toolkit.lifecycle import erasure_key


async def test_migrated_schema_matches_the_table_definitions(database_url):
    engine = create_async_engine(database_url)

    def diff(connection):
        context = MigrationContext.configure(connection, opts={"include_schemas": True})
        merged = MetaData()
        for metadata in all_metadata():
            for table in metadata.tables.values():
                table.to_metadata(merged)
        return compare_metadata(context, merged)

    async with engine.connect() as conn:
        differences = await conn.run_sync(diff)
    await engine.dispose()
    owned = {t.schema for m in all_metadata() for t in m.tables.values()}
    relevant = [d for d in differences if _schema_of(d) in owned]
    assert relevant == []


def _schema_of(difference) -> str | None:
    """alembic's diff entries: ("add_table", Table), ("add_column", schema, table, Column),
    ("add_index", Index), or a list of ("modify_...", schema, table, ...) tuples."""
    if isinstance(difference, list):
        return difference[0][1]
    item = difference[1]
    if isinstance(item, str):
        return item
    table = getattr(item, "table", item)
    return getattr(table, "schema", None)


def test_hub_migrate_twice_creates_topics_once(settings):
    env = settings_env(
        settings.model_copy(update={"profiler_topic": settings.profiler_topic + "m"})
    )
    first = run_hub(["migrate"], env)
    assert first.returncode == 0, first.stderr
    assert settings.profiler_topic + "m" in first.stdout
    second = run_hub(["migrate"], env)
    assert second.returncode == 0, second.stderr
    assert "none (all existed)" in second.stdout


async def test_0011_rekeys_rows_and_rehashes_erasures_in_place(stack):
    """Rows written before 0011 (plain SHA-256 erasures, item ids of the session alone) come
    out under the new keys: erasures as `erasure_key(user, key)`, items as `item_id_for`."""
    name = f"hub_test_0011_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(plain_dsn(stack.database_url))
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = f"{stack.database_url.rsplit('/', 1)[0]}/{name}"
    key = "migration-test-erasure-key-0123456789abcdef"
    try:
        for parent in ("0002_recipes", "0003_portfolio", "0004_mentorship", "0005_analytics"):
            await asyncio.to_thread(command.upgrade, alembic_config(url, key), parent)
        user, other, sid = "learner-m", "learner-n", uuid.uuid4()
        old_item = uuid.uuid5(ITEM_NAMESPACE, str(sid))
        now = datetime.now(UTC)
        conn = await asyncpg.connect(plain_dsn(url))
        try:
            for schema in ("missions", "portfolio", "analytics", "mentorship", "recipes"):
                await conn.execute(f"insert into {schema}.erasures values ($1, $2)",
                                   hashlib.sha256(other.encode()).hexdigest(), now)
            await conn.execute(
                "insert into portfolio.items (item_id, user_id, profiler_session_id, title, "
                "statement, track, core_values, motivation, impact_goal, status, created_at) "
                "values ($1, $2, $3, 't', 's', 'grc', '{v}', 'm', 'g', 'active', $4)",
                old_item, user, sid, now)
            await conn.execute("insert into portfolio.current_statements values ($1, $2, null, "
                               "null, $3)", user, old_item, now)
        finally:
            await conn.close()

        await asyncio.to_thread(upgrade_database, url, key)

        conn = await asyncpg.connect(plain_dsn(url))
        try:
            hashed = erasure_key(other, key.encode())
            for schema in ("missions", "portfolio", "analytics", "mentorship", "recipes"):
                rows = await conn.fetch(f"select user_hash from {schema}.erasures")
                assert [r["user_hash"] for r in rows] == [hashed]
            assert await conn.fetchval("select item_id from portfolio.items") == item_id_for(
                user, sid)
            assert await conn.fetchval(
                "select item_id from portfolio.current_statements") == item_id_for(user, sid)
            # Two learners may now hold the same session id.
            for u in (user, other):
                await conn.execute(
                    "insert into missions.sessions (user_id, session_id, completed_at, "
                    "difficulty, occurred_at) values ($1, $2, $3, 3, $3)", u, sid, now)
        finally:
            await conn.close()
    finally:
        admin = await asyncpg.connect(plain_dsn(stack.database_url))
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
