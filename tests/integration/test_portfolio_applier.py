"""The portfolio projection through the batch applier on the real PostgreSQL and Kafka."""

from __future__ import annotations

import hashlib
import random

import pytest

from consumers.portfolio.projection import PortfolioProjection
from schemas.registry import encode
from schemas.session_completed import ValueAnswers
from tests.support import db
from tests.support.events import at, completed, erased, invalidated
from tests.support.oracles.portfolio import (
    ExpectedItem,
    ExpectedPortfolio,
    ExpectedStatement,
    portfolios,
)
from toolkit.db import create_engine
from toolkit.lifecycle import erasure_key
from toolkit.streaming.applier import BatchApplier
from toolkit.streaming.dead_letters import DeadLetterSink
from toolkit.streaming.records import Record
from toolkit.streaming.runtime import dead_letter_producer


@pytest.fixture
async def applier(settings):
    engine = create_engine(settings)
    producer = dead_letter_producer(settings)
    await producer.start()
    sink = DeadLetterSink(producer, settings.dead_letter_topic("portfolio"), "portfolio")
    yield BatchApplier(PortfolioProjection(settings.erasure_secret), engine, sink, settings,
                       rng=random.Random(1))
    await producer.stop()
    await engine.dispose()


class Feed:
    """Hands out consecutive offsets of one partition, as a topic would."""

    def __init__(self, topic: str) -> None:
        self.topic, self.offset = topic, 0

    def records(self, events) -> list[Record]:
        start, self.offset = self.offset, self.offset + len(events)
        return [Record(self.topic, 0, start + i, e.key.encode(), encode(e))
                for i, e in enumerate(events)]


def answered(event, values, motivation="I care.", goal="Lead.", track="leadership"):
    data = event.data.model_copy(update={
        "track": track,
        "value_answers": ValueAnswers(core_values=values, motivation=motivation,
                                      impact_goal=goal),
    })
    return event.model_copy(update={"data": data})


async def stored(url: str, prefix: str) -> dict[str, ExpectedPortfolio]:
    """The projection's read models in the oracle's shape, for learners starting with prefix."""
    items = await db.fetch(
        url, "select * from portfolio.items where user_id like $1 "
             "order by created_at desc, profiler_session_id desc", prefix + "%")
    current = await db.fetch(
        url, "select c.user_id, i.* from portfolio.current_statements c "
             "join portfolio.items i using (item_id) where c.user_id like $1", prefix + "%")
    result: dict[str, list[ExpectedItem]] = {}
    for r in items:
        result.setdefault(r["user_id"], []).append(ExpectedItem(
            r["item_id"], r["profiler_session_id"], r["title"], r["statement"], r["status"],
            r["created_at"], r["withdrawn_at"]))
    statements = {
        r["user_id"]: ExpectedStatement(
            r["profiler_session_id"], r["statement"], tuple(r["core_values"]), r["motivation"],
            r["impact_goal"], r["track"], r["created_at"])
        for r in current
    }
    return {u: ExpectedPortfolio(tuple(i), statements.get(u)) for u, i in result.items()}


async def rows_of(url: str, user_id: str) -> dict[str, int]:
    counts = {}
    for table in ("sessions", "invalidations", "items", "current_statements"):
        rows = await db.fetch(url, f"select count(*) as n from portfolio.{table} "
                                   "where user_id = $1", user_id)
        counts[table] = rows[0]["n"]
    return counts


async def test_duplicates_make_one_item_and_the_result_matches_the_oracle(
    applier, settings, unique
):
    a1 = answered(completed(f"{unique}-a", minute=0), ["integrity", "curiosity"])
    a2 = answered(completed(f"{unique}-a", minute=10), ["courage"], goal="Grow a team.")
    b1 = answered(completed(f"{unique}-b", minute=5), [" service "], motivation="")
    events = [a2, a1, b1]
    feed = Feed(settings.profiler_topic)
    first = await applier.apply(feed.records(events + [a1, b1]))
    assert (first.applied, first.dead_lettered) == (5, 0)
    # The same facts again, at new offsets and in a later batch: no new item.
    await applier.apply(feed.records([b1, a2, a1]))
    expected = portfolios(events)
    assert await stored(settings.database_url, unique) == expected
    assert [len(p.items) for p in expected.values()] == [2, 1]
    assert expected[f"{unique}-a"].current.profiler_session_id == a2.data.session_id


