"""The two paths agree (DESIGN, "Two paths, one set of rules"): the same topics applied once
incrementally (the live applier, in many small batches) and once by the bulk rebuild
(`hub rebuild --all`'s path) into another database leave every table identical — projection
rows, lifecycle tables, positions — compared by the reliability suite's table checksums.

The topics hold the reliability suite's kind of sample (duplicates, invalidations before
completions, erasures, late events, mentor assignments) plus records every consumer refuses,
which both paths must step over alike.
"""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaProducer

from hub.bootstrap import connected
from hub.operations.rebuild import plan, rebuild
from hub.projections import all_projections
from hub.publishing import publish_sample
from producers.sample import generate_sample
from tests.conftest import migrated_database
from tests.reliability import reference
from toolkit.db import create_engine
from toolkit.streaming.applier import BatchApplier
from toolkit.streaming.bulk import replay_to_end
from toolkit.streaming.dead_letters import DeadLetterSink
from toolkit.streaming.runtime import dead_letter_producer

# Small batches: the incremental side must cross many batch boundaries.
INCREMENTAL_BATCH = 97


@pytest.fixture
async def incremental_url(stack):
    async for url in migrated_database(stack):
        yield url


@pytest.fixture
async def bulk_url(stack):
    async for url in migrated_database(stack):
        yield url


async def publish_refused(settings) -> None:
    """Records no consumer accepts: not JSON, a key that is not the event's learner."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(settings.profiler_topic, b"{not json", key=b"learner-0001")
        await producer.send_and_wait(settings.mentorship_topic, b"[]", key=b"mentee")
    finally:
        await producer.stop()


async def apply_incrementally(settings) -> None:
    engine = create_engine(settings)
    producer = dead_letter_producer(settings)
    await producer.start()
    try:
        for name, projection in all_projections(settings).items():
            sink = DeadLetterSink(producer, settings.dead_letter_topic(name), name)
            applier = BatchApplier(projection, engine, sink, settings)
            await replay_to_end(applier, settings.kafka_bootstrap, projection.topics(settings),
                                max_records=INCREMENTAL_BATCH)
    finally:
        await producer.stop()
        await engine.dispose()


async def rebuild_all(settings, passes: int, workers: int) -> None:
    projections = list(all_projections(settings).values())
    async with connected(settings) as hub:
        await rebuild(hub, projections, await plan(hub, projections),
                      passes=passes, workers=workers)


# Two learner-key ranges (what spans learners — analytics sums, assignment fronts, erasures —
# is carried across passes), and one pass with rows computed by two forked processes.
@pytest.mark.parametrize(("passes", "workers"), [(2, 1), (1, 2)])
async def test_bulk_rebuild_equals_incremental_application(
    settings, incremental_url, bulk_url, passes, workers
):
    sample = generate_sample(2400, 240, 12, seed=11)
    await publish_sample(settings, sample)
    await publish_refused(settings)
    incremental = settings.model_copy(update={"database_url": incremental_url})
    bulk = settings.model_copy(update={"database_url": bulk_url})

    await apply_incrementally(incremental)
    await rebuild_all(bulk, passes, workers)

    live = await reference.table_checksums(incremental_url)
    rebuilt = await reference.table_checksums(bulk_url)
    assert reference.differing(live, rebuilt) == [], {
        t: (live.get(t), rebuilt.get(t)) for t in reference.differing(live, rebuilt)
    }
    empty = [t for t, s in live.items() if s.endswith("(0 rows)")]
    assert empty == [], f"tables the sample leaves empty compare nothing: {empty}"
