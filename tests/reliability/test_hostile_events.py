"""Hostile traffic through the real live workers: 10k bad messages of every kind mixed into a
valid sample on both topics, `hub worker --all` as a user runs it. Every bad message is in each
reading consumer's dead-letter topic with its specific reason (matched by source position),
every valid event is applied (projections equal the oracles), and no worker died."""

from __future__ import annotations

import asyncio
import json
from collections import Counter, defaultdict
from decimal import Decimal

import pytest
from aiokafka import AIOKafkaProducer

from producers.sample import generate_sample
from schemas.registry import decode
from tests.conftest import migrated_database, settings_env
from tests.support import db
from tests.support.hostile import CATEGORY_HEADER, generate_hostile, mix
from tests.support.kafka import read_all
from tests.support.oracles import analytics as oracle_analytics
from tests.support.oracles import mentorship as oracle_mentorship
from tests.support.oracles import missions as oracle_missions
from tests.support.oracles import portfolio as oracle_portfolio
from tests.support.oracles import recipes as oracle_recipes
from tests.support.procs import HubProcess

SAMPLE = {"count": 3000, "users": 200, "cohorts": 6, "seed": 23}
HOSTILE = 11_600  # ~11% are valid (injection, session reuse): over 10k bad ones
CONSUMERS = ("missions", "recipes", "portfolio", "mentorship", "analytics")


@pytest.fixture
async def database_url(stack):
    """A database of its own: the sample's learner ids are the same in every generated sample."""
    async for url in migrated_database(stack):
        yield url


async def publish(settings, mixed) -> list[tuple[str, int, int]]:
    """Publish in order; the (topic, partition, offset) each message landed at."""
    topics = {"profiler": settings.profiler_topic, "mentorship": settings.mentorship_topic}
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all",
                                enable_idempotence=True, max_request_size=8 * 1_048_576)
    await producer.start()
    try:
        futures = [
            await producer.send(topics[m.topic_kind], key=m.key, value=m.value,
                                headers=m.headers)
            for m in mixed
        ]
        sent = await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return [(r.topic, r.partition, r.offset) for r in sent]


def readers(settings) -> dict[str, set[str]]:
    """consumer -> the topics it reads."""
    return {c: {settings.profiler_topic} for c in CONSUMERS} | {
        "mentorship": {settings.profiler_topic, settings.mentorship_topic}}


async def test_hostile_messages_are_dead_lettered_and_valid_ones_applied(settings, unique):
    sample = generate_sample(**SAMPLE)
    hostile = generate_hostile(sample, HOSTILE, seed=29)
    mixed = mix(sample, hostile, seed=31)
    positions = await publish(settings, mixed)
    per_topic = Counter(topic for topic, _, _ in positions)

    env = settings_env(settings)
    workers = HubProcess(["worker", "--all"], env, f"hostile-workers-{unique}")
    try:
        async def all_caught_up():
            for consumer, topics in readers(settings).items():
                for topic in topics:
                    handled = await db.applied_offsets(settings.database_url, consumer, topic)
                    if handled < per_topic[topic]:
                        return False
            return True

        await db.wait_until(all_caught_up, timeout=420, interval=1.0, what="workers caught up")
        assert workers.alive(), workers.log_tail()
    finally:
        workers.stop()
    log = workers.log_path.read_text(errors="replace")
    assert "exited with" not in log, "a worker died and was restarted"
    assert "Traceback" not in log and "crashed" not in log.lower(), workers.log_tail(80)

    # Every bad message is dead-lettered by each consumer reading its topic, with its reason.
    bad = {pos: m.hostile for pos, m in zip(positions, mixed, strict=True) if not m.is_valid}
    assert len(bad) == HOSTILE - sum(h.expected_reason is None for h in hostile) >= 10_000
    dead_lettered = {}
    for consumer, topics in readers(settings).items():
        expected = {pos: h.expected_reason for pos, h in bad.items() if pos[0] in topics}
        letters = await read_all(settings.kafka_bootstrap, settings.dead_letter_topic(consumer),
                                 len(expected), timeout=120)
        got: dict[tuple[str, int, int], str] = {}
        for letter in letters:
            h = dict(letter.headers)
            source = (h["dlq.source.topic"].decode(), int(h["dlq.source.partition"]),
                      int(h["dlq.source.offset"]))
            assert source not in got, f"{consumer}: {source} dead-lettered twice"
            got[source] = h["dlq.reason"].decode()
            assert h[CATEGORY_HEADER] == bad[source].category.encode()  # original headers kept
            assert h["dlq.consumer"] == consumer.encode() and h["dlq.exception"]
        wrong = {pos: (bad[pos].category, bad[pos].note, want, got.get(pos))
                 for pos, want in expected.items() if got.get(pos) != want}
        assert not wrong, f"{consumer}: {len(wrong)} wrong, e.g. {list(wrong.values())[:5]}"
        assert set(got) == set(expected), f"{consumer}: dead-lettered valid messages"
        dead_lettered[consumer] = dict(Counter(got.values()))

    # Every valid event is applied: each projection equals its oracle over the valid events.
    valid_events = [decode(m.value) for m in mixed if m.is_valid]
    await assert_projections_match(settings.database_url, valid_events)
    injected = [h for h in hostile if h.category == "injection"]
    assert injected, "the injection strings were exercised"
    # Session ids reused across learners, arriving before and after their owner's events:
    # the oracles above keep each learner apart, so the projections did too.
    assert reuse_orders(mixed) == {"before the owner", "after the owner"}
    users = {json.loads(h.value)["data"]["user_id"] for h in injected}
    stored = await db.fetch(settings.database_url,
                            "select user_id from missions.difficulty where user_id = any($1)",
                            list(users))
    assert {r["user_id"] for r in stored} == users  # stored verbatim, executed nowhere

    print(json.dumps({"hostile_by_category": counts_by_category(hostile),
                      "valid_messages": len(valid_events), "records": dict(per_topic),
                      "dead_lettered": dead_lettered}))


