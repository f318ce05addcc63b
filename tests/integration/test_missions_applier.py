"""The batch applier on the real PostgreSQL and Kafka: once-only effect, dead letters."""

from __future__ import annotations

import json
import random

import pytest

from consumers.missions.projection import MissionsProjection
from schemas.registry import encode
from tests.support import db
from tests.support.events import completed, erased, invalidated
from tests.support.kafka import read_all
from tests.support.oracles.missions import difficulties as oracle_difficulties
from toolkit.db import create_engine
from toolkit.streaming.applier import BatchApplier
from toolkit.streaming.dead_letters import DeadLetterSink
from toolkit.streaming.records import Record
from toolkit.streaming.runtime import dead_letter_producer


@pytest.fixture
async def applier(settings):
    engine = create_engine(settings)
    producer = dead_letter_producer(settings)
    await producer.start()
    projection = MissionsProjection(settings.erasure_secret)
    sink = DeadLetterSink(producer, settings.dead_letter_topic("missions"), "missions")
    yield BatchApplier(projection, engine, sink, settings, rng=random.Random(1))
    await producer.stop()
    await engine.dispose()


def as_records(topic: str, events, partition: int = 0, start: int = 0) -> list[Record]:
    return [
        Record(topic, partition, start + i, e.key.encode(), encode(e))
        for i, e in enumerate(events)
    ]


def history(prefix: str):
    """Retakes, out-of-order arrival, an invalidation before its completion, an erasure."""
    a1 = completed(f"{prefix}-a", minute=0, level="beginner")
    a2 = completed(f"{prefix}-a", minute=10, level="expert")
    b1 = completed(f"{prefix}-b", minute=5, level=None, score=65)
    b2 = completed(f"{prefix}-b", minute=15, level="novice")
    kill_b2 = invalidated(f"{prefix}-b", b2.data.session_id, minute=20)
    c1 = completed(f"{prefix}-c", minute=1, level="advanced")
    gone_c = erased(f"{prefix}-c", minute=30)
    return [a2, a1, kill_b2, b1, b2, c1, gone_c]


async def test_batch_matches_oracle_and_redelivery_is_skipped(applier, settings, unique):
    events = history(unique)
    records = as_records(settings.profiler_topic, events)
    first = await applier.apply(records)
    assert (first.applied, first.dead_lettered, first.skipped) == (len(events), 0, 0)
    expected = oracle_difficulties(events)
    assert expected == {f"{unique}-a": 5, f"{unique}-b": 4}
    assert await db.difficulties(settings.database_url, unique) == expected

    again = await applier.apply(records)
    assert (again.applied, again.skipped) == (0, len(records))
    assert await db.difficulties(settings.database_url, unique) == expected
    assert await db.applied_offsets(settings.database_url, "missions",
                                    settings.profiler_topic) == len(records)


async def test_same_event_twice_at_new_offsets_takes_effect_once(applier, settings, unique):
    events = history(unique)
    records = as_records(settings.profiler_topic, events + events)
    outcome = await applier.apply(records)
    assert outcome.dead_lettered == 0
    assert await db.difficulties(settings.database_url, unique) == oracle_difficulties(events)
    rows = await db.fetch(settings.database_url,
                          "select count(*) as n from missions.sessions where user_id like $1",
                          unique + "%")
    assert rows[0]["n"] == 4  # a1, a2, b1, b2 (b2 invalidated but remembered); c1 erased


async def test_bad_records_are_dead_lettered_with_reason_and_the_rest_applies(
    applier, settings, unique
):
    good = completed(f"{unique}-g", minute=0, level="advanced")
    wrong_key = completed(f"{unique}-h", minute=0, level="advanced")
    newer = json.loads(encode(good))
    newer["schema_version"] = 9
    topic = settings.profiler_topic
    records = [
        Record(topic, 1, 0, b"k", b"\xff\xfenot json", (("trace", b"t-1"),)),
        Record(topic, 1, 1, good.key.encode(), encode(good)),
        Record(topic, 1, 2, b"other-user", encode(wrong_key)),
        Record(topic, 1, 3, good.key.encode(), json.dumps(newer).encode()),
        Record(topic, 1, 4, b"k", b"x" * (settings.max_event_bytes + 1)),
    ]
    outcome = await applier.apply(records)
    assert (outcome.applied, outcome.dead_lettered) == (1, 4)
    assert await db.difficulties(settings.database_url, unique) == {f"{unique}-g": 4}

    dead = await read_all(settings.kafka_bootstrap, settings.dead_letter_topic("missions"), 4)
    reasons = sorted(dict(m.headers)["dlq.reason"].decode() for m in dead)
    assert reasons == ["key_mismatch", "malformed", "oversized", "unknown_schema_version"]
    malformed = next(m for m in dead if dict(m.headers)["dlq.reason"] == b"malformed")
    headers = dict(malformed.headers)
    assert malformed.value == b"\xff\xfenot json" and malformed.key == b"k"
    assert headers["trace"] == b"t-1"
    assert headers["dlq.source.offset"] == b"0" and headers["dlq.source.partition"] == b"1"
    assert headers["dlq.consumer"] == b"missions"


async def test_a_missing_table_is_waited_out_not_dead_lettered(settings, unique):
    """A deployment fault (tables not migrated) must never turn events into dead letters."""
    import asyncio

    engine = create_engine(settings)
    producer = dead_letter_producer(settings)
    await producer.start()
    try:
        sink = DeadLetterSink(producer, settings.dead_letter_topic("missions"), "missions")
        unmigrated = BatchApplier(MissionsProjection(settings.erasure_secret), engine, sink,
                                  settings, table_set=f"missing_{unique}")
        records = as_records(settings.profiler_topic, history(unique))
        task = asyncio.create_task(unmigrated.apply(records))
        await db.wait_until(lambda: _true_when(unmigrated.retrying), what="retrying")
        assert not task.done()
        task.cancel()
    finally:
        await producer.stop()
        await engine.dispose()
    assert await read_all(settings.kafka_bootstrap, settings.dead_letter_topic("missions"),
                          1, timeout=2) == []


async def _true_when(flag: bool) -> bool:
    return flag


async def test_newest_event_applied_never_goes_back(applier, settings, unique):
    """`last_event_at` (freshness in `hub status` and the dashboard) keeps the newest event
    applied so far, even when a later batch holds older events."""
    late = completed(f"{unique}-late", minute=50)
    early = completed(f"{unique}-early", minute=5)
    await applier.apply(as_records(settings.profiler_topic, [late]))
    await applier.apply(as_records(settings.profiler_topic, [early], start=1))
    rows = await db.fetch(
        settings.database_url,
        "select next_offset, last_event_at from missions.positions where topic = $1",
        settings.profiler_topic,
    )
    assert [(r["next_offset"], r["last_event_at"]) for r in rows] == [(2, late.occurred_at)]
