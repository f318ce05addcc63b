"""Profile one projection's bulk replay with pyinstrument (how the replay gaps were found).

Publishes `generate_sample(N)` once to topics named after `--run` (kept between runs, so a
second profile of the same sample skips the fill), replays the projection into a fresh
migrated database under pyinstrument, and prints the profile and the events/s.

    .venv/bin/python bench/profile_replay.py missions [--events 50000] [--run prof1] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.replay import (  # noqa: E402
    BATCH,
    COHORTS,
    EVENTS_PER_LEARNER,
    bench_settings,
    bench_topics,
    create_migrated_database,
    delete_topics,
    drop_databases,
    fill_topics,
    raw_consume,
)
from toolkit.settings import Settings  # noqa: E402


async def topics_exist(settings: Settings) -> bool:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        return settings.profiler_topic in set(await admin.list_topics())
    finally:
        await admin.close()


async def replay_once(settings: Settings, name: str) -> tuple[int, float, float]:
    from hub.projections import all_projections
    from toolkit.db import create_engine
    from toolkit.streaming.applier import BatchApplier
    from toolkit.streaming.bulk import replay_to_end
    from toolkit.streaming.dead_letters import DeadLetterSink
    from toolkit.streaming.runtime import dead_letter_producer

    projection = all_projections(settings)[name]
    producer = dead_letter_producer(settings)
    await producer.start()
    engine = create_engine(settings, pool_size=2)
    applier = BatchApplier(projection, engine, DeadLetterSink(
        producer, settings.dead_letter_topic(name), name), settings)
    try:
        started, cpu = time.perf_counter(), time.process_time()
        stats = await replay_to_end(applier, settings.kafka_bootstrap,
                                    projection.topics(settings), max_records=BATCH)
        return stats.records, time.perf_counter() - started, time.process_time() - cpu
    finally:
        await producer.stop()
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("projection")
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--run", default="profile")
    parser.add_argument("--keep", action="store_true", help="keep the topics for the next run")
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args()

    from pyinstrument import Profiler

    from hub.stack.api import ensure_stack_up
    from toolkit.gc_tuning import tune_for_throughput

    ensure_stack_up()
    tune_for_throughput()
    base = Settings()
    settings = bench_settings(base, args.run)
    if not asyncio.run(topics_exist(settings)):
        asyncio.run(fill_topics(settings, args.events, max(1, args.events // EVENTS_PER_LEARNER),
                                COHORTS))
    db = f"hub_profile_{uuid.uuid4().hex[:8]}"
    url = create_migrated_database(base, db)
    run_settings = settings.model_copy(update={"database_url": url})
    profiler = None if args.no_profile else Profiler(interval=0.0005, async_mode="enabled")
    try:
        if profiler:
            profiler.start()
        records, seconds, cpu = asyncio.run(replay_once(run_settings, args.projection))
        if profiler:
            profiler.stop()
            print(profiler.output_text(unicode=False, color=False, show_all=False))
        from hub.projections import all_projections

        topics = all_projections()[args.projection].topics(settings)
        raw = asyncio.run(raw_consume(settings.kafka_bootstrap, topics, records))
        print(f"raw aiokafka: {raw['events']} records at {raw['events_per_s']} records/s, "
              f"{raw['cpu_us_per_event']} us CPU per record")
        print(f"{args.projection}: {records} records in {seconds:.2f}s = "
              f"{records / seconds:.0f} records/s, {cpu / records * 1e6:.1f} us CPU per record,"
              f" ratio to raw {records / seconds / raw['events_per_s']:.3f}")
    finally:
        asyncio.run(drop_databases(base, [db]))
        if not args.keep:
            asyncio.run(delete_topics(settings, bench_topics(settings)))


if __name__ == "__main__":
    main()
