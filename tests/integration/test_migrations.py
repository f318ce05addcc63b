"""Migrations and table definitions agree; `hub migrate` is idempotent."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import create_async_engine

from hub.projections import all_metadata
from tests.conftest import settings_env
from tests.support.procs import run_hub


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
