"""The outbox table is the same wherever it comes from: the hub's Alembic migrations, `hub outbox
install` (the producer kit's sql/outbox.sql) and Django's `migrate` with the kit's app; and
installing it in a producer's database puts nothing else of the hub there."""

from __future__ import annotations

import asyncio

from tests.conftest import settings_env
from tests.support.catalog import producer_database, schema_catalog, schemas_of
from tests.support.django_project import manage, write_project
from tests.support.procs import run_hub


async def test_alembic_hub_outbox_install_and_django_migrate_make_the_same_table(
    stack, settings, database_url, tmp_path
):
    alembic = await schema_catalog(database_url, "hub_outbox")
    assert alembic["columns"] and alembic["indexes"]
    env = settings_env(settings)
    async with producer_database(stack.database_url) as installed_url, \
            producer_database(stack.database_url) as django_url:
        libpq_url = installed_url.replace("postgresql+asyncpg://", "postgresql://")
        for _ in range(2):  # idempotent
            done = await asyncio.to_thread(
                run_hub, ["outbox", "install", "--database-url", libpq_url], env)
            assert done.returncode == 0, done.stderr
            assert "outbox ready in" in done.stdout
        project = write_project(tmp_path, django_url, with_results=False)
        migrated = await asyncio.to_thread(manage, project, "migrate", "--no-input")
        assert migrated.returncode == 0, migrated.stderr

        assert await schema_catalog(installed_url, "hub_outbox") == alembic
        assert await schema_catalog(django_url, "hub_outbox") == alembic
        # Only the outbox: no projection schema, no Alembic version table.
        assert await schemas_of(installed_url) == {"public", "hub_outbox"}
        assert await schemas_of(django_url) == {"public", "hub_outbox"}

        unmigrated = await asyncio.to_thread(
            manage, project, "migrate", "profiler_hub_outbox", "zero", "--no-input")
        assert unmigrated.returncode == 0, unmigrated.stderr
        assert (await schema_catalog(django_url, "hub_outbox"))["columns"] == []


def test_operator_errors_are_one_line_and_exit_2(settings):
    env = settings_env(settings)
    bad = settings.database_url.rsplit("/", 1)[0] + "/no_such_database_here"
    for args in (
        ["outbox", "install", "--database-url", "mysql://u@h/db"],
        ["outbox", "install", "--database-url", bad],
        ["relay", "--once", "--database-url", settings.database_url.rsplit("/", 1)[0]
         + "/postgres"],
    ):
        done = run_hub(args, env)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "Traceback" not in done.stderr and done.stderr.startswith("error: ")
