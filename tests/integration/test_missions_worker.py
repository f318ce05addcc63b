"""The missions worker process on the real broker and database."""

from __future__ import annotations

import json

import pytest

from tests.conftest import settings_env
from tests.support import db
from tests.support.events import completed, erased, invalidated
from tests.support.kafka import publish_events, publish_raw, read_all
from tests.support.oracles.missions import difficulties as oracle_difficulties
from tests.support.procs import HubProcess


def traffic(prefix: str, learners: int):
    events = []
    for i in range(learners):
        user = f"{prefix}-{i:03d}"
        first = completed(user, minute=i, level=None, score=(i * 7) % 100)
        retake = completed(user, minute=i + 100, level=["novice", "expert", None][i % 3],
                           score=(i * 13) % 100)
        events += [retake, first] if i % 2 else [first, retake]
        if i % 5 == 0:
            events.insert(0, invalidated(user, retake.data.session_id, minute=i + 200))
        if i % 11 == 0:
            events.append(erased(user, minute=i + 300))
    return events


@pytest.fixture
def worker_env(settings):
    return settings_env(settings)


async def test_worker_resumes_after_sigkill_and_skips_poison(settings, worker_env, unique,
                                                            kafka_admin):
    first_half = traffic(f"{unique}a", 60)
    second_half = traffic(f"{unique}b", 60)
    topic = settings.profiler_topic
    await publish_events(settings.kafka_bootstrap, topic, first_half)

    worker = HubProcess(["worker", "missions"], worker_env, f"worker-{unique}-1")
    try:
        await db.wait_until(
            lambda: _handled(settings, len(first_half)), what="first half applied")
    finally:
        worker.kill()

    # Redeliveries of the first half, garbage, and new traffic arrive while no worker runs.
    await publish_events(settings.kafka_bootstrap, topic, first_half[:10] + second_half)
    await publish_raw(settings.kafka_bootstrap, topic, [(f"{unique}x", b"{truncated")])
    total = len(first_half) + 10 + len(second_half) + 1

    worker = HubProcess(["worker", "missions"], worker_env, f"worker-{unique}-2")
    try:
        await db.wait_until(lambda: _handled(settings, total), what="everything handled")
        assert worker.alive(), worker.log_tail()
        expected = oracle_difficulties(first_half + second_half)
        assert await db.difficulties(settings.database_url, unique) == expected

        dead = await read_all(settings.kafka_bootstrap, settings.dead_letter_topic("missions"), 1)
        assert [dict(m.headers)["dlq.reason"] for m in dead] == [b"malformed"]
        logged = [json.loads(line) for line in worker.log_path.read_text().splitlines()
                  if '"dead-lettered"' in line]
        assert [(e["consumer"], e["reason"]) for e in logged] == [("missions", "malformed")]

        # The group's committed offsets catch up with the positions kept in PostgreSQL.
        group = f"{settings.group_prefix}-missions"

        async def committed_matches():
            offsets = await kafka_admin.list_consumer_group_offsets(group)
            kafka = sum(m.offset for tp, m in offsets.items() if tp.topic == topic)
            return kafka == total

        await db.wait_until(committed_matches, what="group offsets committed")
    finally:
        assert worker.stop() in (0, -15), worker.log_tail()


async def _handled(settings, expected: int) -> bool:
    handled = await db.applied_offsets(settings.database_url, "missions", settings.profiler_topic)
    return handled >= expected


async def test_group_offsets_ahead_of_the_projection_lose_nothing(settings, worker_env, unique):
    """If the group's committed offsets ever run ahead of what the projection holds (faust
    acks events even when their processing was cancelled), the worker still resumes from the
    positions stored with the projection."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.structs import TopicPartition

    topic = settings.profiler_topic
    applied_first = traffic(f"{unique}a", 20)
    never_applied = traffic(f"{unique}b", 20)
    await publish_events(settings.kafka_bootstrap, topic, applied_first)
    worker = HubProcess(["worker", "missions"], worker_env, f"worker-{unique}-ahead-1")
    try:
        await db.wait_until(lambda: _handled(settings, len(applied_first)), what="first applied")
    finally:
        worker.kill()
    await publish_events(settings.kafka_bootstrap, topic, never_applied)

    tamper = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap,
                              group_id=f"{settings.group_prefix}-missions",
                              enable_auto_commit=False)
    await tamper.start()
    partitions = [TopicPartition(topic, p) for p in range(settings.topic_partitions)]
    tamper.assign(partitions)
    ends = await tamper.end_offsets(partitions)
    await db.wait_until(lambda: _commit_when_group_is_empty(tamper, ends), what="tampered")
    await tamper.stop()

    worker = HubProcess(["worker", "missions"], worker_env, f"worker-{unique}-ahead-2")
    try:
        total = len(applied_first) + len(never_applied)
        await db.wait_until(lambda: _handled(settings, total), what="second half applied")
        assert await db.difficulties(settings.database_url, unique) == oracle_difficulties(
            applied_first + never_applied)
    finally:
        worker.stop()


async def _commit_when_group_is_empty(consumer, offsets) -> bool:
    """The killed worker's membership lingers until its session times out."""
    from aiokafka.errors import KafkaError

    try:
        await consumer.commit(offsets)
        return True
    except KafkaError:
        return False
