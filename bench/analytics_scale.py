"""Analytics at scale: cohort and enterprise analytics read latency at 100k and 1M learners.

For each learner count (default `100000,1000000`), a fresh database gets the analytics
projection's tables filled, by one of two paths (`--fill`, default `auto`):

- `projection`: `generate_sample(2.5 x learners messages, learners, 40 cohorts)` applied
  through the projection's own `apply` in batches of 5000 (no broker). The aggregates that
  the `sql` path derives (below) are then recomputed from the projection's per-learner state
  and compared with the projection's own aggregate rows: they must match row for row, which
  is what shows the `sql` path holds what the projection would.
- `sql`: set-based SQL in parallel chunks writes per-learner state shaped like the sample
  (tracks and their skills at the sample's weights, 12% without a cohort, 3% without any
  session, ~2.3 sessions per learner, 2% of sessions invalidated, 40 cohorts three to an
  enterprise, difficulty from the overall-score band, now and then one off as a recommended
  level may be); then the aggregates are derived from that state by the CONTRACT's rules
  (current session = valid session with the greatest (completed_at, session_id)). No
  erasures: an erased learner leaves only an anonymous `erasures` row, which reads ignore.
- `auto`: `projection` up to 200k learners, `sql` above (1M learners through the projection
  is 2.5M events: several times the ~3 minutes a fill may take here).

Then `hub api` runs against the database and the cohort and enterprise endpoints are timed
under concurrency beside the direct SQL of the same aggregate rows (as `bench/api.py`), and
the from-scratch SQL (the cohort's report computed from every learner's state, what a read
model without aggregates would run per request). Prints one JSON line; drops its databases.

    .venv/bin/python bench/analytics_scale.py [--learners 100000,1000000] [--fill auto]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import api  # noqa: E402  (bench/api.py: API server, load, anchors)
import asyncpg  # noqa: E402
import replay  # noqa: E402  (bench/replay.py: databases)

from toolkit.settings import Settings  # noqa: E402

BATCH = 5000
COHORTS = 40
MESSAGES_PER_LEARNER = 2.5
PROJECTION_MAX_LEARNERS = 200_000
SQL_CHUNK = 50_000  # learners per INSERT of the sql fill
FROM_SCRATCH_RUNS = 3

# ----- the aggregates, derived from per-learner state by the CONTRACT's rules ------------------

VALID_AND_CURRENT = """
create temp table bench_valid as
select s.* from analytics.sessions s
where not exists (select 1 from analytics.invalidations i where i.session_id = s.session_id);
create temp table bench_current as
select distinct on (user_id) * from bench_valid
order by user_id, completed_at desc, session_id desc;
"""
GROUPS = "cross join lateral (values ('cohort', {t}.cohort_id), ('enterprise', {t}.enterprise_id))"
TOTALS = f"""
insert into {{totals}}
with learners as (
    select g.scope, g.group_id, count(*) as learners, sum(c.overall_score) as score_sum,
           {", ".join(f"count(*) filter (where c.difficulty = {d}) as d{d}" for d in range(1, 6))}
    from bench_current c {GROUPS.format(t="c")} as g(scope, group_id)
    where g.group_id is not null group by 1, 2
), completed as (
    select g.scope, g.group_id, count(*) as sessions
    from bench_valid v {GROUPS.format(t="v")} as g(scope, group_id)
    where g.group_id is not null group by 1, 2
)
-- every group with a learner has that learner's (valid) current session: completed has it
select c.scope, c.group_id, coalesce(l.learners, 0), coalesce(l.score_sum, 0),
       {", ".join(f"coalesce(l.d{d}, 0)" for d in range(1, 6))}, c.sessions
