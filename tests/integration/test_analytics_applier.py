"""The analytics projection through the batch applier on the real PostgreSQL and Kafka:
aggregates equal the oracle whatever the batching, a replay changes nothing, and the
aggregate tables equal a from-scratch GROUP BY over the per-learner state."""

from __future__ import annotations

import asyncio
import random
import zlib

import pytest

from consumers.analytics.decide import Aggregates, SkillTotals, Totals
from consumers.analytics.projection import AnalyticsProjection
from schemas.registry import encode
from tests.support import db
from tests.support.events import erased, invalidated
from tests.support.oracles.analytics import analytics as oracle_analytics
from tests.unit.test_analytics_rules import SKILLS, assert_same, session, views
from toolkit.db import create_engine
from toolkit.streaming.applier import BatchApplier
from toolkit.streaming.dead_letters import DeadLetterSink
from toolkit.streaming.records import Record
from toolkit.streaming.runtime import dead_letter_producer

PARTITIONS = 3
LEVELS = (None, "novice", "beginner", "intermediate", "advanced", "expert")


@pytest.fixture
async def applier(settings):
    engine = create_engine(settings)
    producer = dead_letter_producer(settings)
    await producer.start()
    sink = DeadLetterSink(producer, settings.dead_letter_topic("analytics"), "analytics")
    yield BatchApplier(AnalyticsProjection(settings.erasure_secret), engine, sink, settings,
                       rng=random.Random(1))
    await producer.stop()
    await engine.dispose()


