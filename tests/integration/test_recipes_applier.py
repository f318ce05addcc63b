"""The recipes projection through the batch applier on the real PostgreSQL: retakes,
invalidations (even before their completion), erasure, redelivery."""

from __future__ import annotations

import random
import uuid

import pytest

from consumers.recipes.projection import RecipesProjection
from consumers.recipes.queries import load_profile
from schemas.registry import encode, new_event
from schemas.session_completed import SessionCompletedV1
from tests.support import db
from tests.support.events import at, erased, invalidated
from tests.support.oracles.recipes import current_profiles
from toolkit.db import create_engine
from toolkit.streaming.applier import BatchApplier
from toolkit.streaming.dead_letters import DeadLetterSink
from toolkit.streaming.records import Record
from toolkit.streaming.runtime import dead_letter_producer


@pytest.fixture
async def engine(settings):
    engine = create_engine(settings)
    yield engine
    await engine.dispose()


@pytest.fixture
async def applier(settings, engine):
    producer = dead_letter_producer(settings)
    await producer.start()
    sink = DeadLetterSink(producer, settings.dead_letter_topic("recipes"), "recipes")
    yield BatchApplier(RecipesProjection(settings.erasure_secret), engine, sink, settings,
                       rng=random.Random(1))
    await producer.stop()


def session(user: str, minute: float, scores: dict[str, float], *, opt_in: bool = True,
            track: str = "defender", cohort: str | None = "cohort-r",
            enterprise: str | None = "enterprise-r", level: str | None = None):
    data = SessionCompletedV1(
        session_id=uuid.uuid4(), user_id=user, cohort_id=cohort, enterprise_id=enterprise,
        track=track, completed_at=at(minute),
        overall_score=round(sum(scores.values()) / len(scores), 1), recommended_level=level,
        skill_scores=scores,
        value_answers={"core_values": ["integrity"], "motivation": "m", "impact_goal": "g"},
        anti_cheat={"duration_seconds": 900, "flags": [], "suspicion_score": 0.05},
        marketplace_opt_in=opt_in,
    )
    return new_event(data, event_id=uuid.uuid4(), occurred_at=at(minute))


def as_records(topic: str, events, start: int = 0) -> list[Record]:
    return [Record(topic, 0, start + i, e.key.encode(), encode(e)) for i, e in enumerate(events)]


def history(p: str):
    """a: a retake with a different skill set; b: its newer session invalidated, the
    invalidation arriving first; c: erased after its session; d: only an invalidation."""
    a1 = session(f"{p}-a", 0, {"network_security": 50.0, "log_analysis": 41.5}, opt_in=True)
    a2 = session(f"{p}-a", 10, {"network_security": 66.6, "incident_response": 72.0},
                 opt_in=False, track="offensive", cohort="cohort-s", level="advanced")
    b1 = session(f"{p}-b", 5, {"audit": 90.0}, track="grc")
    b2 = session(f"{p}-b", 15, {"audit": 20.0, "privacy": 30.0}, track="grc")
    kill_b2 = invalidated(f"{p}-b", b2.data.session_id, minute=30)
    c1 = session(f"{p}-c", 1, {"communication": 77.7}, track="leadership")
    gone_c = erased(f"{p}-c", minute=40)
    kill_d = invalidated(f"{p}-d", uuid.uuid4(), minute=3)
    return [a2, kill_b2, a1, b1, c1, b2, gone_c, kill_d]


async def stored_profiles(engine, users):
    async with engine.connect() as conn:
        found = {u: await load_profile(conn, u) for u in users}
    return {u: p for u, p in found.items() if p is not None}


async def rows_of(settings, user: str) -> dict[str, int]:
    counts = {}
    for table in ("sessions", "invalidations", "profiles", "skill_scores"):
        rows = await db.fetch(settings.database_url,
                              f"select count(*) as n from recipes.{table} where user_id = $1", user)
        counts[table] = rows[0]["n"]
    return counts


