"""Full rebuild of every projection from N events (default 1M), as an operator runs it.

1. A spawned process generates `generate_sample(N)` and publishes it to fresh topics with
   one aiokafka producer that queues every record before awaiting any acknowledgement
   (idempotent, acks=all, large batches); generation and publishing are timed apart.
2. Anchor: a raw aiokafka consume (`getmany` + `json.loads`) of the same N records, in its
   own process (`bench/replay.py`'s `raw_consume`).
3. `hub rebuild --all --execute`: one process reads the topics once and rebuilds every
   projection (the bulk path), against a fresh migrated database. Its wall time (start to
   exit, imports included: what the operator waits for), the rebuild time and phases it
   reports, its CPU time (`wait4`), its peak RSS (VmHWM, read from /proc every 0.1 s), and
   the CPU PostgreSQL and Kafka spent meanwhile. `--per-projection` runs `hub rebuild NAME
   --execute` per projection instead (all at once, or one after another with
   `--sequential`): each one's ratio to the raw consume is its replay figure.

Afterwards every projection's stored positions must add up to its topics' record counts,
or the benchmark fails. Goal: the whole rebuild from 1M events within 60 s.
Topics and the database are removed afterwards. Prints one JSON line.

    .venv/bin/python bench/rebuild.py [--events N] [--sequential] [--projections a,b]
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import procs  # noqa: E402  (bench/procs.py: peak RSS, CPU time)
import replay  # noqa: E402  (bench/replay.py: topics, databases, raw consume, child processes)
from aiokafka import AIOKafkaProducer  # noqa: E402

from toolkit.settings import Settings  # noqa: E402

COHORTS = 40
EVENTS_PER_LEARNER = 6
GOAL_SECONDS = 60
GOAL_RATIO = 0.5  # each projection's replay against the raw consume
GOAL_EVENTS = 1_000_000
POLL_S = 0.1
REBUILT = re.compile(r"rebuilt (\S+): (\d+) records in ([\d.]+)s \((\d+) passes\), (\d+) refused")
PHASES = re.compile(r"phases (\{.*\}); peak RSS")


# ----- publishing ------------------------------------------------------------------------------


async def generate_and_publish(settings_json: str, count: int) -> dict:
    """Runs in its own process, so the parent stays small (its RSS would otherwise count in
    a child's peak before exec). The records per topic and the generate/publish times."""
    from hub.projections import all_projections
    from producers.sample import generate_sample
    from toolkit.topics import ensure_topics, hub_topics

    settings = Settings.model_validate_json(settings_json)
    await ensure_topics(settings.kafka_bootstrap, hub_topics(settings, list(all_projections())))
    started = time.perf_counter()
    sample = generate_sample(count, users=max(1, count // EVENTS_PER_LEARNER), cohorts=COHORTS,
                             seed=1)
    records = sample.records(settings.profiler_topic, settings.mentorship_topic)
    generate_s = time.perf_counter() - started
    del sample
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap,
                                enable_idempotence=True, acks="all", linger_ms=20,
                                max_batch_size=512 * 1024, max_request_size=4 * 1_048_576)
    await producer.start()
    try:
        started = time.perf_counter()
        futures = [await producer.send(t, value=v, key=k.encode()) for t, k, v in records]
        await asyncio.gather(*futures)
        publish_s = time.perf_counter() - started
    finally:
        await producer.stop()
    counts: dict[str, int] = {settings.profiler_topic: 0, settings.mentorship_topic: 0}
    for topic, _, _ in records:
        counts[topic] += 1
    return {"counts": counts, "bytes": sum(len(v) for _, _, v in records),
            "generate_s": round(generate_s, 1), "publish_s": round(publish_s, 1),
            "publish_events_per_s": round(count / publish_s)}


# ----- rebuild processes -----------------------------------------------------------------------


def rebuild_env(bench: Settings, database_url: str, prefix: str) -> dict:
    env = dict(os.environ)
    env.update({
        "HUB_KAFKA_BOOTSTRAP": bench.kafka_bootstrap,
        "HUB_DATABASE_URL": database_url,
        "HUB_PROFILER_TOPIC": bench.profiler_topic,
        "HUB_MENTORSHIP_TOPIC": bench.mentorship_topic,
        "HUB_DEAD_LETTER_SUFFIX": bench.dead_letter_suffix,
        "HUB_GROUP_PREFIX": prefix,
    })
    return env


class RebuildProcess:
    """One `hub rebuild NAME --execute` process: started, watched, reaped with its rusage."""

    def __init__(self, name: str, env: dict, log_dir: str) -> None:
        self.name = name
        target = ["--all"] if name == "all" else [name]
        self.out_path = os.path.join(log_dir, f"rebuild-{name}.out")
        self.err_path = os.path.join(log_dir, f"rebuild-{name}.err")
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.started = time.perf_counter()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "hub.cli", "rebuild", *target, "--execute"],
                env=env, stdout=out, stderr=err)
        self.peak_rss_mb: float | None = None
        self.exit_code: int | None = None
        self.wall_s = 0.0
        self.cpu_s = 0.0

    def poll(self) -> bool:
        """Note its peak RSS; reap it if it has exited. True once it has."""
        if self.exit_code is not None:
            return True
        peak = procs.status_mb(self.process.pid)
        if peak is not None:
            self.peak_rss_mb = max(peak, self.peak_rss_mb or 0.0)
        pid, status, usage = os.wait4(self.process.pid, os.WNOHANG)
        if pid == 0:
            return False
        self.wall_s = time.perf_counter() - self.started
        self.exit_code = os.waitstatus_to_exitcode(status)
        self.process.returncode = self.exit_code  # reaped here; Popen must not wait again
        self.cpu_s = usage.ru_utime + usage.ru_stime
        return True

    def kill(self) -> None:
        if self.exit_code is None:
            self.process.kill()
            os.waitpid(self.process.pid, 0)
            self.exit_code = -9

    def figures(self) -> dict:
        with open(self.out_path, errors="replace") as out:
            printed = out.read()
        found = REBUILT.search(printed)
        phases = PHASES.search(printed)
        if self.exit_code != 0 or found is None:
            with open(self.err_path, errors="replace") as err:
                tail = err.read()[-2000:]
            raise SystemExit(f"hub rebuild {self.name} exited with {self.exit_code}:\n{tail}")
        records = int(found.group(2))
        return {"records": records, "wall_s": round(self.wall_s, 1),
                "rebuild_s": float(found.group(3)), "passes": int(found.group(4)),
                "refused": int(found.group(5)),
                "events_per_s": round(records / self.wall_s),
                "cpu_s": round(self.cpu_s, 1),
                "cpu_us_per_event": round(self.cpu_s / max(records, 1) * 1e6, 1),
                "peak_rss_mb": self.peak_rss_mb,
                "phases": ast.literal_eval(phases.group(1)) if phases else None}