from completed c left join learners l on l.scope = c.scope and l.group_id = c.group_id
"""
SKILLS = f"""
insert into {{skills}}
select g.scope, g.group_id, k.key, sum(k.value::numeric), count(*)
from bench_current c {GROUPS.format(t="c")} as g(scope, group_id)
cross join lateral jsonb_each_text(c.skill_scores) as k
where g.group_id is not null group by 1, 2, 3
"""
PLACEMENTS = """
insert into {placements}
select cohort_id, enterprise_id, count(*) from bench_current
where cohort_id is not null and enterprise_id is not null group by 1, 2
"""
TARGETS = {"totals": "analytics.group_totals", "skills": "analytics.group_skills",
           "placements": "analytics.placements"}
SCRATCH = {"totals": "bench_totals", "skills": "bench_skills", "placements": "bench_placements"}


async def derive_aggregates(conn: asyncpg.Connection, targets: dict[str, str]) -> None:
    await conn.execute(VALID_AND_CURRENT)
    for sql in (TOTALS, SKILLS, PLACEMENTS):
        await conn.execute(sql.format(**targets))


async def matches_projection(conn: asyncpg.Connection) -> dict[str, int]:
    """Derive into scratch tables; rows differing from the projection's, per table."""
    differing = {}
    for key, table in TARGETS.items():
        await conn.execute(f"create temp table {SCRATCH[key]} (like {table})")
    await derive_aggregates(conn, SCRATCH)
    for key, table in TARGETS.items():
        scratch = SCRATCH[key]
        differing[key] = await conn.fetchval(
            f"select count(*) from ((table {table} except all table {scratch}) "
            f"union all (table {scratch} except all table {table})) d")
    return differing


# ----- fill through the projection -------------------------------------------------------------


async def fill_through_projection(settings: Settings, learners: int) -> dict:
    from consumers.analytics.projection import AnalyticsProjection
    from producers.sample import generate_sample
    from schemas.registry import decode
    from toolkit.db import create_engine

    started = time.perf_counter()
    sample = generate_sample(int(learners * MESSAGES_PER_LEARNER), learners, COHORTS, seed=1)
    messages = sample.profiler_messages()
    generated = time.perf_counter() - started
    projection = AnalyticsProjection(settings.erasure_secret)
    engine = create_engine(settings, pool_size=1)
    started = time.perf_counter()
    try:
        for i in range(0, len(messages), BATCH):
            events = [decode(m.value) for m in messages[i:i + BATCH]]  # not kept: memory
            async with engine.begin() as conn:
                await projection.apply(conn, events)
    finally:
        await engine.dispose()
    applied = time.perf_counter() - started
    conn = await asyncpg.connect(api.asyncpg_dsn(settings.database_url))
    try:
        await conn.execute("analyze")
        differing = await matches_projection(conn)
    finally:
        await conn.close()
    if any(differing.values()):
        raise AssertionError(f"derived aggregates differ from the projection's: {differing}")
    return {"path": "projection", "events": len(messages), "generate_s": round(generated, 1),
            "apply_s": round(applied, 1), "events_per_s": round(len(messages) / applied),
            "derived_aggregates_match_projection": True}


# ----- fill with set-based SQL -----------------------------------------------------------------


