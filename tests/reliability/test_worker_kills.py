"""Every consumer's workers SIGKILLed again and again while traffic flows, each restarted at
once: at random moments (mostly mid-batch, since a worker with a backlog is nearly always
inside one), and right after a batch's database commit, before faust acks or commits its
offsets (`toolkit.streaming.crash_points`). The projections end equal to the oracles."""

from __future__ import annotations

import random

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
)
from toolkit.streaming.crash_points import CRASH_AFTER_COMMITS


async def test_sigkilled_workers_lose_nothing_and_count_nothing_twice(
    settings, reference_url, scale, unique
):
    clock = Clock("worker-kills")
    rng = random.Random(f"kills-{unique}")
    sample = sample_for(scale, seed=21)
    pool = WorkerPool(settings_env(settings), f"rel-kill-{unique}")
    for name in CONSUMERS:
        pool.start(name)
    try:
        # One chunk of traffic per kill, so every kill meets workers with a backlog.
        parts = list(chunks(sample, settings, scale.kills))
        for i, records in enumerate(parts):
            armed = False
            if i == len(parts) - 1 and not pool.faults.get("sigkill_after_db_commit"):
                # None of the random ones died after a commit yet (a worker armed late may
                # have found no backlog left): arm one before the last chunk, which it will
                # have to commit.
                name = rng.choice(CONSUMERS)
                for victim in pool.alive(name):
                    pool.kill(victim)
                pool.start(name, **{CRASH_AFTER_COMMITS: "1"})
                armed = True
            await publish(settings, records)
            await sleep_random(rng, 0.5, 3.0)
            pool.restart_dead()
            if armed:
                continue  # leave the armed worker to die by itself
            name = rng.choice(CONSUMERS)
            victims = pool.alive(name)
            if not victims:
                continue
            pool.kill(victims[0])
            if rng.random() < 0.5:  # the next one dies right after a database commit
                pool.start(name, **{CRASH_AFTER_COMMITS: str(rng.randint(1, 3))})
            else:
                pool.start(name)
        clock.lap("published everything, killing as it went")
        await wait_caught_up(settings, scale.catch_up_seconds, pool=pool)
        clock.lap("caught up")
        faults = dict(pool.faults)
    finally:
        pool.stop_all()
    result = await verdict("worker-kills", settings, sample, reference_url, faults)
    clock.lap("verdict")
    assert result.ok, result.summary()
    assert sum(faults.values()) >= scale.kills, faults
    assert faults.get("sigkill_after_db_commit", 0) >= 1, faults
