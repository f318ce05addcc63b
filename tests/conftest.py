"""Fixtures that start the real services once per session, and per-test fresh resources."""

from __future__ import annotations

import asyncio
import os
import uuid

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.support.db import plain_dsn
from toolkit.settings import Settings

TEST_ERASURE_KEY = "test-erasure-key-not-a-secret-0123456789"


def pytest_collection_modifyitems(items):
    for item in items:
        path = str(item.fspath)
        if "/integration/" in path:
            item.add_marker(pytest.mark.integration)
        elif "/e2e/" in path:
            item.add_marker(pytest.mark.e2e)
    # Tests that restart the shared broker or database go last, so no other test runs
    # against services that have just come back.
    items.sort(key=lambda item: item.get_closest_marker("restarts_services") is not None)


@pytest.fixture(scope="session")
def stack():
    """The project's own Kafka and PostgreSQL (started when not running; left running)."""
    from hub.stack.api import ensure_stack_up

    return ensure_stack_up()


async def migrated_database(stack):
    """Create and migrate a fresh database; yields its URL, drops it afterwards."""
    from hub.migrate import upgrade_database

    name = f"hub_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = await asyncpg.connect(plain_dsn(stack.database_url))
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    base = stack.database_url.rsplit("/", 1)[0]
    url = f"{base}/{name}"
    # alembic runs its own event loop
    await asyncio.to_thread(upgrade_database, url, TEST_ERASURE_KEY)
    yield url
    admin = await asyncpg.connect(plain_dsn(stack.database_url))
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


@pytest.fixture(scope="session")
async def database_url(stack):
    """One migrated database for the session; tests keep apart by unique user ids."""
    async for url in migrated_database(stack):
        yield url


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture
async def settings(stack, database_url, unique):
    """Settings of one test: fresh topics and consumer groups on the shared services."""
    s = Settings(
        environment="test",
        # `test` refuses the placeholder; subprocesses get it through `settings_env`.
        erasure_key=TEST_ERASURE_KEY,
        kafka_bootstrap=stack.kafka_bootstrap,
        database_url=database_url,
        profiler_topic=f"t{unique}.profiler.events",
        mentorship_topic=f"t{unique}.mentorship.assignments",
        group_prefix=f"t{unique}",
        dead_letter_suffix=f".t{unique}.dlq",
        topic_partitions=3,
        retry_initial_seconds=0.1,
        retry_max_seconds=1.0,
    )
    from hub.projections import all_projections
    from toolkit.topics import ensure_topics, hub_topics

    specs = hub_topics(s, list(all_projections()))
    await ensure_topics(s.kafka_bootstrap, specs)
    yield s
    # Thousands of leftover partitions would slow every later broker restart.
    admin = AIOKafkaAdminClient(bootstrap_servers=s.kafka_bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([spec.name for spec in specs])
    except Exception:  # a test that restarted the broker may leave it busy; not worth failing
        pass
    finally:
        await admin.close()


def settings_env(s: Settings) -> dict[str, str]:
    """The environment that makes a `hub` subprocess use these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    for name, value in s.model_dump().items():
        env[f"HUB_{name.upper()}"] = str(value)
    return env


@pytest.fixture
async def kafka_admin(stack):
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
    await admin.start()
    yield admin
    await admin.close()


async def create_topic(admin: AIOKafkaAdminClient, name: str, partitions: int = 3) -> str:
    await admin.create_topics([NewTopic(name, partitions, 1)])
    return name
