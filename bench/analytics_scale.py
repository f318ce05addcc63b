"""Analytics at scale: fill the analytics projection with N learners' sample traffic through
its own apply path (no broker), then time cohort and enterprise reads through the read API
in-process, beside the from-scratch GROUP BY they replace. Prints one JSON line of figures.

    .venv/bin/python bench/analytics_scale.py [--learners N] [--reads R]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import asyncpg  # noqa: E402
import httpx  # noqa: E402
from sqlalchemy import select, text  # noqa: E402

from hub.settings import Settings  # noqa: E402

BATCH = 5000
COHORTS = 40

# The whole dashboard computed from the per-learner state, as a projection without the
# incremental aggregates would have to on every read.
FROM_SCRATCH = """
with valid as (
    select s.* from analytics.sessions s
    where not exists (select 1 from analytics.invalidations i where i.session_id = s.session_id)
), current_ as (
    select distinct on (user_id) * from valid order by user_id, completed_at desc, session_id desc
)
select cohort_id, count(*), avg(overall_score) from current_ group by cohort_id
"""


async def create_database(settings: Settings) -> str:
    from hub.migrate import upgrade_database

    name = f"hub_bench_analytics_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(settings.database_url.replace("postgresql+asyncpg://",
                                                               "postgresql://"))
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    url = settings.database_url.rsplit("/", 1)[0] + "/" + name
    await asyncio.to_thread(upgrade_database, url)
    return url


async def drop_database(settings: Settings, url: str) -> None:
    conn = await asyncpg.connect(settings.database_url.replace("postgresql+asyncpg://",
                                                               "postgresql://"))
    await conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    await conn.close()


async def fill(settings: Settings, learners: int) -> dict:
    from consumers.analytics.projection import AnalyticsProjection
    from hub.db import create_engine
    from producers.sample import generate_sample

    started = time.perf_counter()
    sample = generate_sample(int(learners * 2.5), learners, COHORTS, seed=1)
    events = [m.event for m in sample.profiler_messages()]
    generated = time.perf_counter() - started
    projection = AnalyticsProjection()
    engine = create_engine(settings, pool_size=1)
    started = time.perf_counter()
    try:
        for i in range(0, len(events), BATCH):
            async with engine.begin() as conn:
                await projection.apply(conn, events[i:i + BATCH])
        applied = time.perf_counter() - started
        async with engine.connect() as conn:
            learner_count = (await conn.execute(text(
                "select count(distinct user_id) from analytics.sessions"))).scalar()
            started = time.perf_counter()
            await conn.execute(text(FROM_SCRATCH))
            from_scratch = time.perf_counter() - started
    finally:
        await engine.dispose()
    return {"events": len(events), "learners_with_sessions": learner_count,
            "generate_s": round(generated, 1), "apply_s": round(applied, 1),
            "events_per_s": round(len(events) / applied),
            "from_scratch_group_by_ms": round(from_scratch * 1000, 1)}


async def time_reads(settings: Settings, reads: int) -> dict:
    from consumers.analytics import tables
    from hub.api.app import create_app
    from hub.api.auth import issue_token
    from hub.db import create_engine

    app = create_app(settings)
    app.state.engine = create_engine(settings, pool_size=2)  # the lifespan is not run in-process
    token = issue_token(settings.jwt_secret, "bench", ["platform_admin"])
    headers = {"Authorization": f"Bearer {token}"}
    figures = {}
    try:
        async with app.state.engine.connect() as conn:
            groups = (await conn.execute(select(tables.group_totals.c.scope,
                                                tables.group_totals.c.group_id))).all()
        cohorts = sorted(g for s, g in groups if s == "cohort")
        enterprises = sorted(g for s, g in groups if s == "enterprise")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for name, paths in (
                ("cohort", [f"/api/v1/profiler/admin/cohorts/{c}/analytics" for c in cohorts]),
                ("enterprise", [f"/api/v1/profiler/admin/enterprise/analytics?enterprise_id={e}"
                                for e in enterprises]),
            ):
                timings = []
                for i in range(reads):
                    started = time.perf_counter()
                    response = await client.get(paths[i % len(paths)], headers=headers)
                    timings.append(time.perf_counter() - started)
                    assert response.status_code == 200, response.text
                timings.sort()
                figures[f"{name}_read_ms"] = {
                    "p50": round(statistics.median(timings) * 1000, 2),
                    "p95": round(timings[int(len(timings) * 0.95)] * 1000, 2),
                    "max": round(timings[-1] * 1000, 2),
                }
        figures["groups"] = {"cohorts": len(cohorts), "enterprises": len(enterprises)}
    finally:
        await app.state.engine.dispose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=100_000)
    parser.add_argument("--reads", type=int, default=200)
    args = parser.parse_args()

    from hub.stack.api import ensure_stack_up

    ensure_stack_up()
    settings = Settings()
    url = asyncio.run(create_database(settings))
    try:
        bench_settings = settings.model_copy(update={"database_url": url})
        filled = asyncio.run(fill(bench_settings, args.learners))
        reads = asyncio.run(time_reads(bench_settings, args.reads))
    finally:
        asyncio.run(drop_database(settings, url))
    print(json.dumps({"benchmark": "analytics_scale", "learners": args.learners,
                      **filled, **reads}))


if __name__ == "__main__":
    main()
