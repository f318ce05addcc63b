"""PostgreSQL stopped and restarted under a consuming worker: nothing lost, nothing twice,
nothing dead-lettered, no manual step."""

from __future__ import annotations

import asyncio

import pytest

from hub.stack.api import postgres_start, postgres_stop
from tests.conftest import settings_env
from tests.support import db
from tests.support.events import completed
from tests.support.kafka import publish_events, read_all
from tests.support.oracles.missions import difficulties as oracle_difficulties
from tests.support.procs import HubProcess


@pytest.mark.restarts_services
async def test_worker_rides_out_a_database_restart(settings, unique):
    before = [completed(f"{unique}-{i:03d}", minute=i, score=i % 100, level=None)
              for i in range(200)]
    during = [completed(f"{unique}-{i:03d}", minute=500 + i, level="expert")
              for i in range(0, 200, 3)]
    await publish_events(settings.kafka_bootstrap, settings.profiler_topic, before)
    worker = HubProcess(["worker", "missions"], settings_env(settings), f"pg-outage-{unique}")
    try:
        await db.wait_until(lambda: _handled(settings, 1), what="worker started applying")
        await asyncio.to_thread(postgres_stop, "immediate")  # as if the server crashed
        try:
            await publish_events(settings.kafka_bootstrap, settings.profiler_topic, during)
            await db.wait_until(lambda: _retrying(worker), what="worker meets the outage")
            assert worker.alive(), worker.log_tail()
        finally:
            await asyncio.to_thread(postgres_start)
        total = len(before) + len(during)
        await db.wait_until(lambda: _handled(settings, total), timeout=120, what="all applied")
        assert worker.alive(), worker.log_tail()
        assert await db.difficulties(settings.database_url, unique) == oracle_difficulties(
            before + during)
    finally:
        worker.stop()
    dead = await read_all(settings.kafka_bootstrap, settings.dead_letter_topic("missions"), 1,
                          timeout=2)
    assert dead == []


async def _retrying(worker: HubProcess) -> bool:
    return "transient fault, retrying batch" in worker.log_path.read_text()


async def _handled(settings, expected: int) -> bool:
    try:
        done = await db.applied_offsets(settings.database_url, "missions",
                                        settings.profiler_topic)
    except OSError:  # the database is the thing being restarted
        return False
    return done >= expected