def reuse_orders(mixed) -> set[str]:
    """Whether `session_reuse` messages arrive before or after the sample's first event of
    the session id they reuse."""
    first: dict[str, int] = {}
    for i, m in enumerate(mixed):
        if m.hostile is None and m.topic_kind == "profiler":
            first.setdefault(json.loads(m.value)["data"].get("session_id"), i)
    return {
        "before the owner" if i < first[sid] else "after the owner"
        for i, m in enumerate(mixed)
        if m.hostile is not None and m.hostile.category == "session_reuse"
        and (sid := json.loads(m.value)["data"]["session_id"]) in first
    }


def counts_by_category(hostile) -> dict[str, dict[str, int]]:
    table: dict[str, dict[str, int]] = defaultdict(dict)
    for (category, reason), n in Counter((h.category, h.expected_reason) for h in hostile).items():
        table[category][reason or "applied"] = n
    return dict(sorted(table.items()))


async def assert_projections_match(url: str, events) -> None:
    rows = await db.fetch(url, "select user_id, difficulty from missions.difficulty")
    assert {r["user_id"]: r["difficulty"] for r in rows} == oracle_missions.difficulties(events)

    profiles = oracle_recipes.current_profiles(events)
    rows = await db.fetch(url, "select user_id, session_id, marketplace_opt_in from "
                               "recipes.profiles")
    assert {r["user_id"]: (r["session_id"], r["marketplace_opt_in"]) for r in rows} == {
        u: (p.session_id, p.marketplace_opt_in) for u, p in profiles.items()}
    rows = await db.fetch(url, "select user_id, skill, score from recipes.skill_scores")
    assert {(r["user_id"], r["skill"]): r["score"] for r in rows} == {
        (u, s): Decimal(str(v)) for u, p in profiles.items() for s, v in p.skill_scores.items()}

    portfolios = oracle_portfolio.portfolios(events)
    rows = await db.fetch(url, "select user_id, item_id, statement, status from portfolio.items")
    assert {(r["user_id"], r["item_id"]): (r["statement"], r["status"]) for r in rows} == {
        (u, i.item_id): (i.statement, i.status) for u, p in portfolios.items() for i in p.items}

    pairs = oracle_mentorship.assignments(events)
    rows = await db.fetch(url, "select mentor_id, mentee_id, active from mentorship.assignments")
    assert {(r["mentor_id"], r["mentee_id"]): r["active"] for r in rows} == {
        pair: active for pair, (active, _) in pairs.items()}
    remembered = {(e.key, e.data.session_id) for e in oracle_mentorship.remembered(events)
                  if e.event_type == "profiler.session.completed"}
    rows = await db.fetch(url, "select user_id, session_id from mentorship.sessions")
    assert {(r["user_id"], r["session_id"]) for r in rows} == remembered

    cohorts, enterprises = oracle_analytics.analytics(events)
    rows = await db.fetch(url, "select scope, group_id, learners, sessions_completed "
                               "from analytics.group_totals")
    expected = {("cohort", g): (b["learners"], b["sessions_completed"]) for g, b in cohorts.items()}
    expected |= {("enterprise", g): (b["learners"], b["sessions_completed"])
                 for g, b in enterprises.items()}
    assert {(r["scope"], r["group_id"]): (r["learners"], r["sessions_completed"])
            for r in rows} == expected
