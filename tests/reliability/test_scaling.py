"""One consumer scaled from one worker to three and back to one while traffic flows: each
rebalance hands partitions over through the stored positions, and the projection equals the
oracle."""

from __future__ import annotations

from tests.conftest import settings_env
from tests.reliability.harness import (
    Clock,
    WorkerPool,
    chunks,
    publish,
    sample_for,
    verdict,
    wait_caught_up,
)
from tests.support import db
from toolkit.kafka import group_states

CONSUMER = "portfolio"


async def test_scaling_one_to_three_workers_and_back(settings, reference_url, scale, unique):
    clock = Clock("scaling")
    group = f"{settings.group_prefix}-{CONSUMER}"
    sample = sample_for(scale, seed=24)
    first, second, third = chunks(sample, settings, 3)
    pool = WorkerPool(settings_env(settings), f"rel-scale-{unique}")

    async def members(n: int) -> bool:
        state = (await group_states(settings.kafka_bootstrap, [group])).get(group, {})
        return state.get("state") == "Stable" and state.get("members") == n

    try:
        pool.start(CONSUMER)
        await publish(settings, first)
        await db.wait_until(lambda: members(1), timeout=120, what="one member")
        clock.lap("one worker")
        extra = [pool.start(CONSUMER), pool.start(CONSUMER)]
        await publish(settings, second)
        await db.wait_until(lambda: members(3), timeout=120, what="three members")
        pool.faults["scaled_to_3"] += 1
        clock.lap("three workers")
        await publish(settings, third)
        for proc in extra:
            assert proc.stop(timeout=60) in (0, -15), proc.log_tail()
        await db.wait_until(lambda: members(1), timeout=120, what="back to one member")
        pool.faults["scaled_to_1"] += 1
        clock.lap("one worker again")
        await wait_caught_up(settings, scale.catch_up_seconds, consumers=[CONSUMER])
        clock.lap("caught up")
        assert len(pool.alive(CONSUMER)) == 1
    finally:
        pool.stop_all()
    result = await verdict("scaling", settings, sample, reference_url, pool.faults,
                           consumers=[CONSUMER])
    clock.lap("verdict")
    assert result.ok, result.summary()
