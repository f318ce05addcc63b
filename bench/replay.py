"""Replay benchmark: every projection's bulk replay against a raw aiokafka consume.

Fills fresh profiler and mentorship topics with a generated sample of N messages (default
200k, `generate_sample`), then runs each phase in its own spawned process, so that its CPU
time and peak RSS (VmHWM) are its own:

1. raw: aiokafka `getmany` + `json.loads` of every record of both topics (the anchor);
2. alone: each projection replaying its topics into its own fresh database through the bulk
   path (`replay_to_end` with a `BatchApplier`, batches of 5000);
3. all: the five projections replaying concurrently, as asyncio tasks of one process (each
   with its own consumer, as a "rebuild everything" runs), into one fresh database.

Each replay must have handled (applied, dead-lettered or skipped) every record of its topics,
and its stored positions must reach the topics' ends; otherwise the benchmark fails. Topics
and databases are removed afterwards. Prints one JSON line of figures.

    .venv/bin/python bench/replay.py [--events N]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import multiprocessing
import os
import queue as queues
import resource
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import asyncpg  # noqa: E402
from aiokafka import AIOKafkaConsumer  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient  # noqa: E402

from toolkit.settings import Settings  # noqa: E402
from toolkit.streaming.bulk import BULK_BATCH_RECORDS  # noqa: E402

BATCH = BULK_BATCH_RECORDS
COHORTS = 40
EVENTS_PER_LEARNER = 6


# ----- measuring a phase in its own process ---------------------------------------------------


def peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM; ru_maxrss would include the parent's before exec)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


class Window:
    """Wall and CPU time of this process over the measured part of a phase (not its imports,
    connections or checks), and the part of it the garbage collector took."""

    def __enter__(self) -> Window:
        self.gc = 0.0
        self._gc_started = 0.0
        gc.callbacks.append(self._on_gc)
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def _on_gc(self, phase: str, _info: dict) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.gc += time.perf_counter() - self._gc_started

    def __exit__(self, *exc_info) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu
        gc.callbacks.remove(self._on_gc)

    def figures(self, events: int) -> dict:
        return {"events": events, "events_per_s": round(events / self.wall),
                "wall_s": round(self.wall, 2), "cpu_s": round(self.cpu, 2),
                "cpu_us_per_event": round(self.cpu / events * 1e6, 1),
                "gc_s": round(self.gc, 2)}


def _child(results, fn, args) -> None:
    from toolkit.gc_tuning import tune_for_throughput

    tune_for_throughput()  # as every `hub` process does (hub.cli.main)
    try:
        result = asyncio.run(fn(*args))
        result["peak_rss_mb"] = peak_rss_mb()
        results.put(result)
    except BaseException as exc:  # report to the parent instead of leaving it waiting
        results.put({"error": repr(exc)})
        raise


def in_child(fn, *args) -> dict:
    """Run `await fn(*args)` in a fresh (spawned) interpreter; its figures and peak RSS."""
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    process = ctx.Process(target=_child, args=(results, fn, args))
    process.start()
    try:
        while True:
            try:
                result = results.get(timeout=1)
                break
            except queues.Empty:
                if not process.is_alive():
                    raise SystemExit(f"{fn.__name__} died (exit code {process.exitcode})") from None
    finally:
        process.join()
    if "error" in result:
        raise SystemExit(f"{fn.__name__} failed: {result['error']}")
    return result


# ----- the phases ------------------------------------------------------------------------------


async def raw_consume(bootstrap: str, topics: list[str], expected: int) -> dict:
    from toolkit.kafka import topic_partitions

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                enable_auto_commit=False, auto_offset_reset="earliest",
                                max_partition_fetch_bytes=8 * 1_048_576,
                                fetch_max_bytes=64 * 1_048_576)
    await consumer.start()
    seen = 0
    try:
        consumer.assign(await topic_partitions(consumer, topics))
        with Window() as window:
            while seen < expected:
                batch = await consumer.getmany(timeout_ms=1000, max_records=BATCH)
                for messages in batch.values():
                    for message in messages:
                        json.loads(message.value)
                    seen += len(messages)
    finally:
        await consumer.stop()
    return window.figures(seen)


async def replay(settings_json: str, names: list[str], expected: dict[str, int],
                 log_events: int) -> dict:
    """Replay the named projections concurrently (one asyncio task each) from the start of
    their topics; `expected` is the number of records in each one's topics."""
    from hub.projections import all_projections
    from toolkit.db import create_engine
    from toolkit.streaming.applier import BatchApplier
    from toolkit.streaming.bulk import replay_to_end
    from toolkit.streaming.dead_letters import DeadLetterSink
    from toolkit.streaming.runtime import dead_letter_producer

    settings = Settings.model_validate_json(settings_json)
    projections = [all_projections(settings)[name] for name in names]
    producer = dead_letter_producer(settings)
    await producer.start()
    engines = [create_engine(settings, pool_size=2) for _ in projections]
    appliers = [
        BatchApplier(p, engine, DeadLetterSink(producer, settings.dead_letter_topic(p.name),
                                               p.name), settings)
        for p, engine in zip(projections, engines, strict=True)
    ]
    try:
        with Window() as window:
            stats = await asyncio.gather(*(
                replay_to_end(a, settings.kafka_bootstrap, a.projection.topics(settings),
                              max_records=BATCH)
                for a in appliers
            ))
    finally:
        await producer.stop()
        for engine in engines:
            await engine.dispose()
    per_projection = {}
    for name, s in zip(names, stats, strict=True):
        handled = s.applied + s.dead_lettered + s.skipped
        if s.records != expected[name] or handled != s.records:
            raise AssertionError(f"{name}: {expected[name]} records in its topics, read "
                                 f"{s.records}, handled {handled} ({s})")
        per_projection[name] = {"records": s.records, "batches": s.batches,
                                "dead_lettered": s.dead_lettered, "skipped": s.skipped}
    if len(names) == 1:
        return {**window.figures(stats[0].records), **per_projection[names[0]]}
    return {**window.figures(log_events), "mode": "concurrent asyncio tasks, one process",
            "record_applications": sum(s.records for s in stats), "projections": per_projection}