async def test_invalidation_withdraws_the_item_in_either_order(applier, settings, unique):
    early, late = f"{unique}-early", f"{unique}-late"
    kept_e, doomed_e = completed(early, minute=0), completed(early, minute=10)
    kept_l, doomed_l = completed(late, minute=0), completed(late, minute=10)
    kill_e = invalidated(early, doomed_e.data.session_id, minute=20)
    kill_l = invalidated(late, doomed_l.data.session_id, minute=20)
    feed = Feed(settings.profiler_topic)
    # One learner's invalidation arrives in a batch before its completion, the other's after.
    await applier.apply(feed.records([kill_e, kept_l, doomed_l]))
    await applier.apply(feed.records([doomed_e, kept_e, kill_l]))

    result = await stored(settings.database_url, unique)
    assert result == portfolios([kill_e, kept_l, doomed_l, doomed_e, kept_e, kill_l])
    for user, kept, doomed in ((early, kept_e, doomed_e), (late, kept_l, doomed_l)):
        items = result[user].items
        assert [(i.profiler_session_id, i.status, i.withdrawn_at) for i in items] == [
            (doomed.data.session_id, "withdrawn", at(20)), (kept.data.session_id, "active", None)]
        assert result[user].current.profiler_session_id == kept.data.session_id


async def test_erasure_leaves_no_row_of_the_learner(applier, settings, unique):
    user = f"{unique}-gone"
    one, two = completed(user, minute=0), completed(user, minute=5)
    feed = Feed(settings.profiler_topic)
    await applier.apply(feed.records([one, two, invalidated(user, two.data.session_id, minute=6)]))
    assert await rows_of(settings.database_url, user) == {
        "sessions": 2, "invalidations": 1, "items": 2, "current_statements": 1}

    await applier.apply(feed.records([erased(user, minute=30)]))
    assert await rows_of(settings.database_url, user) == {
        "sessions": 0, "invalidations": 0, "items": 0, "current_statements": 0}
    # A late redelivery of a pre-erasure completion stays forgotten.
    await applier.apply(feed.records([one]))
    assert await rows_of(settings.database_url, user) == {
        "sessions": 0, "invalidations": 0, "items": 0, "current_statements": 0}
    # `erasures` keeps only a keyed hash, never the id nor its plain SHA-256.
    key = erasure_key(user, settings.erasure_secret)
    plain = hashlib.sha256(user.encode()).hexdigest()
    rows = await db.fetch(
        settings.database_url,
        "select user_hash from portfolio.erasures where user_hash in ($1, $2, $3)",
        user, plain, key,
    )
    assert [r["user_hash"] for r in rows] == [key]


async def test_retake_changes_the_identity_and_an_older_late_session_does_not(
    applier, settings, unique
):
    user = f"{unique}-r"
    first = answered(completed(user, minute=0), ["integrity"], track="defender")
    retake = answered(completed(user, minute=60), ["empathy", "ownership"], goal="Coach.")
    older = answered(completed(user, minute=30), ["fairness"], track="grc")
    feed = Feed(settings.profiler_topic)

    async def current():
        return (await stored(settings.database_url, user))[user].current

    await applier.apply(feed.records([first]))
    assert (await current()).core_values == ("integrity",)
    await applier.apply(feed.records([retake]))
    identity = await current()
    assert (identity.profiler_session_id, identity.core_values, identity.impact_goal) == (
        retake.data.session_id, ("empathy", "ownership"), "Coach.")
    await applier.apply(feed.records([older]))
    assert await current() == identity
    assert len((await stored(settings.database_url, user))[user].items) == 3
