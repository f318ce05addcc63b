"""`hub rebuild` on the real services: same rows as the live projection, reads never fail
during the swap, and a cancelled rebuild leaves the live projection and no table set behind."""

from __future__ import annotations

import asyncio
import time

import httpx

from hub.api.app import create_app
from hub.bootstrap import connected
from hub.operations.rebuild import plan, rebuild
from hub.projections import all_projections
from hub.publishing import publish_sample
from producers.sample import generate_sample
from tests.conftest import settings_env
from tests.integration.test_replay import catch_up
from tests.support import db
from tests.support.procs import run_hub
from toolkit.db import create_engine
from toolkit.web.auth import issue_token

REBUILT = ["missions", "analytics"]
# Wall-clock stamps differ between two applications of the same events by design, and
# `last_event_at` is the newest occurred_at of the batches that touched a partition (the live
# path's batches span partitions; the bulk path has one per partition).
VOLATILE = {"updated_at", "last_event_at"}


async def checksums(settings, name: str) -> dict[str, str]:
    """md5 of every table of the projection, rows in order, wall-clock columns left out."""
    sums = {}
    for table in all_projections()[name].metadata.sorted_tables:
        cols = ", ".join(f't."{c.name}"' for c in table.columns if c.name not in VOLATILE)
        rows = await db.fetch(
            settings.database_url,
            f"select md5(coalesce(string_agg(row({cols})::text, '|' "
            f"order by row({cols})::text), '')) as h from {table.schema}.{table.name} t",
        )
        sums[f"{table.schema}.{table.name}"] = rows[0]["h"]
    return sums


async def leftover_schemas(settings) -> list[str]:
    rows = await db.fetch(
        settings.database_url,
        "select nspname from pg_namespace where nspname like '%\\_rebuild' "
        "or nspname like '%\\_old'",
    )
    return [r["nspname"] for r in rows]


async def run_rebuild(settings, name: str, **kwargs):
    projection = all_projections(settings)[name]
    async with connected(settings) as hub:
        return await rebuild(hub, projection, await plan(hub, projection), **kwargs)


async def live_from_sample(settings, count: int = 600):
    """Empty the rebuilt projections of earlier tests' rows (a rebuild from this test's still
    empty topics), then apply a sample the normal way."""
    for name in REBUILT:
        await run_rebuild(settings, name)
    sample = generate_sample(count, 60, 4, seed=5)
    await publish_sample(settings, sample)
    await catch_up(settings)
    return sample


async def test_rebuild_produces_the_live_projections_rows(settings):
    await live_from_sample(settings)
    env = settings_env(settings)
    for name in REBUILT:
        before = await checksums(settings, name)
        assert len(set(before.values())) == len(before), before  # no table left empty
        planned = run_hub(["rebuild", name], env)
        assert planned.returncode == 0 and "nothing done" in planned.stdout, planned.stderr
        assert f"into {name}_rebuild" in planned.stdout
        started = time.perf_counter()
        done = run_hub(["rebuild", name, "--execute"], env)
        print(f"rebuild {name} via CLI: {time.perf_counter() - started:.2f}s; {done.stdout}")
        assert done.returncode == 0 and f"rebuilt {name}" in done.stdout, done.stderr
        assert "rec/s, ETA" in done.stderr
        assert await checksums(settings, name) == before
    assert await leftover_schemas(settings) == []


async def test_reads_never_fail_while_rebuilding(settings, unique):
    sample = await live_from_sample(settings)
    before = {name: await checksums(settings, name) for name in REBUILT}
    learners = sample.user_ids[:5]
    engine = create_engine(settings)
    app = create_app(settings)
    app.state.engine = engine
    token = issue_token(settings.jwt_secret, f"{unique}-pa", ["platform_admin"])
    urls = [f"/api/v1/missions/difficulty?user_id={u}" for u in learners]
    urls.append("/api/v1/profiler/admin/cohorts/cohort-01/analytics")
    statuses: list[int] = []
    stop = asyncio.Event()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://hub",
                                     headers={"Authorization": f"Bearer {token}"}) as client:
            async def read_loop():
                while not stop.is_set():
                    for url in urls:
                        statuses.append((await client.get(url)).status_code)

            assert {(await client.get(u)).status_code for u in urls} == {200}
            reader = asyncio.create_task(read_loop())
            try:
                for name in REBUILT:
                    await run_rebuild(settings, name)
            finally:
                stop.set()
                await reader
    finally:
        await engine.dispose()
    failed = [s for s in statuses if s != 200]
    assert len(statuses) > 2 * len(urls), "the reads did not overlap the rebuild"
    assert not failed, f"{len(failed)} of {len(statuses)} reads failed: {failed[:5]}"
    assert {name: await checksums(settings, name) for name in REBUILT} == before


async def test_cancelled_rebuild_leaves_the_live_projection_untouched(settings):
    await publish_sample(settings, generate_sample(600, 60, 4, seed=5))
    await catch_up(settings)
    before = await checksums(settings, "missions")
    first_batch = asyncio.Event()
    task = asyncio.create_task(
        run_rebuild(settings, "missions", write_progress=lambda _line: first_batch.set())
    )
    await asyncio.wait_for(first_batch.wait(), 60)  # the first pass is under way
    task.cancel()
    try:
        await task
        raise AssertionError("the rebuild finished instead of being cancelled")
    except asyncio.CancelledError:
        pass
    assert await leftover_schemas(settings) == []
    assert await checksums(settings, "missions") == before