# ----- fixtures: topics, sample, databases -----------------------------------------------------


def bench_settings(settings: Settings, run: str) -> Settings:
    """Fresh topics (dead-letter topics included) for this run; nothing shared is touched."""
    return settings.model_copy(update={
        "profiler_topic": f"bench.{run}.profiler.events",
        "mentorship_topic": f"bench.{run}.mentorship.assignments",
        "dead_letter_suffix": f".bench-{run}.dlq",
        "batch_size": BATCH,
    })


def bench_topics(settings: Settings) -> list[str]:
    from hub.projections import all_projections
    from toolkit.topics import hub_topics

    return [spec.name for spec in hub_topics(settings, list(all_projections()))]


async def fill_topics(settings: Settings, count: int, users: int, cohorts: int) -> dict[str, int]:
    """Create this run's topics and publish `generate_sample(count, users, cohorts)` to them;
    the number of records in each topic."""
    from hub.projections import all_projections
    from producers.publisher import Publisher
    from producers.sample import generate_sample
    from toolkit.topics import ensure_topics, hub_topics

    await ensure_topics(settings.kafka_bootstrap, hub_topics(settings, list(all_projections())))
    sample = generate_sample(count, users=users, cohorts=cohorts, seed=1)
    records = sample.records(settings.profiler_topic, settings.mentorship_topic)
    async with Publisher(settings.kafka_bootstrap) as publisher:
        await publisher.publish_many(records)
    counts = {settings.profiler_topic: 0, settings.mentorship_topic: 0}
    for topic, _, _ in records:
        counts[topic] += 1
    return counts


