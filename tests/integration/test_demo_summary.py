"""`hub demo`'s summary from the installed product (no oracle in it): a generated sample
applied by every projection into a database of its own reads as agreeing, its figures are
what the oracles say, and a projection that lost a row is shown as a mismatch."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from hub.demo import summary_of
from hub.demo_summary import render
from hub.projections import all_projections
from producers.sample import SampleTraffic, generate_sample
from tests.conftest import migrated_database
from tests.support import db
from tests.support.oracles import analytics as oracle_analytics
from tests.support.oracles import mentorship as oracle_mentorship
from tests.support.oracles import missions as oracle_missions
from tests.support.oracles import portfolio as oracle_portfolio
from tests.support.oracles import recipes as oracle_recipes
from toolkit.db import create_engine
from toolkit.streaming.applier import BatchApplier
from toolkit.streaming.dead_letters import DeadLetterSink
from toolkit.streaming.records import Record
from toolkit.streaming.runtime import dead_letter_producer

BATCH = 200


@pytest.fixture
async def own_database(stack):
    """The summary counts whole tables, so each test's sample gets a database to itself."""
    async for url in migrated_database(stack):
        yield url


@pytest.fixture
async def applied(settings, own_database):
    """(settings of the database, the sample) once every projection applied the sample."""
    settings = settings.model_copy(update={"database_url": own_database})
    sample = generate_sample(1_500, users=150, cohorts=6, seed=3)
    topics = {"profiler": settings.profiler_topic, "mentorship": settings.mentorship_topic}
    offsets: Counter[str] = Counter()
    records = []
    for message in sample.messages:
        topic = topics[message.topic_kind]
        records.append(Record(topic, 0, offsets[topic], message.key.encode(), message.value))
        offsets[topic] += 1
    engine = create_engine(settings)
    producer = dead_letter_producer(settings)
    await producer.start()
    try:
        for name, projection in all_projections(settings).items():
            applier = BatchApplier(
                projection, engine,
                DeadLetterSink(producer, settings.dead_letter_topic(name), name),
                settings, rng=random.Random(1),
            )
            mine = [r for r in records if r.topic in projection.topics(settings)]
            for start in range(0, len(mine), BATCH):
                outcome = await applier.apply(mine[start : start + BATCH])
                assert outcome.dead_lettered == 0
    finally:
        await producer.stop()
        await engine.dispose()
    return settings, sample


def oracle_figures(sample: SampleTraffic) -> dict[str, int]:
    """The summary's figures as the oracles compute them from the published events."""
    events = sample.profiler_events() + sample.mentorship_events()
    levels = Counter(oracle_missions.difficulties(events).values())
    profiles = oracle_recipes.current_profiles(events)
    items = [i for p in oracle_portfolio.portfolios(events).values() for i in p.items]
    pairs = oracle_mentorship.assignments(events)
    cohorts, enterprises = oracle_analytics.analytics(events)
    return {
        **{f"missions: learners at difficulty {n}": levels.get(n, 0) for n in range(1, 6)},
        "recipes: learners with a skill profile": len(profiles),
        "recipes: opted in to the marketplace": sum(
            p.marketplace_opt_in for p in profiles.values()),
        "portfolio: active value statements": sum(i.status == "active" for i in items),
        "portfolio: withdrawn value statements": sum(i.status == "withdrawn" for i in items),
        "mentorship: active mentor assignments": sum(active for active, _ in pairs.values()),
        "analytics: cohorts": len(cohorts),
        "analytics: learners counted in cohorts": sum(c["learners"] for c in cohorts.values()),
        "analytics: enterprises": len(enterprises),
    }


async def test_the_summary_agrees_and_its_figures_are_the_oracles(applied):
    settings, sample = applied
    published = sample.counts()
    summary = await summary_of(settings, published)
    assert summary.figures == oracle_figures(sample)
    # The sample exercises every bound: invalidations, erasures and deactivations happened.
    assert published["invalidations"] and published["erasures"]
    assert published["mentor_deactivations"]
    lines = render(summary)
    assert [check.name for check in summary.checks if not check.holds] == [], lines
    assert not any("MISMATCH" in line for line in lines)


async def test_a_projection_that_lost_a_learner_is_a_mismatch(applied):
    settings, sample = applied
    rows = await db.fetch(settings.database_url,
                          "delete from recipes.profiles where user_id = "
                          "(select min(user_id) from recipes.profiles) returning user_id")
    assert len(rows) == 1
    summary = await summary_of(settings, sample.counts())
    assert not summary.agrees
    failed = {check.name for check in summary.checks if not check.holds}
    assert failed == {"learners with a current session", "learners at difficulty 1-5"}
    assert sum("MISMATCH" in line for line in render(summary)) == 2
