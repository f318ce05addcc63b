"""Replay benchmark: the missions projection's bulk replay against a raw aiokafka consume.

Fills a fresh topic with N profiler events (default 200k), then, each phase in its own
process (so CPU and peak RSS are its own): (1) raw aiokafka `getmany` + `json.loads` of
every record; (2) the missions projection replaying the same topic into a fresh database
through the hub's bulk path. Prints one JSON line of figures.

    .venv/bin/python bench/replay.py [--events N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import asyncpg  # noqa: E402
from aiokafka import AIOKafkaConsumer  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # noqa: E402
from aiokafka.structs import TopicPartition  # noqa: E402

from hub.settings import Settings  # noqa: E402

PARTITIONS = 6


def peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM; ru_maxrss would include the parent's before exec)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _measure(fn, *args) -> dict:
    """Run fn in this (child) process; add wall, CPU and peak RSS of the process."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = asyncio.run(fn(*args))
    result["wall_s"] = round(time.perf_counter() - wall, 3)
    result["cpu_s"] = round(time.process_time() - cpu, 3)
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def _child(queue, fn, args) -> None:
    try:
        queue.put(_measure(fn, *args))
    except BaseException as exc:  # report to the parent instead of leaving it waiting
        queue.put({"error": repr(exc)})
        raise


def in_child(fn, *args) -> dict:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=_child, args=(queue, fn, args))
    process.start()
    result = queue.get()
    process.join()
    if "error" in result:
        raise SystemExit(f"{fn.__name__} failed: {result['error']}")
    return result


async def raw_consume(bootstrap: str, topic: str, expected: int) -> dict:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                enable_auto_commit=False, auto_offset_reset="earliest",
                                max_partition_fetch_bytes=8 * 1_048_576,
                                fetch_max_bytes=64 * 1_048_576)
    await consumer.start()
    consumer.assign([TopicPartition(topic, p) for p in range(PARTITIONS)])
    started = time.perf_counter()
    seen = 0
    try:
        while seen < expected:
            batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
            for messages in batch.values():
                for message in messages:
                    json.loads(message.value)
                seen += len(messages)
    finally:
        await consumer.stop()
    seconds = time.perf_counter() - started
    return {"events": seen, "events_per_s": round(seen / seconds)}


async def missions_replay(settings_json: str, topic: str, expected: int) -> dict:
    from aiokafka import AIOKafkaProducer

    from consumers.missions.projection import MissionsProjection
    from hub.db import create_engine
    from hub.streaming.applier import BatchApplier
    from hub.streaming.bulk import replay_to_end
    from hub.streaming.dead_letters import DeadLetterSink

    settings = Settings.model_validate_json(settings_json)
    engine = create_engine(settings, pool_size=2)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    await producer.start()
    projection = MissionsProjection()
    applier = BatchApplier(projection, engine,
                           DeadLetterSink(producer, settings.dead_letter_topic("missions"),
                                          "missions"), settings)
    started = time.perf_counter()
    try:
        stats = await replay_to_end(applier, settings.kafka_bootstrap, [topic])
    finally:
        await producer.stop()
        await engine.dispose()
    seconds = time.perf_counter() - started
    assert stats.records == expected, stats
    return {"events": stats.records, "events_per_s": round(stats.records / seconds),
            "batches": stats.batches, "dead_lettered": stats.dead_lettered}


async def prepare(settings: Settings, events: int) -> tuple[str, str, int]:
    from hub.migrate import upgrade_database
    from producers.publisher import Publisher
    from producers.sample import generate_sample

    run = uuid.uuid4().hex[:8]
    topic = f"bench.{run}.profiler.events"
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
    await admin.close()
    sample = generate_sample(int(events * 1.1) + 100, users=max(1, events // 6),
                             cohorts=40, seed=1)
    messages = sample.profiler_messages()[:events]
    async with Publisher(settings.kafka_bootstrap) as publisher:
        await publisher.publish_many((topic, m.key, m.value) for m in messages)
    database = f"hub_bench_{run}"
    dsn = settings.database_url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    await conn.execute(f'CREATE DATABASE "{database}"')
    await conn.close()
    url = settings.database_url.rsplit("/", 1)[0] + "/" + database
    await asyncio.to_thread(upgrade_database, url)
    return topic, url, len(messages)


async def drop_database(settings: Settings, url: str) -> None:
    conn = await asyncpg.connect(settings.database_url.replace("postgresql+asyncpg://",
                                                               "postgresql://"))
    await conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()

    from hub.stack.api import ensure_stack_up

    ensure_stack_up()
    settings = Settings()
    fill_started = time.perf_counter()
    topic, url, events = asyncio.run(prepare(settings, args.events))
    fill_seconds = time.perf_counter() - fill_started
    replay_settings = settings.model_copy(update={"database_url": url, "batch_size": 5000})
    raw = in_child(raw_consume, settings.kafka_bootstrap, topic, events)
    missions = in_child(missions_replay, replay_settings.model_dump_json(), topic, events)
    asyncio.run(drop_database(settings, url))
    print(json.dumps({
        "benchmark": "replay",
        "events": events,
        "partitions": PARTITIONS,
        "fill_s": round(fill_seconds, 1),
        "raw_aiokafka": raw,
        "missions_replay": missions,
        "ratio_missions_to_raw": round(missions["events_per_s"] / raw["events_per_s"], 3),
    }))


if __name__ == "__main__":
    main()