def run_rebuilds(names: list[str], env: dict, log_dir: str, sequential: bool
                 ) -> tuple[dict, float]:
    """Run the rebuilds (all at once, or one after another); figures per projection and the
    total wall time."""
    groups = [[n] for n in names] if sequential else [names]
    started = time.perf_counter()
    done: dict[str, RebuildProcess] = {}
    for group in groups:
        running = [RebuildProcess(name, env, log_dir) for name in group]
        try:
            while not all([process.poll() for process in running]):
                time.sleep(POLL_S)
        finally:
            for process in running:
                process.kill()
        done.update({process.name: process for process in running})
    wall = time.perf_counter() - started
    return {name: done[name].figures() for name in names}, wall


# ----- the run ---------------------------------------------------------------------------------


def service_pids() -> dict[str, int]:
    """The stack's Kafka and PostgreSQL pids; when the environment points at a stack this
    checkout did not start (`procs.stack_pids` then knows none), the broker and the
    postmaster found in /proc (shared services: other clients' work counts too)."""
    pids = procs.stack_pids()
    if pids:
        return pids
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if b"kafka.Kafka" in argv:
            pids.setdefault("kafka", int(entry))
        elif argv and argv[0].endswith(b"/postgres") and b"-D" in argv:
            pids.setdefault("postgres", int(entry))
    return pids


