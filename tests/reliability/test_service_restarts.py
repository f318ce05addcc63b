"""The broker hard-restarted (SIGKILL) three times and PostgreSQL crashed (`pg_ctl -m
immediate`) and restarted three times while every consumer works through its backlog; the
workers ride it out by themselves (no manual step) and the projections equal the oracles."""

from __future__ import annotations

import asyncio
import random

import pytest

from hub.stack.api import kafka_restart, postgres_start, postgres_stop
from tests.conftest import settings_env
from tests.reliability.harness import (
    CONSUMERS,
    Clock,
    WorkerPool,
    chunks,
    publish,
    sample_for,
    sleep_random,
    verdict,
    wait_caught_up,
    wait_consuming,
)


def crash_and_restart_postgres() -> None:
    postgres_stop("immediate")
    postgres_start()


@pytest.mark.restarts_services
async def test_broker_and_database_restarts_lose_nothing(settings, reference_url, scale, unique):
    clock = Clock("service-restarts")
    rng = random.Random(f"restarts-{unique}")
    restarts = ["broker"] * scale.broker_restarts + ["database"] * scale.database_restarts
    rng.shuffle(restarts)
    sample = sample_for(scale, seed=22)
    pool = WorkerPool(settings_env(settings), f"rel-restart-{unique}")
    for name in CONSUMERS:
        pool.start(name)
    try:
        parts = chunks(sample, settings, len(restarts) + 1)
        await publish(settings, parts[0])
        await wait_consuming(settings)  # a worker that cannot reach the broker at start exits
        clock.lap("published first chunk, workers consuming")
        for service, records in zip(restarts, parts[1:], strict=True):
            await sleep_random(rng, 0.5, 3.0)  # the workers are mid-backlog
            if service == "broker":
                await asyncio.to_thread(kafka_restart, True)
            else:
                await asyncio.to_thread(crash_and_restart_postgres)
            pool.faults[f"{service}_restart"] += 1
            clock.lap(f"{service} restarted")
            await publish(settings, records)
            clock.lap("published")
        await wait_caught_up(settings, scale.catch_up_seconds, pool=pool)
        clock.lap("caught up")
        for name in CONSUMERS:
            assert pool.alive(name), f"{name} worker died"
        faults = dict(pool.faults)
    finally:
        pool.stop_all()
    result = await verdict("service-restarts", settings, sample, reference_url, faults)
    clock.lap("verdict")
    assert result.ok, result.summary()
    assert faults == {"broker_restart": scale.broker_restarts,
                      "database_restart": scale.database_restarts}
