"""A zombie worker: stopped (SIGSTOP) holding a batch it fetched but has not applied, for longer
than its group session timeout, so its partitions move to a second worker, which applies that
batch and everything after it. Resumed (SIGCONT), the zombie applies its stale batch: the
positions stored with the projection make it change nothing, and positions never go back."""

from __future__ import annotations

import asyncio
import re
import signal
import urllib.request

from tests.conftest import settings_env
from tests.reliability.harness import (
    Clock,
    WorkerPool,
    chunks,
    publish,
    sample_for,
    stopped,
    verdict,
    wait_caught_up,
)
from tests.reliability.reference import table_checksums
from tests.support import db
from tests.support.procs import free_port
from toolkit.streaming.crash_points import PAUSE_BEFORE_BATCH

CONSUMER = "analytics"  # counters: an effect applied twice would show as a duplicate


def skipped_records(metrics_port: int) -> float:
    body = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read()
    match = re.search(
        rf'^hub_redeliveries_skipped_total\{{consumer="{CONSUMER}"\}} (\S+)$',
        body.decode(), re.MULTILINE)
    return float(match.group(1)) if match else 0.0


class PositionWatch:
    """Samples the stored positions all along and records any that moved backwards."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.seen: dict[tuple[str, int], int] = {}
        self.backwards: list[str] = []
        self.samples = 0

    async def run(self) -> None:
        while True:
            try:
                rows = await db.fetch(
                    self.database_url,
                    f"select topic, partition, next_offset from {CONSUMER}.positions")
            except OSError:
                rows = []
            for r in rows:
                key, offset = (r["topic"], r["partition"]), r["next_offset"]
                if offset < self.seen.get(key, 0):
                    self.backwards.append(f"{key}: {self.seen[key]} -> {offset}")
                self.seen[key] = max(offset, self.seen.get(key, 0))
            self.samples += 1
            await asyncio.sleep(0.2)


async def test_a_zombie_workers_stale_batch_changes_nothing(
    settings, reference_url, scale, unique
):
    clock = Clock("zombie")
    sample = sample_for(scale, seed=23)
    first, second, third = chunks(sample, settings, 3)
    pool = WorkerPool(settings_env(settings), f"rel-zombie-{unique}")
    watch = PositionWatch(settings.database_url)
    watching = asyncio.create_task(watch.run())
    zombie_port = free_port()
    try:
        await publish(settings, first)
        zombie = pool.start(CONSUMER, **{PAUSE_BEFORE_BATCH: "2",
                                         "HUB_WORKER_METRICS_PORT": str(zombie_port)})
        await db.wait_until(lambda: _true(stopped(zombie)), timeout=120,
                            what="the first worker stopped holding its second batch")
        clock.lap("zombie stopped with a batch in hand")

        await publish(settings, second)
        pool.start(CONSUMER)  # takes the partitions once the zombie's session times out
        await wait_caught_up(settings, scale.catch_up_seconds, consumers=[CONSUMER])
        clock.lap("second worker applied everything")
        before = await table_checksums(settings.database_url)

        zombie.proc.send_signal(signal.SIGCONT)
        await db.wait_until(lambda: _true(skipped_records(zombie_port) > 0), timeout=120,
                            what="the zombie applied its stale batch")
        clock.lap("zombie's stale batch skipped")
        assert await table_checksums(settings.database_url) == before
        assert zombie.alive(), zombie.log_tail()

        await publish(settings, third)  # both workers share the group again
        await wait_caught_up(settings, scale.catch_up_seconds, consumers=[CONSUMER])
        clock.lap("caught up")
    finally:
        watching.cancel()
        pool.stop_all()
    assert watch.samples > 0 and not watch.backwards, watch.backwards
    result = await verdict("zombie", settings, sample, reference_url,
                           {"sigstop_past_session_timeout": 1}, consumers=[CONSUMER])
    clock.lap("verdict")
    assert result.ok, result.summary()


async def _true(value: bool) -> bool:
    return value
