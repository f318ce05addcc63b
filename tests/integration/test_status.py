"""`hub status` figures on the real services."""

from __future__ import annotations

from hub.bootstrap import connected
from hub.operations.status import collect
from hub.projections import all_projections
from tests.support import db
from tests.support.events import completed
from tests.support.kafka import publish_events, publish_raw
from toolkit.db import create_engine
from toolkit.streaming.applier import BatchApplier
from toolkit.streaming.bulk import replay_to_end
from toolkit.streaming.dead_letters import DeadLetterSink
from toolkit.streaming.runtime import dead_letter_producer


async def status_of(settings) -> dict:
    async with connected(settings) as hub:
        return await collect(hub)


async def test_status_reports_lag_freshness_and_dead_letters(settings, unique):
    events = [completed(f"{unique}-{i}", minute=i) for i in range(5)]
    await publish_events(settings.kafka_bootstrap, settings.profiler_topic, events)
    await publish_raw(settings.kafka_bootstrap, settings.profiler_topic, [("k", b"not json")])

    before = (await status_of(settings))["consumers"]["missions"]
    assert before["lag_total"] == 6 and before["dead_letters"] == 0
    assert before["newest_event_applied"] is None

    engine = create_engine(settings)
    producer = dead_letter_producer(settings)
    await producer.start()
    try:
        projection = all_projections(settings)["missions"]
        sink = DeadLetterSink(producer, settings.dead_letter_topic("missions"), "missions")
        applier = BatchApplier(projection, engine, sink, settings)
        await replay_to_end(applier, settings.kafka_bootstrap, [settings.profiler_topic])
    finally:
        await producer.stop()
        await engine.dispose()

    after = (await status_of(settings))["consumers"]["missions"]
    assert after["lag_total"] == 0
    assert after["dead_letters"] == 1
    assert after["newest_event_applied"] == max(e.occurred_at for e in events).isoformat()
    assert after["group"] == f"{settings.group_prefix}-missions"


async def test_status_shows_a_rebuild_in_progress(settings):
    assert not (await status_of(settings))["consumers"]["missions"]["rebuild_in_progress"]
    await db.fetch(settings.database_url, "create schema missions_rebuild")
    try:
        assert (await status_of(settings))["consumers"]["missions"]["rebuild_in_progress"]
    finally:
        await db.fetch(settings.database_url, "drop schema missions_rebuild")
