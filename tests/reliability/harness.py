"""What every reliability run shares: its scale, the workers it starts, kills and restarts,
publishing in chunks, waiting until every record is handled, and the final verdict."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections import Counter
from dataclasses import dataclass

from hub.projections import all_projections
from producers.publisher import Publisher
from producers.sample import SampleTraffic, generate_sample
from tests.reliability import effects, reference
from tests.reliability.checker import Verdict, check
from tests.support import db
from tests.support.procs import HubProcess
from toolkit.lag import end_offsets
from toolkit.settings import Settings

CONSUMERS = tuple(all_projections())


@dataclass(frozen=True)
class Scale:
    """Bounded in CI; `HUB_SOAK=1` (what `make soak` sets) runs the long form."""

    events: int
    users: int
    kills: int
    broker_restarts: int
    database_restarts: int
    catch_up_seconds: float

    @classmethod
    def from_environ(cls) -> Scale:
        if os.environ.get("HUB_SOAK", "") not in ("", "0"):
            return cls(events=int(os.environ.get("HUB_SOAK_EVENTS", "100000")), users=5000,
                       kills=int(os.environ.get("HUB_SOAK_KILLS", "24")),
                       broker_restarts=3, database_restarts=3, catch_up_seconds=1800)
        return cls(events=12_000, users=1200, kills=8, broker_restarts=3, database_restarts=3,
                   catch_up_seconds=600)


def sample_for(scale: Scale, seed: int) -> SampleTraffic:
    return generate_sample(scale.events, scale.users, 12, seed=seed)


def chunks(sample: SampleTraffic, settings: Settings, parts: int) -> list[list]:
    records = sample.records(settings.profiler_topic, settings.mentorship_topic)
    size = -(-len(records) // parts)
    return [records[i:i + size] for i in range(0, len(records), size)]


async def publish(settings: Settings, records: list) -> None:
    """Publish with the hub's idempotent, acks=all publisher; returns once all are acked."""
    async with Publisher(settings.kafka_bootstrap) as publisher:
        await publisher.publish_many(records)


class Clock:
    """Prints how long each phase of a run took (for the soak report; nothing asserts on it)."""

    def __init__(self, run: str) -> None:
        self.run = run
        self.started = time.monotonic()

    def lap(self, phase: str) -> None:
        now = time.monotonic()
        print(f"[{self.run}] {now - self.started:7.1f}s {phase}", flush=True)


class WorkerPool:
    """`hub worker NAME` processes, started, killed and restarted as a run needs."""

    def __init__(self, env: dict[str, str], tag: str) -> None:
        self.env = env
        self.tag = tag
        self.workers: dict[str, list[HubProcess]] = {}
        self.faults: Counter = Counter()
        self._armed: set[HubProcess] = set()  # started with a crash point: may die by itself
        self._spawned = 0

    def start(self, name: str, **extra_env: str) -> HubProcess:
        self._spawned += 1
        proc = HubProcess(["worker", name], {**self.env, **extra_env},
                          f"{self.tag}-{name}-{self._spawned}")
        if any(key.startswith("HUB_TEST_") for key in extra_env):
            self._armed.add(proc)
        self.workers.setdefault(name, []).append(proc)
        return proc

    def kill(self, proc: HubProcess, kind: str = "sigkill_random") -> None:
        proc.kill()
        for procs in self.workers.values():
            if proc in procs:
                procs.remove(proc)
        self.faults[kind] += 1

    def restart_dead(self) -> int:
        """Start a fresh worker for each one that died by itself (a crash point); a worker
        that died otherwise is a failure of the run."""
        restarted = 0
        for name, procs in self.workers.items():
            for proc in list(procs):
                if proc.alive():
                    continue
                procs.remove(proc)
                code = proc.proc.returncode
                assert proc in self._armed and code == -signal.SIGKILL, (
                    f"worker {name} exited with {code}:\n{proc.log_tail()}")
                proc.kill()  # closes its log
                self.faults["sigkill_after_db_commit"] += 1
                self.start(name)
                restarted += 1
        return restarted

    def alive(self, name: str) -> list[HubProcess]:
        return [p for p in self.workers.get(name, []) if p.alive()]

    def stop_all(self) -> None:
        for procs in self.workers.values():
            for proc in procs:
                proc.stop(timeout=30)
        self.workers.clear()