def traffic(prefix: str, learners: int = 40, seed: int = 7):
    """Retakes (some tied), cohort and enterprise moves, learners without cohort or
    enterprise, invalidations (some before their completion), erasures with sessions after
    them, duplicate deliveries; shuffled."""
    rng = random.Random(seed)
    cohorts = [f"{prefix}-c{i}" for i in range(4)]
    enterprise_of = {c: f"{prefix}-e{i % 2}" for i, c in enumerate(cohorts)}
    events = []
    for i in range(learners):
        user = f"{prefix}-u{i:03d}"
        cohort = rng.choice([*cohorts, None])
        minute = 0
        for j in range(rng.randint(0, 4)):
            if j and rng.random() < 0.3:
                cohort = rng.choice([*cohorts, None])
            minute += 0 if rng.random() < 0.1 else rng.randint(1, 20)
            score = round(rng.uniform(0, 100), 1)
            completed = session(
                user, minute=minute, cohort=cohort, score=score,
                enterprise=enterprise_of.get(cohort) if rng.random() < 0.9 else None,
                level=rng.choice(LEVELS),
                skills={s: round(rng.uniform(0, 100), 1)
                        for s in rng.sample(SKILLS, rng.randint(1, len(SKILLS)))},
            )
            events.append(completed)
            if rng.random() < 0.2:
                events.append(invalidated(user, completed.data.session_id,
                                          minute=minute + rng.randint(1, 30)))
        if rng.random() < 0.15:
            events.append(erased(user, minute=minute + 1))
            if rng.random() < 0.5:
                events.append(session(user, minute=minute + 5, cohort=cohort, score=42.5,
                                      enterprise=enterprise_of.get(cohort)))
    events += rng.sample(events, len(events) // 20)
    rng.shuffle(events)
    return events


def as_records(topic: str, events) -> list[Record]:
    """Keyed like the publisher: one learner's events in one partition, offsets in order."""
    next_offset = [0] * PARTITIONS
    records = []
    for e in events:
        partition = zlib.crc32(e.key.encode()) % PARTITIONS
        records.append(Record(topic, partition, next_offset[partition], e.key.encode(),
                              encode(e)))
        next_offset[partition] += 1
    return records


def chunks(records, rng: random.Random):
    start = 0
    while start < len(records):
        size = rng.randint(1, 25)
        yield records[start:start + size]
        start += size


async def stored_views(url: str, prefix: str):
    like = prefix + "%"
    totals = await db.fetch(url, "select * from analytics.group_totals where group_id like $1",
                            like)
    skills = await db.fetch(url, "select * from analytics.group_skills where group_id like $1",
                            like)
    placements = await db.fetch(url, "select * from analytics.placements "
                                     "where cohort_id like $1", like)
    return views(Aggregates(
        totals={(r["scope"], r["group_id"]): Totals(
            r["learners"], r["score_sum"], tuple(r[f"difficulty_{d}"] for d in range(1, 6)),
            r["sessions_completed"]) for r in totals},
        skills={((r["scope"], r["group_id"]), r["skill"]): SkillTotals(r["score_sum"], r["scores"])
                for r in skills},
        placements={(r["cohort_id"], r["enterprise_id"]): r["learners"] for r in placements},
    ))


async def assert_matches_oracle(url: str, prefix: str, events) -> None:
    cohorts, enterprises = await stored_views(url, prefix)
    expected_cohorts, expected_enterprises = oracle_analytics(events)
    assert expected_cohorts and expected_enterprises
    assert_same(cohorts, expected_cohorts)
    assert_same(enterprises, expected_enterprises)


TABLES = ("sessions", "invalidations", "erasures", "group_totals", "group_skills", "placements")


async def snapshot(url: str) -> dict[str, list]:
    return {t: [tuple(r) for r in await db.fetch(url, f"select * from analytics.{t} order by 1, 2")]
            for t in TABLES}


# The aggregates recomputed from the per-learner state in one pass.
FROM_SCRATCH = """
with valid as (
    select s.* from analytics.sessions s
    where not exists (select 1 from analytics.invalidations i where i.session_id = s.session_id)
), current_ as (
    select distinct on (user_id) session_id from valid
    order by user_id, completed_at desc, session_id desc
), tagged as (
    select v.*, g.scope, g.group_id, c.session_id is not null as is_current
    from valid v
    cross join lateral (values ('cohort', v.cohort_id), ('enterprise', v.enterprise_id))
        as g(scope, group_id)
    left join current_ c on c.session_id = v.session_id
    where g.group_id is not null
)
"""
TOTALS_SQL = FROM_SCRATCH + """
select scope, group_id, count(*) filter (where is_current) as learners,
       coalesce(sum(overall_score) filter (where is_current), 0) as score_sum,
       count(*) filter (where is_current and difficulty = 1) as difficulty_1,
       count(*) filter (where is_current and difficulty = 2) as difficulty_2,
       count(*) filter (where is_current and difficulty = 3) as difficulty_3,
       count(*) filter (where is_current and difficulty = 4) as difficulty_4,
       count(*) filter (where is_current and difficulty = 5) as difficulty_5,
       count(*) as sessions_completed
from tagged group by scope, group_id
"""
SKILLS_SQL = FROM_SCRATCH + """
select scope, group_id, k.key as skill, sum(k.value::numeric) as score_sum, count(*) as scores
from tagged cross join lateral jsonb_each_text(skill_scores) as k
where is_current group by scope, group_id, k.key
"""
PLACEMENTS_SQL = FROM_SCRATCH + """
select cohort_id, enterprise_id, count(*) as learners from tagged
where is_current and scope = 'cohort' and enterprise_id is not null
group by cohort_id, enterprise_id
"""


async def assert_aggregates_equal_from_scratch(url: str) -> None:
    for table, sql, keys in (
        ("group_totals", TOTALS_SQL, ("scope", "group_id")),
        ("group_skills", SKILLS_SQL, ("scope", "group_id", "skill")),
        ("placements", PLACEMENTS_SQL, ("cohort_id", "enterprise_id")),
    ):
        stored = {tuple(r[k] for k in keys): dict(r)
                  for r in await db.fetch(url, f"select * from analytics.{table}")}
        expected = {tuple(r[k] for k in keys): dict(r) for r in await db.fetch(url, sql)}
        assert stored == expected, table


async def test_batches_match_the_oracle_and_a_replay_changes_nothing(applier, settings, unique):
    events = traffic(unique)
    records = as_records(settings.profiler_topic, events)
    for batch in chunks(records, random.Random(3)):
        outcome = await applier.apply(batch)
        assert outcome.dead_lettered == 0
    url = settings.database_url
    await assert_matches_oracle(url, unique, events)
    await assert_aggregates_equal_from_scratch(url)

    before = await snapshot(url)
    again = await applier.apply(records)
    assert (again.applied, again.skipped) == (0, len(records))
    # The same facts re-published at new offsets: applied, yet no state changes.
    republished = [Record(r.topic, r.partition, r.offset + len(records), r.key, r.value)
                   for r in records]
    for batch in chunks(republished, random.Random(4)):
        await applier.apply(batch)
    assert await snapshot(url) == before


async def test_one_event_per_batch_and_one_big_batch_agree(applier, settings, unique):
    events = traffic(unique, learners=25, seed=11)
    records = as_records(settings.profiler_topic, events)
    half = len(records) // 2
    for record in records[:half]:
        await applier.apply([record])
    await applier.apply(records[half:])
    await assert_matches_oracle(settings.database_url, unique, events)
    await assert_aggregates_equal_from_scratch(settings.database_url)


async def test_concurrent_partitions_share_group_rows_safely(settings, unique):
    """Workers of one group apply different partitions at once, all touching the same
    cohort and enterprise rows."""
    events = traffic(unique, learners=60, seed=5)
    records = as_records(settings.profiler_topic, events)
    engine = create_engine(settings, pool_size=PARTITIONS)
    producer = dead_letter_producer(settings)
    await producer.start()
    sink = DeadLetterSink(producer, settings.dead_letter_topic("analytics"), "analytics")
    try:
        async def worker(partition: int) -> None:
            applier = BatchApplier(AnalyticsProjection(settings.erasure_secret), engine, sink,
                                   settings, rng=random.Random(partition))
            mine = [r for r in records if r.partition == partition]
            for batch in chunks(mine, random.Random(partition)):
                await applier.apply(batch)

        await asyncio.gather(*(worker(p) for p in range(PARTITIONS)))
    finally:
        await producer.stop()
        await engine.dispose()
    await assert_matches_oracle(settings.database_url, unique, events)
    await assert_aggregates_equal_from_scratch(settings.database_url)


async def test_freshness_is_the_newest_applied_event(applier, settings, unique):
    events = traffic(unique, learners=5, seed=2)
    await applier.apply(as_records(settings.profiler_topic, events))
    rows = await db.fetch(settings.database_url,
                          "select max(last_event_at) as at from analytics.positions "
                          "where topic = $1", settings.profiler_topic)
    assert rows[0]["at"] == max(e.occurred_at for e in events)