def sessions_sql() -> str:
    """Sessions of learners $1..$2, shaped like the sample's (see the module docstring)."""
    from producers.sample import (
        DEFAULT_START,
        NO_COHORT_RATE,
        NO_SESSION_RATE,
        SPAN_SECONDS,
        TRACK_WEIGHTS,
        TRACKS,
    )

    bound, cases = 0, []
    for track, weight in zip(TRACKS, TRACK_WEIGHTS, strict=True):
        bound += weight
        cases.append(f"when u < {bound / sum(TRACK_WEIGHTS)} then '{track}'")
    enterprises = -(-COHORTS // 3)
    skills = json.dumps(TRACKS).replace("'", "''")
    normal = "sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())"
    return f"""
with draws as materialized (
    select n, random() as u from generate_series($1::int, $2::int) as n
), learners as materialized (
    select 'learner-' || lpad(n::text, 7, '0') as user_id,
           case {" ".join(cases[:-1])} else '{list(TRACKS)[-1]}' end as track,
           case when random() < {NO_COHORT_RATE} then null
                else floor(random() * {COHORTS})::int end as cohort,
           greatest(8, least(92, 58 + 16 * {normal})) as ability,
           1 + least(11, floor(-ln(1 - random()) * 1.742))::int as sessions
    from draws where random() >= {NO_SESSION_RATE}
), scored as (
    select l.user_id, l.cohort,
           timestamptz '{DEFAULT_START.isoformat()}'
               + make_interval(secs => floor((j - 1 + random()) * {SPAN_SECONDS} / l.sessions))
               as completed_at,  -- retakes later, and a little better (below)
           x.skill_scores, x.overall_score
    from learners l, generate_series(1, l.sessions) as j, lateral (
        select jsonb_object_agg(skill, score) as skill_scores,
               round(avg(score), 1) as overall_score
        from (
            select skill, round(least(100, greatest(0,
                       l.ability + 2 * least(j - 1, 6) + 11 * {normal}))::numeric, 1) as score
            from jsonb_array_elements_text('{skills}'::jsonb -> l.track) as skill
        ) as scores
    ) as x
)
insert into analytics.sessions (session_id, user_id, completed_at, occurred_at, cohort_id,
                                enterprise_id, overall_score, difficulty, skill_scores)
select gen_random_uuid(), user_id, completed_at,
       completed_at + make_interval(secs => floor(random() * 121)),
       'cohort-' || lpad((cohort + 1)::text, 2, '0'),
       'enterprise-' || chr(97 + cohort * {enterprises} / {COHORTS}),
       overall_score,
       least(5, greatest(1, least(5, floor(overall_score / 20)::int + 1)
           + case when random() < 0.105 then (case when random() < 0.5 then 1 else -1 end)
                  else 0 end)),
       skill_scores
from scored
"""


INVALIDATIONS_SQL = """
insert into analytics.invalidations (session_id, user_id, occurred_at)
select session_id, user_id, occurred_at + make_interval(secs => 600 + floor(random() * 432000))
from analytics.sessions where random() < {rate}
"""


async def fill_with_sql(settings: Settings, learners: int) -> dict:
    from producers.sample import INVALIDATION_RATE

    dsn = api.asyncpg_dsn(settings.database_url)
    sql = sessions_sql()
    chunks = [(lo, min(lo + SQL_CHUNK - 1, learners)) for lo in range(1, learners + 1, SQL_CHUNK)]
    started = time.perf_counter()
    async with asyncpg.create_pool(dsn, min_size=1, max_size=os.cpu_count() or 2) as pool:
        await asyncio.gather(*(pool.execute(sql, lo, hi) for lo, hi in chunks))
    state_s = time.perf_counter() - started
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(INVALIDATIONS_SQL.format(rate=INVALIDATION_RATE))
        await conn.execute("analyze analytics.sessions, analytics.invalidations")
        started = time.perf_counter()
        await derive_aggregates(conn, TARGETS)
        await conn.execute("analyze")
        aggregates_s = time.perf_counter() - started
        sessions = await conn.fetchval("select count(*) from analytics.sessions")
    finally:
        await conn.close()
    return {"path": "sql", "sessions": sessions, "state_s": round(state_s, 1),
            "aggregates_s": round(aggregates_s, 1)}


# ----- reads -----------------------------------------------------------------------------------

FROM_SCRATCH_COHORT = """
with valid as (
    select s.* from analytics.sessions s
    where not exists (select 1 from analytics.invalidations i where i.session_id = s.session_id)
), current_ as (
    select distinct on (user_id) * from valid order by user_id, completed_at desc, session_id desc
), mine as (
    select * from current_ where cohort_id = $1
)
select (select count(*) from mine) as learners,
       (select count(*) from valid where cohort_id = $1) as sessions_completed,
       (select avg(overall_score) from mine) as average_overall_score,
       (select jsonb_object_agg(difficulty, n) from
           (select difficulty, count(*) as n from mine group by 1) d) as difficulty_distribution,
       (select jsonb_object_agg(key, a) from
           (select key, avg(value::numeric) as a from mine, jsonb_each_text(skill_scores)
            group by 1) k) as skill_averages
"""


async def time_from_scratch(dsn: str, cohort: str) -> dict:
    conn = await asyncpg.connect(dsn)
    try:
        timings = []
        for _ in range(FROM_SCRATCH_RUNS):
            started = time.perf_counter()
            await conn.fetch(FROM_SCRATCH_COHORT, cohort)
            timings.append(time.perf_counter() - started)
    finally:
        await conn.close()
    return {"runs": FROM_SCRATCH_RUNS, "median_ms": round(statistics.median(timings) * 1000, 1)}


async def group_counts(dsn: str) -> dict:
    conn = await asyncpg.connect(dsn)
    try:
        return dict(await conn.fetchrow(
            "select (select count(distinct user_id) from analytics.sessions) as "
            "learners_with_sessions, (select count(*) from analytics.sessions) as sessions, "
            "(select sum(learners) from analytics.group_totals where scope = 'cohort') as "
            "learners_in_cohorts"))
    finally:
        await conn.close()


def measure_size(settings: Settings, learners: int, fill: str, requests: int,
                 concurrency: int) -> dict:
    database = f"hub_bench_analytics_{uuid.uuid4().hex[:8]}"
    try:
        url = replay.create_migrated_database(settings, database)
        bench = settings.model_copy(update={"database_url": url})
        dsn = api.asyncpg_dsn(url)
        path = fill if fill != "auto" else (
            "projection" if learners <= PROJECTION_MAX_LEARNERS else "sql")
        started = time.perf_counter()
        filler = fill_through_projection if path == "projection" else fill_with_sql
        filled = asyncio.run(filler(bench, learners))
        filled["fill_s"] = round(time.perf_counter() - started, 1)
        subjects = asyncio.run(api.find_subjects(dsn))
        tokens = api.Tokens(bench.jwt_secret)
        rng = random.Random(7)
        endpoints = {
            "cohort_analytics": api.cohort_endpoint(
                api.spread(subjects.cohorts, requests, rng), tokens),
            "enterprise_analytics": api.enterprise_endpoint(
                api.spread(subjects.enterprises, requests, rng), tokens),
        }
        # bench/api.py's measurement: `hub api` and the hand-written anchor under wrk
        load = argparse.Namespace(connections=concurrency, duration=10, rounds=1)
        with api.hub_server(bench, 1) as hub, api.anchor_server(bench, 1) as anchor:
            reads = api.measure(endpoints, hub, anchor, load)
        from_scratch = asyncio.run(time_from_scratch(dsn, subjects.cohorts[0]))
        counts = asyncio.run(group_counts(dsn))
    finally:
        asyncio.run(replay.drop_databases(settings, [database]))
    return {"learners": learners, "fill": filled, **counts,
            "groups": {"cohorts": len(subjects.cohorts),
                       "enterprises": len(subjects.enterprises)},
            **reads, "from_scratch_cohort_sql": from_scratch}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", default="100000,1000000",
                        help="comma-separated learner counts")
    parser.add_argument("--fill", choices=("auto", "projection", "sql"), default="auto")
    parser.add_argument("--requests", type=int, default=1000, help="timed, per endpoint")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    from hub.stack.api import ensure_stack_up

    ensure_stack_up()
    settings = Settings()
    sizes = [measure_size(settings, int(n), args.fill, args.requests, args.concurrency)
             for n in args.learners.split(",")]
    print(json.dumps({"benchmark": "analytics_scale", "concurrency": args.concurrency,
                      "cpus": os.cpu_count(), "sizes": sizes}))


if __name__ == "__main__":
    main()
