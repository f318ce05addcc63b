"""CPU per live batch: one projection's `BatchApplier` applying small batches, no Kafka.

A live worker at a trickle applies batches of a few records, so what a batch costs whatever
its size (round trips, statements, the transaction) decides its CPU per event. This applies
`--batches` batches of `--size` records of a generated sample, in offset order, into a fresh
migrated database, and reports this process's CPU per batch and per event (PostgreSQL's is
not included) and the wall time per batch. `--py-spy FILE` samples it (raw format, for
`bench/profile_top.py`).

    .venv/bin/python bench/live_batch_cost.py [--projection missions] [--size 5] [--batches 400]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import replay  # noqa: E402  (bench/replay.py: databases)

from toolkit.settings import Settings  # noqa: E402


class _NoDeadLetters:
    async def send(self, refusals) -> None:
        raise SystemExit(f"the sample should hold no refused records: {refusals[:1]}")


async def measure(settings: Settings, url: str, name: str, size: int, batches: int,
                  py_spy: str | None) -> dict:
    from hub.projections import all_projections
    from producers.sample import generate_sample
    from toolkit.db import create_engine
    from toolkit.streaming.applier import BatchApplier
    from toolkit.streaming.records import Record

    projection = all_projections(settings)[name]
    topics = projection.topics(settings)
    sample = generate_sample(size * batches * 2, users=max(1, size * batches // 6), cohorts=40,
                             seed=5)
    offsets: dict[str, int] = {}
    records = []
    for topic, key, value in sample.records(settings.profiler_topic,
                                            settings.mentorship_topic):
        if topic in topics:
            offset = offsets.get(topic, 0)
            offsets[topic] = offset + 1
            records.append(Record(topic, 0, offset, key.encode(), value))
    records = records[: size * batches]
    engine = create_engine(settings.model_copy(update={"database_url": url}), pool_size=2,
                           pre_ping=False)  # as a worker's (toolkit/streaming/runtime.py)
    applier = BatchApplier(projection, engine, _NoDeadLetters(), settings,
                           rng=random.Random(1))
    chunks = [records[i:i + size] for i in range(0, len(records), size)]
    warm = max(1, len(chunks) // 10)
    for chunk in chunks[:warm]:
        await applier.apply(chunk)
    profiler = None
    if py_spy:
        py_spy_bin = os.path.join(os.path.dirname(sys.executable), "py-spy")
        profiler = subprocess.Popen([py_spy_bin, "record", "--pid", str(os.getpid()),
                                     "--rate", "200", "--format", "raw", "-o", py_spy],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        await asyncio.sleep(1.0)
    cpu, wall = time.process_time(), time.perf_counter()
    for chunk in chunks[warm:]:
        await applier.apply(chunk)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    if profiler is not None:
        profiler.send_signal(2)
        profiler.wait(timeout=30)
    await engine.dispose()
    measured = len(chunks) - warm
    events = sum(len(c) for c in chunks[warm:])
    return {"benchmark": "live_batch_cost", "projection": name, "batch_size": size,
            "batches": measured, "events": events,
            "cpu_us_per_batch": round(cpu / measured * 1e6, 1),
            "cpu_us_per_event": round(cpu / events * 1e6, 1),
            "wall_ms_per_batch": round(wall / measured * 1e3, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projection", default="missions")
    parser.add_argument("--size", type=int, default=5, help="records per batch")
    parser.add_argument("--batches", type=int, default=400)
    parser.add_argument("--py-spy", default=None, metavar="FILE")
    args = parser.parse_args()

    from hub.stack.api import ensure_stack_up

    ensure_stack_up()
    settings = Settings()
    database = f"hub_bench_{uuid.uuid4().hex[:8]}_batch"
    url = replay.create_migrated_database(settings, database)
    try:
        figures = asyncio.run(measure(settings, url, args.projection, args.size, args.batches,
                                      args.py_spy))
    finally:
        asyncio.run(replay.drop_databases(settings, [database]))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