async def unseen(settings: Settings, consumers=CONSUMERS) -> dict[str, int]:
    """Per consumer: records of its topics it has not handled (end offsets beyond its
    stored positions)."""
    result = {}
    for name in consumers:
        projection = all_projections()[name]
        ends = await end_offsets(settings.kafka_bootstrap, projection.topics(settings))
        rows = await db.fetch(settings.database_url,
                              f"select topic, partition, next_offset from {name}.positions")
        stored = {(r["topic"], r["partition"]): r["next_offset"] for r in rows}
        result[name] = sum(max(0, end - stored.get(tp, 0)) for tp, end in ends.items())
    return result


async def wait_consuming(settings: Settings, consumers=CONSUMERS, timeout: float = 180) -> None:
    """Until every consumer has applied something: its workers are up and in their group."""

    async def started() -> bool:
        for name in consumers:
            rows = await db.fetch(
                settings.database_url,
                f"select coalesce(sum(next_offset), 0) as n from {name}.positions")
            if not rows[0]["n"]:
                return False
        return True

    await db.wait_until(started, timeout=timeout, what="every consumer applying")


async def wait_caught_up(settings: Settings, timeout: float, consumers=CONSUMERS,
                         pool: WorkerPool | None = None) -> None:
    async def done() -> bool:
        if pool is not None:
            pool.restart_dead()
        try:
            return sum((await unseen(settings, consumers)).values()) == 0
        except (OSError, ConnectionError):  # a service that is being restarted
            return False
        except Exception as exc:  # asyncpg's "starting up" errors have no common base
            if "starting up" in str(exc) or "shutting down" in str(exc):
                return False
            raise

    await db.wait_until(done, timeout=timeout, interval=0.5, what="every record handled")


async def verdict(
    run: str,
    settings: Settings,
    sample: SampleTraffic,
    reference_url: str,
    faults: Counter | dict,
    consumers=CONSUMERS,
) -> Verdict:
    """Compare the projections with the oracles (lost / duplicated / unexpected / unseen) and
    every table with an undisturbed bulk run of the same topics; print one JSON line."""
    tables = {f"{c}." for c in consumers}
    keep = lambda table: any(table.startswith(prefix) for prefix in tables)  # noqa: E731
    expected = {t: u for t, u in effects.expected_units(m.event for m in sample.messages).items()
                if keep(t)}
    observed = {t: u for t, u in (await effects.observed_units(settings.database_url)).items()
                if keep(t)}
    result = check(run, expected, observed, await unseen(settings, consumers),
                   events=len(sample), faults=dict(faults))
    await reference.apply_everything(settings.model_copy(update={"database_url": reference_url}),
                                     consumers)
    live = await reference.table_checksums(settings.database_url)
    ref = await reference.table_checksums(reference_url)
    for table in reference.differing(live, ref):
        if keep(table):
            result.differing_tables.append(f"{table} (vs undisturbed run)")
            result.examples[table] = [f"live {live.get(table)} / reference {ref.get(table)}"]
    print(result.summary(), flush=True)
    return result


async def sleep_random(rng: random.Random, low: float = 0.3, high: float = 2.5) -> None:
    await asyncio.sleep(rng.uniform(low, high))


def stopped(proc: HubProcess) -> bool:
    """Whether the process is stopped by a signal (state T in /proc)."""
    try:
        with open(f"/proc/{proc.proc.pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("T", "t")
    except FileNotFoundError:
        return False
