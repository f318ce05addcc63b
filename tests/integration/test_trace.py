"""`hub trace EVENT_ID` on the real services: an applied, a dead-lettered, a not-yet-reached
and a redriven event, from the topics and positions alone (no tracing export)."""

from __future__ import annotations

import asyncio
import json

from consumers.missions.projection import MissionsProjection
from hub.bootstrap import connected
from hub.operations.dead_letters import read_dead_letters, redrive
from schemas.registry import encode
from tests.conftest import settings_env
from tests.support.events import completed
from tests.support.kafka import publish_events, publish_raw
from tests.support.procs import run_hub
from toolkit.db import create_engine
from toolkit.streaming.applier import BatchApplier
from toolkit.streaming.bulk import replay_to_end
from toolkit.streaming.dead_letters import DeadLetterSink
from toolkit.streaming.runtime import dead_letter_producer

TRACEPARENT = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


class RefusesOneEvent(MissionsProjection):
    def __init__(self, erasure_secret: bytes, poison_event_id) -> None:
        super().__init__(erasure_secret)
        self.poison = poison_event_id

    async def apply(self, conn, events):
        if any(e.event_id == self.poison for e in events):
            raise RuntimeError("bug: cannot handle this learner")
        await super().apply(conn, events)


async def replay_missions(settings, projection) -> None:
    engine = create_engine(settings)
    producer = dead_letter_producer(settings)
    await producer.start()
    try:
        sink = DeadLetterSink(producer, settings.dead_letter_topic("missions"), "missions")
        applier = BatchApplier(projection, engine, sink, settings)
        await replay_to_end(applier, settings.kafka_bootstrap, [settings.profiler_topic])
    finally:
        await producer.stop()
        await engine.dispose()


def trace(event_id, env) -> dict:
    done = run_hub(["trace", str(event_id), "--json"], env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def states(traced: dict, consumer: str) -> list[dict]:
    return [s for s in traced["consumers"] if s["consumer"] == consumer]


async def test_trace_says_where_an_event_is_in_each_consumer(settings, unique):
    events = [completed(f"{unique}-{i}", minute=i) for i in range(3)]
    applied, poison = events[0], events[1]
    await publish_events(settings.kafka_bootstrap, settings.profiler_topic, events)
    await replay_missions(settings, RefusesOneEvent(settings.erasure_secret, poison.event_id))
    late = completed(f"{unique}-late", minute=9)
    await publish_events(settings.kafka_bootstrap, settings.profiler_topic, [late])
    env = settings_env(settings)

    traced = await asyncio.to_thread(trace, applied.event_id, env)
    [copy] = traced["copies"]
    assert copy["topic"] == settings.profiler_topic and copy["key"] == applied.key
    [missions] = states(traced, "missions")
    assert missions["state"] == "applied" and missions["position"] > copy["offset"]
    # The other consumers read the topic too and have not run: not reached, for each.
    others = {s["consumer"]: s["state"] for s in traced["consumers"]}
    assert others == {"missions": "applied", "recipes": "not_reached",
                      "portfolio": "not_reached", "analytics": "not_reached",
                      "mentorship": "not_reached"}

    [refused] = states(await asyncio.to_thread(trace, poison.event_id, env), "missions")
    assert refused["state"] == "dead_lettered"
    assert refused["dead_letter"]["reason"] == "apply_failed"
    assert "cannot handle this learner" in refused["detail"]

    [waiting] = states(await asyncio.to_thread(trace, late.event_id, env), "missions")
    assert waiting["state"] == "not_reached" and "ahead of it" in waiting["detail"]

    text = await asyncio.to_thread(run_hub, ["trace", str(poison.event_id)], env)
    assert text.returncode == 0, text.stderr
    assert f"event {poison.event_id} (profiler.session.completed" in text.stdout
    assert "dead_lettered" in text.stdout and "reason apply_failed" in text.stdout


async def test_a_redriven_event_shows_both_copies_in_one_trace(settings, unique):
    poison = completed(f"{unique}-p", minute=1)
    await publish_raw(settings.kafka_bootstrap, settings.profiler_topic,
                      [(poison.key, encode(poison))], headers=[("traceparent", TRACEPARENT)])
    await replay_missions(settings, RefusesOneEvent(settings.erasure_secret, poison.event_id))
    async with connected(settings) as hub:
        letters = await read_dead_letters(hub, "missions")
        assert len(await redrive(hub, "missions", letters)) == 1
    await replay_missions(settings, MissionsProjection(settings.erasure_secret))

    traced = await asyncio.to_thread(trace, poison.event_id, settings_env(settings))
    first, second = traced["copies"]
    assert second["redriven_from"] and not first["redriven_from"]
    # The dead letter kept the trace context and the redrive republished it.
    assert first["traceparent"] == second["traceparent"] == TRACEPARENT.decode()
    assert [s["state"] for s in states(traced, "missions")] == ["dead_lettered", "applied"]


async def test_an_unknown_or_malformed_event_id_is_one_line_and_exit_2(settings):
    env = settings_env(settings)
    for argument, message in (("0b8f0c4e-9c1a-4c55-8d1e-3f3a1c7e2b10", "not found in"),
                              ("not-a-uuid", "not an event id")):
        done = await asyncio.to_thread(run_hub, ["trace", argument, "--scan-limit", "50"], env)
        assert done.returncode == 2 and done.stderr.startswith("hub trace: ")
        assert message in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