async def delete_topics(settings: Settings, names: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        if doomed := [n for n in names if n in existing]:
            await admin.delete_topics(doomed)
    finally:
        await admin.close()


def admin_dsn(settings: Settings) -> str:
    return settings.database_url.replace("postgresql+asyncpg://", "postgresql://")


def database_url(settings: Settings, name: str) -> str:
    return settings.database_url.rsplit("/", 1)[0] + "/" + name


async def create_databases(settings: Settings, names: list[str], template: str) -> None:
    """Copies of a migrated template: much quicker than migrating each one."""
    conn = await asyncpg.connect(admin_dsn(settings))
    try:
        for name in names:
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await conn.close()


def create_migrated_database(settings: Settings, name: str) -> str:
    """A fresh database with every migration applied; its URL. (Alembic runs its own event
    loop, so this is called outside one.)"""
    from hub.migrate import upgrade_database

    asyncio.run(_execute(settings, f'CREATE DATABASE "{name}"'))
    url = database_url(settings, name)
    upgrade_database(url)
    return url


async def drop_databases(settings: Settings, names: list[str]) -> None:
    for name in names:
        await _execute(settings, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _execute(settings: Settings, sql: str) -> None:
    conn = await asyncpg.connect(admin_dsn(settings))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def stored_positions(url: str, schema: str) -> dict[str, int]:
    """Records a projection has consumed per topic: the sum of its next offsets."""
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        rows = await conn.fetch(
            f"select topic, sum(next_offset)::bigint from {schema}.positions group by topic")
    finally:
        await conn.close()
    return {topic: total for topic, total in rows}


async def check_positions(settings: Settings, url: str, names: list[str],
                          counts: dict[str, int]) -> None:
    """Fresh topics hold offsets 0..count-1 per partition in all, so a complete replay's
    positions add up to each topic's record count."""
    from hub.projections import all_projections

    for name in names:
        projection = all_projections()[name]
        stored = await stored_positions(url, projection.positions.schema)
        wanted = {t: counts[t] for t in projection.topics(settings)}
        if stored != wanted:
            raise AssertionError(f"{name}: positions {stored}, topics hold {wanted}")


# ----- the run ---------------------------------------------------------------------------------


def ratio(phase: dict, raw: dict) -> float:
    return round(phase["events_per_s"] / raw["events_per_s"], 3)


def run(settings: Settings, events: int) -> dict:
    from hub.projections import all_projections

    names = list(all_projections())
    run_id = uuid.uuid4().hex[:8]
    bench = bench_settings(settings, run_id)
    template = f"hub_bench_{run_id}_template"
    databases = {name: f"hub_bench_{run_id}_{name}" for name in [*names, "all"]}
    try:
        started = time.perf_counter()
        counts = asyncio.run(fill_topics(bench, events, max(1, events // EVENTS_PER_LEARNER),
                                         COHORTS))
        fill_s = time.perf_counter() - started
        create_migrated_database(settings, template)
        asyncio.run(create_databases(settings, list(databases.values()), template))
        expected = {n: sum(counts[t] for t in all_projections()[n].topics(bench)) for n in names}

        def settings_for(key: str) -> str:
            url = database_url(settings, databases[key])
            return bench.model_copy(update={"database_url": url}).model_dump_json()

        raw = in_child(raw_consume, bench.kafka_bootstrap, list(counts), events)
        alone = {}
        for name in names:
            alone[name] = in_child(replay, settings_for(name), [name], expected, events)
            asyncio.run(check_positions(bench, database_url(settings, databases[name]), [name],
                                        counts))
            alone[name]["ratio_to_raw"] = ratio(alone[name], raw)
        together = in_child(replay, settings_for("all"), names, expected, events)
        asyncio.run(check_positions(bench, database_url(settings, databases["all"]), names,
                                    counts))
        together["ratio_to_raw"] = ratio(together, raw)
    finally:
        asyncio.run(drop_databases(settings, [*databases.values(), template]))
        asyncio.run(delete_topics(settings, bench_topics(bench)))
    return {
        "benchmark": "replay",
        "events": events,
        "topics": {"profiler": counts[bench.profiler_topic],
                   "mentorship": counts[bench.mentorship_topic]},
        "partitions": bench.topic_partitions,
        "batch": BATCH,
        "cpus": os.cpu_count(),
        "fill_s": round(fill_s, 1),
        "raw_aiokafka": raw,
        "alone": alone,
        "all": together,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000,
                        help="messages in the sample, both topics together")
    args = parser.parse_args()

    from hub.stack.api import ensure_stack_up

    ensure_stack_up()
    print(json.dumps(run(Settings(), args.events)))


if __name__ == "__main__":
    main()
