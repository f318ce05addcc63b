"""The outbox and `hub relay` on the real PostgreSQL and Kafka: what the topic holds."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import func, select

from hub.stack.api import kafka_start, kafka_stop
from producers.outbox import enqueue, outbox
from producers.relay import run_relay
from tests.conftest import settings_env
from tests.support import db
from tests.support.events import completed
from tests.support.kafka import read_all
from tests.support.procs import run_hub
from toolkit.db import create_engine


def events_for(unique: str, keys: int, per_key: int, start: int = 0):
    """Interleaved keys, each key's events numbered in the order they must arrive."""
    return [completed(f"{unique}-k{k:02d}", minute=start + i)
            for i in range(per_key) for k in range(keys)]


async def enqueue_committed(settings, events) -> None:
    engine = create_engine(settings, pool_size=1)
    try:
        async with engine.begin() as conn:
            for event in events:
                await enqueue(conn, event, settings.profiler_topic)
    finally:
        await engine.dispose()


async def pending(settings, unique: str) -> int:
    engine = create_engine(settings, pool_size=1)
    try:
        async with engine.connect() as conn:
            query = select(func.count()).where(outbox.c.sent_at.is_(None),
                                               outbox.c.key.like(f"{unique}-%"))
            return (await conn.execute(query)).scalar_one()
    finally:
        await engine.dispose()


async def topic_event_ids(settings, expected: int, timeout: float = 30.0):
    """(key, event_id) in topic order per partition, hence in order per key."""
    records = await read_all(settings.kafka_bootstrap, settings.profiler_topic, expected,
                             timeout=timeout)
    return [(r.key.decode(), json.loads(r.value)["event_id"]) for r in records]


def per_key(pairs) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, event_id in pairs:
        out.setdefault(key, []).append(str(event_id))
    return out


def first_occurrences(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ids))


async def drain(settings, **options) -> int:
    return await run_relay(settings, asyncio.Event(), once=True, **options)


async def test_enqueue_in_a_rolled_back_transaction_publishes_nothing(settings, unique):
    engine = create_engine(settings, pool_size=1)
    event = completed(f"{unique}-rolled", minute=0)
    try:
        with pytest.raises(RuntimeError):
            async with engine.begin() as conn:
                await enqueue(conn, event, settings.profiler_topic)
                raise RuntimeError("the business write failed")
        async with engine.connect() as conn:
            rows = await conn.execute(select(outbox.c.id).where(outbox.c.key == event.key))
            assert rows.all() == []
    finally:
        await engine.dispose()
    await drain(settings)
    assert await topic_event_ids(settings, 1, timeout=3) == []


async def test_sync_session_enqueue_commits_with_the_business_write(settings, unique):
    from sqlalchemy.orm import Session

    engine = create_engine(settings, pool_size=1)
    event = completed(f"{unique}-sync", minute=0)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(lambda sync: enqueue(Session(bind=sync), event, "t-sync"))
    finally:
        await engine.dispose()
    rows = await db.fetch(settings.database_url,
                          "select topic, key, headers from hub_outbox.outbox where key = $1",
                          event.key)
    assert [(r["topic"], r["key"]) for r in rows] == [("t-sync", event.key)]
    # Leave nothing pending on a topic no test reads.
    await db.fetch(settings.database_url,
                   "update hub_outbox.outbox set sent_at = now() where key = $1", event.key)


async def test_relay_once_publishes_every_key_in_order_and_marks_sent(settings, unique):
    events = events_for(unique, keys=5, per_key=8)
    await enqueue_committed(settings, events)
    done = await asyncio.to_thread(run_hub, ["relay", "--once", "--batch", "7"],
                                   settings_env(settings))
    assert done.returncode == 0, done.stderr
    assert "published" in done.stdout
    got = per_key(await topic_event_ids(settings, len(events)))
    assert got == per_key((e.key, e.event_id) for e in events)
    assert await pending(settings, unique) == 0


async def test_two_relays_at_once_keep_each_key_in_order(settings, unique):
    events = events_for(unique, keys=25, per_key=20)
    await enqueue_committed(settings, events)
    sent = await asyncio.gather(drain(settings, batch=20), drain(settings, batch=20))
    assert sum(sent) == 500 and all(sent), sent
    got = per_key(await topic_event_ids(settings, len(events)))
    assert got == per_key((e.key, e.event_id) for e in events)
    assert await pending(settings, unique) == 0


@pytest.mark.restarts_services
async def test_broker_outage_only_delays_the_outbox(settings, unique):
    before = events_for(unique, keys=4, per_key=10)
    during = events_for(unique, keys=4, per_key=10, start=100)
    await enqueue_committed(settings, before)
    await asyncio.to_thread(kafka_stop)
    stop = asyncio.Event()
    relay = asyncio.create_task(
        run_relay(settings, stop, batch=16, interval=0.2, request_timeout_ms=2_000))
    try:
        await enqueue_committed(settings, during)
        await asyncio.sleep(5)  # the relay meets the outage and keeps retrying
        assert not relay.done()
        assert await pending(settings, unique) == len(before) + len(during)
    finally:
        await asyncio.to_thread(kafka_start)
    try:
        await db.wait_until(lambda: _drained(settings, unique), timeout=120,
                            what="outbox drained after the broker returned")
    finally:
        stop.set()
        await asyncio.wait_for(relay, 60)
    expected = per_key((e.key, e.event_id) for e in before + during)
    got = per_key(await topic_event_ids(settings, len(before) + len(during), timeout=60))
    # A batch that failed may have been partly written: copies are allowed, loss and
    # reordering are not.
    assert {k: first_occurrences(ids) for k, ids in got.items()} == expected


async def _drained(settings, unique: str) -> bool:
    return await pending(settings, unique) == 0