def run(settings: Settings, names: list[str], events: int, sequential: bool,
        per_projection: bool = False) -> dict:
    from hub.projections import all_projections

    run_id = uuid.uuid4().hex[:8]
    bench = replay.bench_settings(settings, run_id)
    database = f"hub_bench_{run_id}_rebuild"
    log_dir = tempfile.mkdtemp(prefix="hub-bench-rebuild-")
    try:
        published = replay.in_child(generate_and_publish, bench.model_dump_json(), events)
        counts = published.pop("counts")
        raw = replay.in_child(replay.raw_consume, bench.kafka_bootstrap, list(counts), events)
        url = replay.create_migrated_database(settings, database)
        env = rebuild_env(bench, url, f"bench-{run_id}")
        services = service_pids()
        services_before = {name: procs.service_cpu_s(pid) for name, pid in services.items()}
        processes = names if per_projection else ["all"]
        figures, wall = run_rebuilds(processes, env, log_dir, sequential)
        services_cpu = {name: round(procs.service_cpu_s(pid) - services_before[name], 1)
                        for name, pid in services.items()}
        asyncio.run(replay.check_positions(bench, url, names, counts))
    finally:
        asyncio.run(replay.drop_databases(settings, [database]))
        asyncio.run(replay.delete_topics(settings, replay.bench_topics(bench)))
    expected = {n: sum(counts[t] for t in all_projections()[n].topics(bench)) for n in names}
    expected["all"] = events
    for name, one in figures.items():
        if one["records"] < expected[name]:
            raise SystemExit(f"{name} rebuilt {one['records']} of {expected[name]} records")
        one["ratio_to_raw"] = round(one["events_per_s"] / raw["events_per_s"], 3)
        if name != "all":
            one["goal_ratio"] = GOAL_RATIO
            one["met"] = one["ratio_to_raw"] >= GOAL_RATIO
    events_per_s = round(events / wall)
    cpu_total = sum(p["cpu_s"] for p in figures.values()) + sum(services_cpu.values())
    goal_applies = events >= GOAL_EVENTS
    return {
        "benchmark": "rebuild",
        "events": events,
        "topics": {"profiler": counts[bench.profiler_topic],
                   "mentorship": counts[bench.mentorship_topic]},
        "partitions": bench.topic_partitions,
        "mode": ("hub rebuild --all" if not per_projection
                 else "sequential" if sequential else "concurrent processes"),
        "cpus": os.cpu_count(),
        "publish": published,
        "raw_aiokafka": raw,
        "projections": {n: f for n, f in figures.items() if n != "all"},
        "all": {"wall_s": round(wall, 1), "events_per_s": events_per_s,
                "ratio_to_raw": round(events_per_s / raw["events_per_s"], 3),
                "peak_rss_mb_sum": round(sum(p["peak_rss_mb"] or 0
                                             for p in figures.values()), 1),
                "cpu_s": round(sum(p["cpu_s"] for p in figures.values()), 1),
                "phases": figures["all"]["phases"] if "all" in figures else None,
                "raw_events_per_s": raw["events_per_s"],
                # CPU of the rebuild processes, PostgreSQL and Kafka over the rebuild: with
                # the machine's cores to itself it could not take less than `cpu_bound_s`.
                "services_cpu_s": services_cpu,
                "cpu_s_total": round(cpu_total, 1),
                "cpu_bound_s": round(cpu_total / (os.cpu_count() or 1), 1),
                "goal_s": GOAL_SECONDS if goal_applies else None,
                "met": (wall <= GOAL_SECONDS) if goal_applies else None},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=GOAL_EVENTS,
                        help="messages in the sample, both topics together")
    parser.add_argument("--sequential", action="store_true",
                        help="rebuild one projection after another instead of all at once")
    parser.add_argument("--per-projection", action="store_true",
                        help="one `hub rebuild NAME` process per projection, not `--all`")
    parser.add_argument("--projections", default="",
                        help="comma-separated projections (default: all)")
    args = parser.parse_args()

    from hub.projections import all_projections
    from hub.stack.api import ensure_stack_up

    names = [n for n in args.projections.split(",") if n] or list(all_projections())
    unknown = sorted(set(names) - set(all_projections()))
    if unknown:
        parser.error(f"unknown projections {unknown}; known: {sorted(all_projections())}")
    ensure_stack_up()
    print(json.dumps(run(Settings(), names, args.events, args.sequential,
                         args.per_projection or bool(args.projections))))


if __name__ == "__main__":
    main()
