"""Dead letters listed, shown and redriven after a fix, on the real services: applied once."""

from __future__ import annotations

from consumers.missions.projection import MissionsProjection
from tests.conftest import settings_env
from tests.support import db
from tests.support.events import completed
from tests.support.kafka import publish_events
from tests.support.oracles.missions import difficulties as oracle_difficulties
from tests.support.procs import run_hub
from toolkit.db import create_engine
from toolkit.streaming.applier import BatchApplier
from toolkit.streaming.bulk import replay_to_end
from toolkit.streaming.dead_letters import DeadLetterSink
from toolkit.streaming.runtime import dead_letter_producer


class BuggyMissions(MissionsProjection):
    """The missions projection with a bug that only one event triggers."""

    def __init__(self, erasure_secret: bytes, poison_event_id) -> None:
        super().__init__(erasure_secret)
        self.poison = poison_event_id

    async def apply(self, conn, events):
        if any(e.event_id == self.poison for e in events):
            raise RuntimeError("bug: cannot handle this learner")
        await super().apply(conn, events)


async def replay(settings, projection):
    engine = create_engine(settings)
    producer = dead_letter_producer(settings)
    await producer.start()
    try:
        sink = DeadLetterSink(producer, settings.dead_letter_topic("missions"), "missions")
        applier = BatchApplier(projection, engine, sink, settings)
        return await replay_to_end(applier, settings.kafka_bootstrap, [settings.profiler_topic])
    finally:
        await producer.stop()
        await engine.dispose()


async def test_redrive_after_a_fix_applies_once(settings, unique):
    events = [completed(f"{unique}-{i}", minute=i, level="advanced") for i in range(4)]
    poison = events[2]
    await publish_events(settings.kafka_bootstrap, settings.profiler_topic, events)

    buggy = await replay(settings, BuggyMissions(settings.erasure_secret, poison.event_id))
    assert (buggy.applied, buggy.dead_lettered) == (3, 1)
    assert poison.key not in await db.difficulties(settings.database_url, unique)

    env = settings_env(settings)
    listed = run_hub(["dlq", "list", "missions"], env)
    assert listed.returncode == 0, listed.stderr
    assert "1 dead letters" in listed.stdout and "apply_failed" in listed.stdout
    ref = listed.stdout.split()[5]  # first column of the first row
    shown = run_hub(["dlq", "show", "missions", ref], env)
    assert "cannot handle this learner" in shown.stdout and str(poison.event_id) in shown.stdout

    plan = run_hub(["dlq", "redrive", "missions", "--all"], env)
    assert "plan: redrive 1" in plan.stdout and "nothing done" in plan.stdout
    done = run_hub(["dlq", "redrive", "missions", "--all", "--execute"], env)
    assert "redriven: 1" in done.stdout, done.stdout + done.stderr
    again = run_hub(["dlq", "redrive", "missions", ref, "--execute"], env)
    assert "plan: redrive 0" in again.stdout and "1 already redriven" in again.stdout

    fixed = await replay(settings, MissionsProjection(settings.erasure_secret))
    assert (fixed.records, fixed.applied, fixed.dead_lettered) == (1, 1, 0)
    assert await db.difficulties(settings.database_url, unique) == oracle_difficulties(events)
    assert (await replay(settings, MissionsProjection(settings.erasure_secret))).records == 0
