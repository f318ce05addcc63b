"""Operating producers' outboxes: several databases relayed at once, sent rows pruned in
batches without waiting on locked rows, the relay's Prometheus figures and `hub status`."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from prometheus_client import REGISTRY

from hub.bootstrap import connected
from hub.operations.status import collect, outbox_status, render
from producers.outbox import enqueue, install
from producers.relay import (
    outbox_engine,
    outbox_name,
    outbox_urls,
    prune_sent,
    run_relays,
)
from tests.support import db
from tests.support.catalog import producer_database
from tests.support.events import completed


async def enqueue_in(url: str, events, topic: str) -> None:
    engine = outbox_engine(url, pool_size=1)
    try:
        async with engine.begin() as conn:
            for event in events:
                await enqueue(conn, event, topic)
    finally:
        await engine.dispose()


def sample(name: str, outbox: str) -> float:
    return REGISTRY.get_sample_value(name, {"outbox": outbox}) or 0.0


async def test_one_relay_serves_several_producer_outboxes_with_figures(stack, settings, unique):
    async with producer_database(stack.database_url) as first, \
            producer_database(stack.database_url) as second:
        for url in (first, second):
            await install(url)
        await enqueue_in(first, [completed(f"{unique}-a{i}", minute=i) for i in range(3)],
                         settings.profiler_topic)
        await enqueue_in(second, [completed(f"{unique}-b{i}", minute=i) for i in range(2)],
                         settings.profiler_topic)
        await db.fetch(first, "update hub_outbox.outbox set created_at = now() - interval '1 hour'")
        configured = settings.model_copy(update={"outbox_database_url": f" {first}, {second} "})
        assert outbox_urls(configured) == [first, second]

        before = await outbox_status(configured)
        assert before[outbox_name(first)]["pending"] == 3
        assert before[outbox_name(first)]["oldest_pending_age_seconds"] >= 3600
        assert before[outbox_name(second)]["pending"] == 2
        assert before[outbox_name(second)]["last_sent_at"] is None

        published = {u: sample("hub_outbox_published_total", outbox_name(u))
                     for u in (first, second)}
        sent = await run_relays(configured, asyncio.Event(), outbox_urls(configured), once=True)
        assert sent == 5
        assert sample("hub_outbox_published_total", outbox_name(first)) - published[first] == 3
        assert sample("hub_outbox_published_total", outbox_name(second)) - published[second] == 2
        for url in (first, second):
            assert sample("hub_outbox_pending_rows", outbox_name(url)) == 0
            assert sample("hub_outbox_oldest_pending_age_seconds", outbox_name(url)) == 0

        async with connected(configured) as hub:
            status = await collect(hub)
        for url in (first, second):
            figures = status["outboxes"][outbox_name(url)]
            assert figures["pending"] == 0 and figures["last_sent_at"] is not None
        text = render(status)
        assert outbox_name(first) in text and outbox_name(second) in text


async def test_status_names_an_outbox_it_cannot_read(stack, settings):
    async with producer_database(stack.database_url) as bare:
        status = await outbox_status(settings.model_copy(update={"outbox_database_url": bare}))
    assert "no hub_outbox.outbox table" in status[outbox_name(bare)]["error"]


async def test_sent_rows_are_pruned_in_batches_without_waiting_on_locks(stack, settings, unique):
    async with producer_database(stack.database_url) as url:
        await install(url)
        await enqueue_in(url, [completed(f"{unique}-{i}", minute=i) for i in range(12)], "t")
        # ids 1-7 sent 10 days ago, 8-9 sent an hour ago, 10-12 pending
        await db.fetch(url, "update hub_outbox.outbox set sent_at = now() - interval '10 days' "
                            "where id <= 7")
        await db.fetch(url, "update hub_outbox.outbox set sent_at = now() - interval '1 hour' "
                            "where id in (8, 9)")
        engine = outbox_engine(url)
        holder = outbox_engine(url, pool_size=1)
        try:
            async with holder.begin() as held:  # another transaction holds an old sent row
                await held.exec_driver_sql("select 1 from hub_outbox.outbox where id = 1 "
                                           "for update")
                pruned = await asyncio.wait_for(prune_sent(engine, timedelta(days=7), 2), 30)
            assert pruned == 6
            assert await prune_sent(engine, timedelta(days=7), 2) == 1  # released: id 1
        finally:
            await holder.dispose()
            await engine.dispose()
        left = await db.fetch(url, "select id, sent_at is null as pending from hub_outbox.outbox "
                                   "order by id")
        assert [(r["id"], r["pending"]) for r in left] == [
            (8, False), (9, False), (10, True), (11, True), (12, True)]
