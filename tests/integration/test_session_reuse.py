"""One learner's events can never reach another learner's projections by reusing a session id
(CONTRACT makes `session_id` unique per session; a buggy or hostile producer may not honour
it). Every projection through the batch applier on the real PostgreSQL, in both arrival
orders, one event per batch: each learner ends exactly as without the other learners."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from consumers.portfolio.decide import item_id_for
from hub.projections import all_projections
from schemas.registry import encode
from tests.conftest import migrated_database
from tests.support import db
from tests.support.events import at, completed, invalidated
from tests.support.oracles import analytics as oracle_analytics
from tests.support.oracles import mentorship as oracle_mentorship
from tests.support.oracles import missions as oracle_missions
from tests.support.oracles import portfolio as oracle_portfolio
from toolkit.db import create_engine
from toolkit.streaming.applier import BatchApplier
from toolkit.streaming.dead_letters import DeadLetterSink
from toolkit.streaming.records import Record
from toolkit.streaming.runtime import dead_letter_producer


@pytest.fixture(scope="module")
async def database_url(stack):
    """A database of its own: other tests compare whole analytics tables with their oracle."""
    async for url in migrated_database(stack):
        yield url


@pytest.fixture
async def appliers(settings):
    engine = create_engine(settings)
    producer = dead_letter_producer(settings)
    await producer.start()
    appliers = [
        BatchApplier(p, engine, DeadLetterSink(producer, settings.dead_letter_topic(n), n),
                     settings, rng=random.Random(1))
        for n, p in all_projections(settings).items()
    ]
    yield appliers
    await producer.stop()
    await engine.dispose()


def scenario(prefix: str):
    """A keeps S (newest) and invalidates S0 at minute 15; B completes its own S and
    invalidates S0 first (minute 3); C invalidates S. Returns (A's events, the others')."""
    a, b, c, cohort = f"{prefix}-a", f"{prefix}-b", f"{prefix}-c", f"{prefix}-cohort"
    a_old = completed(a, minute=0, level="novice", cohort_id=cohort)
    a_new = completed(a, minute=10, level="expert", score=90.0, cohort_id=cohort)
    s0, s = a_old.data.session_id, a_new.data.session_id
    mine = [a_old, a_new, invalidated(a, s0, minute=15)]
    theirs = [
        invalidated(b, s0, minute=3),
        completed(b, minute=20, level="beginner", score=30.0, session_id=s, cohort_id=cohort),
        invalidated(c, s, minute=25),
    ]
    return (a, b, c, cohort, s0, s), mine, theirs


async def feed(appliers, topic: str, events, offset: int) -> int:
    for event in events:  # one event per batch: what is stored must carry the next one
        record = Record(topic, 0, offset, event.key.encode(), encode(event))
        for applier in appliers:
            outcome = await applier.apply([record])
            assert outcome.dead_lettered == 0
        offset += 1
    return offset


@pytest.mark.parametrize("victim_first", [True, False], ids=["victim-first", "intruder-first"])
async def test_reused_session_ids_never_cross_learners(settings, appliers, unique,
                                                       victim_first):
    (a, b, c, cohort, s0, s), mine, theirs = scenario(f"{unique}-reuse")
    events = mine + theirs if victim_first else theirs + mine
    await feed(appliers, settings.profiler_topic, events, 0)
    url = settings.database_url
    people = [a, b, c]

    # missions and recipes: each learner's current session is their own.
    rows = await db.fetch(url, "select user_id, session_id, difficulty from missions.difficulty "
                               "where user_id = any($1)", people)
    assert {r["user_id"]: (r["session_id"], r["difficulty"]) for r in rows} == {
        a: (s, 5), b: (s, 2)}
    assert {u: d for u, d in oracle_missions.difficulties(events).items()} == {a: 5, b: 2}
    rows = await db.fetch(url, "select user_id, session_id from recipes.profiles "
                               "where user_id = any($1)", people)
    assert {r["user_id"]: r["session_id"] for r in rows} == {a: s, b: s}

    # portfolio: A's two items (S0 withdrawn by A's own invalidation), B's one, ids apart.
    rows = await db.fetch(url, "select user_id, item_id, profiler_session_id, status, "
                               "withdrawn_at from portfolio.items where user_id = any($1)",
                          people)
    assert {(r["user_id"], r["profiler_session_id"]): (r["item_id"], r["status"],
                                                      r["withdrawn_at"]) for r in rows} == {
        (a, s0): (item_id_for(a, s0), "withdrawn", at(15)),
        (a, s): (item_id_for(a, s), "active", None),
        (b, s): (item_id_for(b, s), "active", None),
    }
    expected = oracle_portfolio.portfolios(events)
    assert {(u, i.item_id, i.status) for u, p in expected.items() for i in p.items} == {
        (r["user_id"], r["item_id"], r["status"]) for r in rows}
    rows = await db.fetch(url, "select user_id, item_id from portfolio.current_statements "
                               "where user_id = any($1)", people)
    assert {r["user_id"]: r["item_id"] for r in rows} == {
        a: item_id_for(a, s), b: item_id_for(b, s)}

    # mentorship: every learner's sessions and invalidations stay theirs.
    rows = await db.fetch(url, "select user_id, session_id from mentorship.sessions "
                               "where user_id = any($1)", people)
    assert sorted((r["user_id"], str(r["session_id"])) for r in rows) == sorted(
        [(a, str(s0)), (a, str(s)), (b, str(s))])
    rows = await db.fetch(url, "select user_id, session_id, invalidated_at from "
                               "mentorship.invalidation_details where user_id = any($1)", people)
    assert {(r["user_id"], r["session_id"]): r["invalidated_at"] for r in rows} == {
        (a, s0): at(15), (b, s0): at(3), (c, s): at(25)}
    results = oracle_mentorship.mentee_results(events, _catalog())
    assert results[a]["current_session"]["session_id"] == str(s)
    assert results[a]["sessions"][1]["invalidated"]["invalidated_at"].startswith("2026-03-01T09:15")

    # analytics: A and B each count once in the cohort, with their own valid session.
    rows = await db.fetch(url, "select learners, sessions_completed, score_sum from "
                               "analytics.group_totals where scope = 'cohort' and group_id = $1",
                          cohort)
    assert [(r["learners"], r["sessions_completed"], r["score_sum"]) for r in rows] == [
        (2, 2, Decimal("120"))]
    cohorts, _ = oracle_analytics.analytics(events)
    assert (cohorts[cohort]["learners"], cohorts[cohort]["sessions_completed"]) == (2, 2)


def _catalog():
    from consumers.recipes.catalog import shipped_catalog

    return shipped_catalog()
