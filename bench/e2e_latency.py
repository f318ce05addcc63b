"""End-to-end latency: produce → projection committed, for live `hub worker` processes,
against raw aiokafka produce → consume of the same records on the same broker, same run.

Fresh topics and a fresh migrated database; one `hub worker NAME` subprocess per projection
(the real faust path, the configured batch size), consumer groups of their own.
A warm-up publishes a few hundred records and waits until every projection has committed
them (so faust's start-up and group join are not measured). Then the rest of a generated
sample is produced at a steady rate. Three observers, each in its own process:

- the producer (this process) notes each record's send time and, once acknowledged, its
  partition and offset;
- a raw aiokafka consumer (no group, every partition, from the start) notes when it
  receives each record: the anchor;
- a poller reads every projection's `positions` table every `--poll-ms` and notes when
  each partition's stored next offset first passed a value. The positions are written in
  the projection's own transaction, so a record is committed (visible to readers) when its
  partition's stored next offset exceeds its offset. A latency is therefore over-stated by
  at most one poll interval plus one query.

Latency = observed − send time (CLOCK_MONOTONIC, one clock for every process). Per
projection p50/p90/p99/max, raw p50/p99, and the gap p99 − raw p99; then each worker's peak
RSS (VmHWM) and CPU time over the steady phase. The goal (`met`): gap ≤ 100 ms
(`GOAL_GAP_S`) and ≤ 150 µs of the worker's CPU per event (`GOAL_CPU_US_PER_EVENT`), nothing
missing. Prints one JSON line.

    .venv/bin/python bench/e2e_latency.py [--rate 500] [--seconds 40] [--projections a,b]
        [--py-spy DIR]

`--py-spy DIR` samples every worker with py-spy (100 Hz, `--nonblocking`) over the steady
phase and drain, one raw (collapsed-stack) file per worker in DIR; `bench/profile_top.py`
turns them into self and inclusive tables. The sampler costs the machine some CPU, so quote
latencies from runs without it.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import asyncpg  # noqa: E402
import procs  # noqa: E402  (bench/procs.py: peak RSS, CPU time)
import replay  # noqa: E402  (bench/replay.py: topics, databases)
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer  # noqa: E402

from toolkit.settings import Settings  # noqa: E402

COHORTS = 40
EVENTS_PER_LEARNER = 6
WARMUP_RECORDS = 300
READY_TIMEOUT_S = 240
DRAIN_TIMEOUT_S = 300
TICK_S = 0.005
# The live path's goal at 500 ev/s with all five workers: at most this much over the raw
# consumer's p99, at most this much of a worker's CPU per event.
GOAL_GAP_S = 0.1
GOAL_CPU_US_PER_EVENT = 150.0

Key = tuple[str, int]  # (topic, partition)


# ----- figures ---------------------------------------------------------------------------------


def percentiles(values: list[float]) -> dict:
    """p50/p90/p99/max/mean in ms of latencies in seconds (nearest-rank percentiles)."""
    if not values:
        return {"count": 0}
    ordered = sorted(values)

    def rank(p: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(p * len(ordered)) - 1))]

    return {"count": len(ordered), "p50_ms": round(rank(0.50) * 1000, 1),
            "p90_ms": round(rank(0.90) * 1000, 1), "p99_ms": round(rank(0.99) * 1000, 1),
            "max_ms": round(ordered[-1] * 1000, 1),
            "mean_ms": round(sum(ordered) / len(ordered) * 1000, 1)}


# ----- observers in their own processes -------------------------------------------------------


def _raw_consumer(bootstrap: str, topics: list[str], expected: int, seen, results) -> None:
    """Receive every record of the topics from the start; report (topic, partition, offset,
    received) for each. `seen` is a shared counter the parent watches."""

    async def consume() -> list[tuple[str, int, int, float]]:
        from toolkit.kafka import topic_partitions

        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                    enable_auto_commit=False, auto_offset_reset="earliest")
        await consumer.start()
        received: list[tuple[str, int, int, float]] = []
        try:
            consumer.assign(await topic_partitions(consumer, topics))
            while len(received) < expected:
                batch = await consumer.getmany(timeout_ms=200)
                now = time.monotonic()
                for tp, messages in batch.items():
                    for message in messages:
                        json.loads(message.value)  # as any consumer would
                        received.append((tp.topic, tp.partition, message.offset, now))
                seen.value = len(received)
        finally:
            await consumer.stop()
        return received

    received = asyncio.run(consume())
    results.put({"received": received, "peak_rss_mb": procs.status_mb(os.getpid())})


def _positions_poller(dsn: str, schemas: list[str], interval: float, ready, stop,
                      results) -> None:
    """Every `interval`, read each schema's positions; report when each (schema, topic,
    partition) first showed each new next offset. `ready` is set after the first reading."""

    async def poll() -> dict:
        sql = " union all ".join(
            f"select '{schema}', topic, partition, next_offset from {schema}.positions"
            for schema in schemas)
        conn = await asyncpg.connect(dsn)
        changes: dict[tuple[str, str, int], list[tuple[int, float]]] = {}
        try:
            while not stop.is_set():
                rows = await conn.fetch(sql)
                now = time.monotonic()
                for schema, topic, partition, next_offset in rows:
                    series = changes.setdefault((schema, topic, partition), [])
                    if not series or series[-1][0] != next_offset:
                        series.append((next_offset, now))
                ready.set()
                await asyncio.sleep(interval)
        finally:
            await conn.close()
        return changes

    results.put({"changes": asyncio.run(poll())})


# ----- workers ---------------------------------------------------------------------------------


def worker_env(settings: Settings, bench: Settings, database_url: str, prefix: str) -> dict:
    """The environment of this run's workers: its topics, database and consumer groups; the
    batch size the hub is configured with."""
    env = dict(os.environ)
    env.update({
        "HUB_KAFKA_BOOTSTRAP": bench.kafka_bootstrap,
        "HUB_DATABASE_URL": database_url,
        "HUB_PROFILER_TOPIC": bench.profiler_topic,
        "HUB_MENTORSHIP_TOPIC": bench.mentorship_topic,
        "HUB_DEAD_LETTER_SUFFIX": bench.dead_letter_suffix,
        "HUB_GROUP_PREFIX": prefix,
        "HUB_BATCH_SIZE": str(settings.batch_size),
        "HUB_WORKER_METRICS_PORT": "0",
        "HUB_LOG_LEVEL": "WARNING",
    })
    return env


def start_workers(names: list[str], env: dict, log_dir: str) -> dict[str, subprocess.Popen]:
    workers = {}
    for name in names:
        log = open(os.path.join(log_dir, f"worker-{name}.log"), "wb")  # noqa: SIM115
        workers[name] = subprocess.Popen(
            [sys.executable, "-m", "hub.cli", "worker", name], env=env,
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
    return workers


def stop_workers(workers: dict[str, subprocess.Popen]) -> None:
    for process in workers.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 30
    for process in workers.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_profilers(workers: dict[str, subprocess.Popen], out_dir: str
                    ) -> list[subprocess.Popen]:
    """py-spy on each worker until it exits or is stopped (SIGINT writes the file)."""
    os.makedirs(out_dir, exist_ok=True)
    py_spy = os.path.join(os.path.dirname(sys.executable), "py-spy")
    return [subprocess.Popen([py_spy, "record", "--pid", str(w.pid), "--rate", "100",
                              "--nonblocking", "--format", "raw",
                              "-o", os.path.join(out_dir, f"{name}.txt")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for name, w in workers.items()]


def stop_profilers(profilers: list[subprocess.Popen]) -> None:
    for profiler in profilers:
        if profiler.poll() is None:
            profiler.send_signal(signal.SIGINT)
    for profiler in profilers:
        try:
            profiler.wait(timeout=30)
        except subprocess.TimeoutExpired:
            profiler.kill()


def check_alive(workers: dict[str, subprocess.Popen], log_dir: str) -> None:
    for name, process in workers.items():
        if process.poll() is not None:
            with open(os.path.join(log_dir, f"worker-{name}.log"), errors="replace") as log:
                tail = log.read()[-2000:]
            raise SystemExit(f"worker {name} exited with {process.returncode}:\n{tail}")


# ----- producing -------------------------------------------------------------------------------


async def committed_counts(dsn: str, schemas: dict[str, str]) -> dict[str, dict[str, int]]:
    """Per projection, the records it has committed per topic (sum of its next offsets)."""
    conn = await asyncpg.connect(dsn)
    try:
        out = {}
        for name, schema in schemas.items():
            rows = await conn.fetch(f"select topic, sum(next_offset)::bigint "
                                    f"from {schema}.positions group by topic")
            out[name] = {topic: total for topic, total in rows}
        return out
    finally:
        await conn.close()


async def wait_committed(dsn: str, schemas: dict[str, str], wanted: dict[str, dict[str, int]],
                         timeout: float, workers: dict[str, subprocess.Popen],
                         log_dir: str) -> float:
    """Poll until every projection has committed `wanted`; the seconds it took."""
    started = time.monotonic()
    while True:
        check_alive(workers, log_dir)
        counts = await committed_counts(dsn, schemas)
        if all(counts[n].get(t, 0) >= c for n in wanted for t, c in wanted[n].items()):
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise SystemExit(f"projections did not commit {wanted} within {timeout}s: {counts}")
        await asyncio.sleep(0.2)


def wanted_counts(records: list[tuple[str, str, bytes]], topics_of: dict[str, list[str]]
                  ) -> dict[str, dict[str, int]]:
    per_topic: dict[str, int] = {}
    for topic, _, _ in records:
        per_topic[topic] = per_topic.get(topic, 0) + 1
    return {name: {t: per_topic.get(t, 0) for t in topics} for name, topics in topics_of.items()}


def new_producer(bootstrap: str) -> AIOKafkaProducer:
    # As `producers.publisher.Publisher` (the relay's producer): idempotent, acks=all, 5 ms linger.
    return AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all",
                            linger_ms=5)


async def publish_all(bootstrap: str, records: list[tuple[str, str, bytes]]) -> None:
    producer = new_producer(bootstrap)
    await producer.start()
    try:
        futures = [await producer.send(t, value=v, key=k.encode()) for t, k, v in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def produce_steadily(bootstrap: str, records: list[tuple[str, str, bytes]], rate: float
                           ) -> tuple[dict[Key, list[tuple[int, float]]], float]:
    """Send the records at `rate` per second; per (topic, partition), (offset, send time) in
    offset order, and the achieved rate."""
    producer = new_producer(bootstrap)
    await producer.start()
    pending: list[tuple[float, asyncio.Future]] = []
    try:
        started = time.monotonic()
        sent = 0
        while sent < len(records):
            due = min(len(records), int((time.monotonic() - started) * rate) + 1)
            while sent < due:
                topic, key, value = records[sent]
                sent_at = time.monotonic()
                pending.append((sent_at, await producer.send(topic, value=value,
                                                              key=key.encode())))
                sent += 1
            await asyncio.sleep(TICK_S)
        elapsed = time.monotonic() - started
        metadata = await asyncio.gather(*(future for _, future in pending))
    finally:
        await producer.stop()
    sends: dict[Key, list[tuple[int, float]]] = {}
    for (sent_at, _), meta in zip(pending, metadata, strict=True):
        sends.setdefault((meta.topic, meta.partition), []).append((meta.offset, sent_at))
    for series in sends.values():
        series.sort()
    return sends, len(records) / elapsed


# ----- latencies -------------------------------------------------------------------------------


def committed_latencies(sends: dict[Key, list[tuple[int, float]]], topics: list[str],
                        changes: dict[Key, list[tuple[int, float]]]) -> tuple[list[float], int]:
    """Latency of each sent record of `topics`: first time its partition's stored next offset
    passed its offset, minus its send time. Also how many were never seen committed."""
    latencies, missing = [], 0
    for key, series in sends.items():
        if key[0] not in topics:
            continue
        seen = changes.get(key, [])
        offsets = [next_offset for next_offset, _ in seen]
        for offset, sent_at in series:
            index = bisect.bisect_right(offsets, offset)  # first next_offset > offset
            if index == len(offsets):
                missing += 1
            else:
                latencies.append(seen[index][1] - sent_at)
    return latencies, missing


def received_latencies(sends: dict[Key, list[tuple[int, float]]],
                       received: list[tuple[str, int, int, float]]) -> tuple[list[float], int]:
    when = {(t, p, o): at for t, p, o, at in received}
    latencies, missing = [], 0
    for (topic, partition), series in sends.items():
        for offset, sent_at in series:
            at = when.get((topic, partition, offset))
            if at is None:
                missing += 1
            else:
                latencies.append(at - sent_at)
    return latencies, missing


# ----- the run ---------------------------------------------------------------------------------


def run(settings: Settings, names: list[str], rate: float, seconds: float,
        poll_ms: float, py_spy_dir: str | None = None) -> dict:
    from hub.projections import all_projections
    from producers.sample import generate_sample
    from toolkit.topics import ensure_topics, hub_topics

    projections = {n: all_projections(settings)[n] for n in names}
    run_id = uuid.uuid4().hex[:8]
    bench = replay.bench_settings(settings, run_id)
    prefix = f"bench-{run_id}"
    database = f"hub_bench_{run_id}_e2e"
    measured = int(rate * seconds)
    total = WARMUP_RECORDS + measured
    sample = generate_sample(total, users=max(1, total // EVENTS_PER_LEARNER), cohorts=COHORTS,
                             seed=3)
    records = sample.records(bench.profiler_topic, bench.mentorship_topic)
    warmup, steady = records[:WARMUP_RECORDS], records[WARMUP_RECORDS:]
    topics_of = {n: p.topics(bench) for n, p in projections.items()}
    schemas = {n: p.positions.schema for n, p in projections.items()}
    log_dir = tempfile.mkdtemp(prefix="hub-bench-e2e-")
    ctx = multiprocessing.get_context("spawn")
    workers: dict[str, subprocess.Popen] = {}
    observers: list = []
    profilers: list[subprocess.Popen] = []
    try:
        asyncio.run(ensure_topics(bench.kafka_bootstrap,
                                  hub_topics(bench, list(all_projections()))))
        url = replay.create_migrated_database(settings, database)
        dsn = url.replace("postgresql+asyncpg://", "postgresql://")
        workers = start_workers(names, worker_env(settings, bench, url, prefix), log_dir)

        raw_results, poll_results = ctx.Queue(), ctx.Queue()
        seen, polling, stop = ctx.Value("q", 0), ctx.Event(), ctx.Event()
        raw = ctx.Process(target=_raw_consumer, args=(
            bench.kafka_bootstrap, [bench.profiler_topic, bench.mentorship_topic], total,
            seen, raw_results))
        poller = ctx.Process(target=_positions_poller, args=(
            dsn, list(schemas.values()), poll_ms / 1000, polling, stop, poll_results))
        observers = [raw, poller]
        raw.start()

        asyncio.run(publish_all(bench.kafka_bootstrap, warmup))
        ready_s = asyncio.run(wait_committed(dsn, schemas, wanted_counts(warmup, topics_of),
                                             READY_TIMEOUT_S, workers, log_dir))
        while seen.value < len(warmup):
            time.sleep(0.05)
        poller.start()
        if not polling.wait(timeout=60):  # its first reading precedes the first measured send
            raise SystemExit("the positions poller did not start")
        cpu_before = {n: procs.cpu_s(w.pid) for n, w in workers.items()}
        services = procs.stack_pids()
        services_before = {name: procs.service_cpu_s(pid) for name, pid in services.items()}
        if py_spy_dir:
            profilers = start_profilers(workers, py_spy_dir)
        steady_started = time.monotonic()
        sends, achieved = asyncio.run(produce_steadily(bench.kafka_bootstrap, steady, rate))
        drain_s = asyncio.run(wait_committed(dsn, schemas, wanted_counts(records, topics_of),
                                             DRAIN_TIMEOUT_S, workers, log_dir))
        steady_s = time.monotonic() - steady_started
        cpu_after = {n: procs.cpu_s(w.pid) for n, w in workers.items()}
        stop_profilers(profilers)
        services_cpu = {name: round(procs.service_cpu_s(pid) - services_before[name], 1)
                        for name, pid in services.items()}
        rss = {n: procs.status_mb(w.pid) for n, w in workers.items()}
        stop.set()
        changes_by_schema = poll_results.get(timeout=60)["changes"]
        raw_out = raw_results.get(timeout=DRAIN_TIMEOUT_S)
    finally:
        stop_profilers(profilers)
        stop_workers(workers)
        for process in observers:
            if process.pid is not None:
                process.join(timeout=10)
                if process.is_alive():
                    process.kill()
        asyncio.run(replay.drop_databases(settings, [database]))
        asyncio.run(replay.delete_topics(settings, replay.bench_topics(bench)))

    raw_latencies, raw_missing = received_latencies(sends, raw_out["received"])
    raw_figures = {**percentiles(raw_latencies), "missing": raw_missing,
                   "peak_rss_mb": raw_out["peak_rss_mb"]}
    goal_ms = GOAL_GAP_S * 1000
    per_projection = {}
    for name in names:
        changes = {(t, p): series for (schema, t, p), series in changes_by_schema.items()
                   if schema == schemas[name]}
        latencies, missing = committed_latencies(sends, topics_of[name], changes)
        figures = percentiles(latencies)
        gap = round(figures["p99_ms"] - raw_figures["p99_ms"], 1) if latencies else None
        cpu = (cpu_after[name] - cpu_before[name]
               if cpu_after[name] is not None and cpu_before[name] is not None else None)
        cpu_per_event = (round(cpu / figures["count"] * 1e6, 1)
                         if cpu is not None and figures["count"] else None)
        per_projection[name] = {
            **figures, "missing": missing, "p99_gap_ms": gap,
            "goal_gap_ms": goal_ms, "goal_cpu_us_per_event": GOAL_CPU_US_PER_EVENT,
            "met": (gap is not None and gap <= goal_ms and not missing
                    and cpu_per_event is not None
                    and cpu_per_event <= GOAL_CPU_US_PER_EVENT),
            "worker_peak_rss_mb": rss[name],
            "worker_cpu_s": round(cpu, 2) if cpu is not None else None,
            "worker_cpu_us_per_event": cpu_per_event,
        }
    return {
        "benchmark": "e2e_latency",
        "rate_per_s": rate,
        "achieved_rate_per_s": round(achieved, 1),
        "seconds": seconds,
        "records": measured,
        "warmup_records": len(warmup),
        "workers_ready_s": round(ready_s, 1),
        "drain_after_last_send_s": round(drain_s, 2),
        "steady_wall_s": round(steady_s, 1),
        "poll_ms": poll_ms,
        "batch_size": settings.batch_size,
        "batch_interval_ms": settings.batch_interval_ms,
        "goal_gap_s": GOAL_GAP_S,
        "cpus": os.cpu_count(),
        # PostgreSQL and Kafka over the steady phase and drain (all workers together).
        "services_cpu_s": services_cpu,
        "raw_aiokafka": raw_figures,
        "projections": per_projection,
        "met": all(p["met"] for p in per_projection.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=500, help="records produced per second")
    parser.add_argument("--seconds", type=float, default=40, help="length of the steady phase")
    parser.add_argument("--projections", default="",
                        help="comma-separated projections (default: all)")
    parser.add_argument("--poll-ms", type=float, default=10,
                        help="how often the positions are read (the latency resolution)")
    parser.add_argument("--py-spy", default=None, metavar="DIR",
                        help="profile each worker with py-spy over the steady phase into DIR")
    args = parser.parse_args()

    from hub.projections import all_projections
    from hub.stack.api import ensure_stack_up

    names = [n for n in args.projections.split(",") if n] or list(all_projections())
    unknown = sorted(set(names) - set(all_projections()))
    if unknown:
        parser.error(f"unknown projections {unknown}; known: {sorted(all_projections())}")
    ensure_stack_up()
    print(json.dumps(run(Settings(), names, args.rate, args.seconds, args.poll_ms,
                         args.py_spy)))


if __name__ == "__main__":
    main()