async def test_batch_matches_the_oracle_and_redelivery_is_skipped(
    applier, engine, settings, unique
):
    events = history(unique)
    users = [f"{unique}-{x}" for x in "abcd"]
    records = as_records(settings.profiler_topic, events)
    first = await applier.apply(records)
    assert (first.applied, first.dead_lettered) == (len(events), 0)

    expected = current_profiles(events)
    assert set(expected) == {f"{unique}-a", f"{unique}-b"}
    assert await stored_profiles(engine, users) == expected
    a = expected[f"{unique}-a"]
    assert (a.track, a.difficulty, a.marketplace_opt_in, a.cohort_id) == (
        "offensive", 4, False, "cohort-s")
    assert dict(a.skill_scores) == {"network_security": 66.6, "incident_response": 72.0}

    again = await applier.apply(records)
    assert (again.applied, again.skipped) == (0, len(records))
    assert await stored_profiles(engine, users) == expected


async def test_one_event_per_batch_in_another_order_and_twice_gives_the_same(
    applier, engine, settings, unique
):
    events = history(unique)
    shuffled = events + events
    random.Random(7).shuffle(shuffled)
    for offset, record in enumerate(as_records(settings.profiler_topic, shuffled)):
        record = Record(record.topic, record.partition, offset, record.key, record.value)
        await applier.apply([record])
    users = [f"{unique}-{x}" for x in "abcd"]
    assert await stored_profiles(engine, users) == current_profiles(events)
    rows = await rows_of(settings, f"{unique}-a")
    assert rows == {"sessions": 2, "invalidations": 0, "profiles": 1, "skill_scores": 2}


async def test_invalidating_the_current_session_recomputes_the_profile(
    applier, engine, settings, unique
):
    user = f"{unique}-x"
    old = session(user, 0, {"network_security": 40.0, "log_analysis": 45.0})
    new = session(user, 10, {"cloud_security": 88.8}, opt_in=False)
    topic = settings.profiler_topic
    await applier.apply(as_records(topic, [old, new]))
    assert (await stored_profiles(engine, [user]))[user].session_id == new.data.session_id

    await applier.apply(as_records(topic, [invalidated(user, new.data.session_id, minute=20)],
                                   start=2))
    profile = (await stored_profiles(engine, [user]))[user]
    assert profile.session_id == old.data.session_id and profile.marketplace_opt_in
    assert dict(profile.skill_scores) == {"network_security": 40.0, "log_analysis": 45.0}
    assert (await rows_of(settings, user))["skill_scores"] == 2

    await applier.apply(as_records(topic, [invalidated(user, old.data.session_id, minute=21)],
                                   start=3))
    assert await stored_profiles(engine, [user]) == {}
    assert await rows_of(settings, user) == {
        "sessions": 2, "invalidations": 2, "profiles": 0, "skill_scores": 0}


async def test_erasure_leaves_no_row_and_ignores_older_events_arriving_later(
    applier, engine, settings, unique
):
    user = f"{unique}-e"
    before = session(user, 0, {"audit": 50.0}, track="grc")
    late_old = session(user, 5, {"audit": 99.0}, track="grc")
    after = session(user, 60, {"privacy": 61.0}, track="grc")
    topic = settings.profiler_topic
    await applier.apply(as_records(topic, [before, invalidated(user, uuid.uuid4(), minute=2)]))
    await applier.apply(as_records(topic, [erased(user, minute=30)], start=2))
    assert await rows_of(settings, user) == {
        "sessions": 0, "invalidations": 0, "profiles": 0, "skill_scores": 0}
    hashes = await db.fetch(settings.database_url,
                            "select count(*) as n from recipes.erasures where user_hash = $1",
                            user)
    assert hashes[0]["n"] == 0  # remembered by a one-way hash, never by the id

    await applier.apply(as_records(topic, [late_old], start=3))
    assert await rows_of(settings, user) == {
        "sessions": 0, "invalidations": 0, "profiles": 0, "skill_scores": 0}
    await applier.apply(as_records(topic, [after], start=4))
    profile = (await stored_profiles(engine, [user]))[user]
    assert (profile.session_id, dict(profile.skill_scores)) == (
        after.data.session_id, {"privacy": 61.0})
