"""2 MiB events end to end on the real broker: published, consumed, dead-lettered with a
preview and digest, and never able to stop a worker, even when the dead-letter topic was made
with the broker's default 1 MiB `max.message.bytes`."""

from __future__ import annotations

import hashlib
import json

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from consumers.missions.projection import MissionsProjection
from schemas.registry import encode
from tests.conftest import settings_env
from tests.support import db
from tests.support.events import completed
from tests.support.kafka import publish_raw, read_all
from tests.support.oracles.missions import difficulties
from tests.support.procs import run_hub
from toolkit.streaming.bulk import replay_to_end
from toolkit.streaming.dead_letters import PREVIEW_BYTES
from toolkit.streaming.runtime import WorkerRuntime

TWO_MIB = 2 * 1_048_576


def two_mib_event(user: str) -> bytes:
    document = json.loads(encode(completed(user, minute=5)))
    document["padding"] = ""
    document["padding"] = "x" * (TWO_MIB - len(json.dumps(document).encode()))
    value = json.dumps(document).encode()
    assert len(value) == TWO_MIB
    return value


async def recreate_with_broker_defaults(bootstrap: str, topic: str) -> None:
    """The dead-letter topic as an operator might have made it: no max.message.bytes."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([topic])
        await db.wait_until(lambda: _absent(admin, topic), timeout=30, what="topic deleted")
        await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()


async def _absent(admin: AIOKafkaAdminClient, topic: str) -> bool:
    return topic not in await admin.list_topics()


async def replay_missions(settings):
    # exactly what a worker builds
    runtime = WorkerRuntime(MissionsProjection(settings.erasure_secret), settings)
    try:
        applier = await runtime.applier()
        return await replay_to_end(applier, settings.kafka_bootstrap, [settings.profiler_topic])
    finally:
        await runtime.close()


async def test_a_2_mib_event_is_dead_lettered_as_preview_and_digest(settings, unique):
    big_user, next_user = f"{unique}-big", f"{unique}-next"
    oversized = two_mib_event(big_user)
    valid = completed(next_user, minute=6, level="expert")
    await publish_raw(settings.kafka_bootstrap, settings.profiler_topic,
                      [(big_user, oversized), (valid.key, encode(valid))],
                      headers=[("trace", b"t-42")])
    stats = await replay_missions(settings)
    assert (stats.records, stats.applied, stats.dead_lettered) == (2, 1, 1)
    assert await db.difficulties(settings.database_url, unique) == difficulties([valid])
    [letter] = await read_all(settings.kafka_bootstrap, settings.dead_letter_topic("missions"), 1)
    headers = dict(letter.headers)
    assert headers["dlq.reason"] == b"oversized"
    assert headers["dlq.source.topic"] == settings.profiler_topic.encode()
    assert headers["dlq.source.offset"] == b"0"
    assert letter.value == oversized[:PREVIEW_BYTES]
    assert headers["dlq.value.bytes"] == str(TWO_MIB).encode()
    assert headers["dlq.value.sha256"] == hashlib.sha256(oversized).hexdigest().encode()
    assert headers["trace"] == b"t-42"  # the original headers travel when the letter fits


async def test_a_default_size_dead_letter_topic_takes_every_letter_and_the_worker_goes_on(
    settings, unique
):
    await recreate_with_broker_defaults(settings.kafka_bootstrap,
                                        settings.dead_letter_topic("missions"))
    # Refused but within the event limit: its full letter (~1 MiB + headers) would be too large
    # for a default topic, so it travels as preview and digest, the original headers kept.
    near_limit = b"{" + b" " * (settings.max_event_bytes - 2) + b"}"
    oversized, valid = two_mib_event(f"{unique}-big"), completed(f"{unique}-next", minute=6)
    await publish_raw(settings.kafka_bootstrap, settings.profiler_topic,
                      [(f"{unique}-near", near_limit), (f"{unique}-big", oversized),
                       (valid.key, encode(valid))], headers=[("trace", b"t-42")])

    stats = await replay_missions(settings)
    assert (stats.records, stats.applied, stats.dead_lettered) == (3, 1, 2)
    assert await db.difficulties(settings.database_url, unique) == difficulties([valid])
    letters = await read_all(settings.kafka_bootstrap, settings.dead_letter_topic("missions"), 2)
    by_reason = {dict(m.headers)["dlq.reason"]: (m, dict(m.headers)) for m in letters}
    assert sorted(by_reason) == [b"invalid", b"oversized"]
    letter, headers = by_reason[b"invalid"]
    assert letter.value == near_limit[:PREVIEW_BYTES] and headers["trace"] == b"t-42"
    assert headers["dlq.value.bytes"] == str(len(near_limit)).encode()
    letter, headers = by_reason[b"oversized"]
    assert letter.value == oversized[:PREVIEW_BYTES] and headers["trace"] == b"t-42"

    plan = run_hub(["dlq", "redrive", "missions", "--all"], settings_env(settings))
    assert plan.returncode == 0, plan.stderr
    assert "plan: redrive 0 dead letters" in plan.stdout
    assert plan.stdout.count("left alone: holds only a preview") == 2
