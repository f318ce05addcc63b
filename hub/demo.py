"""`hub demo`: the whole hub on this machine, fed a generated sample, checked and summarised."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time

from hub.bootstrap import database_engine, run_async
from hub.demo_summary import Summary, render, summarise
from hub.projections import all_projections
from producers.sample import SampleTraffic, generate_sample
from schemas.registry import SessionCompleted
from toolkit.lag import stored_positions
from toolkit.settings import PROJECT_ROOT, Settings
from toolkit.web.auth import issue_token

LOG_DIR = PROJECT_ROOT / ".stack" / "demo"


def _spawn(args: list[str], name: str) -> subprocess.Popen:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = open(LOG_DIR / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the child
    return subprocess.Popen(
        [sys.executable, "-m", "hub.cli", *args],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=PROJECT_ROOT,
        start_new_session=True,
    )


async def summary_of(settings: Settings, published: dict[str, int]) -> Summary:
    engine = database_engine(settings, pool_size=1)
    try:
        return await summarise(engine, published)
    finally:
        await engine.dispose()


async def wait_caught_up(settings: Settings, timeout: float) -> float:
    """Poll until every projection has handled every record of its topics; returns seconds.

    One Kafka client and one database connection pool serve every poll: a client started
    per projection per poll (the first form) cost the workers' catch-up a share of the CPU."""
    from toolkit.kafka import reader, topic_partitions

    started = time.monotonic()
    projections = list(all_projections().values())
    topics = sorted({t for p in projections for t in p.topics(settings)})
    engine = database_engine(settings, pool_size=1)
    consumer = reader(settings.kafka_bootstrap)
    await consumer.start()
    try:
        partitions = await topic_partitions(consumer, topics)
        while True:
            ends = {(tp.topic, tp.partition): end
                    for tp, end in (await consumer.end_offsets(partitions)).items()}
            behind = 0
            for projection in projections:
                mine = set(projection.topics(settings))
                done = await stored_positions(engine, projection)
                behind += sum(max(0, end - done.get(tp, 0))
                              for tp, end in ends.items() if tp[0] in mine)
            if behind == 0:
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"projections still {behind} records behind after {timeout}s")
            await asyncio.sleep(0.5)
    finally:
        await consumer.stop()
        await engine.dispose()


def curl_examples(settings: Settings, sample: SampleTraffic) -> list[str]:
    """One curl per endpoint, with tokens for a learner and a platform admin."""
    base = f"http://{settings.api_host}:{settings.api_port}"
    learner = sample.user_ids[0]
    completion = next(
        e
        for e in sample.profiler_events()
        if e.key == learner and isinstance(e, SessionCompleted)
    )
    cohort = completion.data.cohort_id or "cohort-01"
    enterprise = completion.data.enterprise_id or "enterprise-a"
    admin = issue_token(settings.jwt_secret, "ops-admin", ["platform_admin"])
    own = issue_token(settings.jwt_secret, learner, ["learner"])
    auth = '-H "Authorization: Bearer $ADMIN_TOKEN"'
    return [
        f"export LEARNER_TOKEN={own}",
        f"export ADMIN_TOKEN={admin}",
        f'curl -s -H "Authorization: Bearer $LEARNER_TOKEN" {base}/api/v1/missions/difficulty',
        f"curl -s {auth} '{base}/api/v1/missions/difficulty?user_id={learner}'",
        f"curl -s {auth} '{base}/api/v1/recipes/profiler-recommendations?user_id={learner}'",
        f"curl -s {auth} '{base}/api/v1/profiler/value-statement?user_id={learner}'",
        f"curl -s {auth} '{base}/api/v1/portfolio/items?user_id={learner}'",
        f"curl -s {auth} '{base}/api/v1/leadership/identity?user_id={learner}'",
        f"curl -s {auth} {base}/api/v1/profiler/mentees/{learner}/results",
        f"curl -s {auth} '{base}/api/v1/marketplace/talent-matches/profiler"
        "?skill=network_security:60&limit=5'",
        f"curl -s {auth} {base}/api/v1/profiler/admin/cohorts/{cohort}/analytics",
        f"curl -s {auth} '{base}/api/v1/profiler/admin/enterprise/analytics"
        f"?enterprise_id={enterprise}'",
        f"curl -s {base}/readyz",
    ]


async def api_answer(settings: Settings, sample: SampleTraffic, timeout: float = 60) -> str:
    """Ask the running API for one learner's difficulty, as a downstream app would."""
    import httpx

    learner = sample.user_ids[0]
    token = issue_token(settings.jwt_secret, learner, ["learner"])
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(
        base_url=f"http://{settings.api_host}:{settings.api_port}", timeout=5
    ) as client:
        while True:
            try:
                response = await client.get(
                    "/api/v1/missions/difficulty", headers={"Authorization": f"Bearer {token}"}
                )
                return f"API answers for {learner}: {response.status_code} {response.text}"
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    return "API did not answer (see .stack/demo/api.log)"
                await asyncio.sleep(0.3)


def run_demo(
    settings_factory, *, once: bool, count: int, users: int, cohorts: int, seed: int
) -> int:
    from hub.migrate import migrate
    from hub.stack.api import ensure_stack_up

    print("== starting the local stack (Kafka KRaft + PostgreSQL)")
    ensure_stack_up(say=lambda line: print("  " + line))
    settings: Settings = settings_factory()
    print("== migrating the database and creating topics")
    created = migrate(settings)
    print(f"  topics created: {', '.join(created) or 'none (all existed)'}")

    children = [
        _spawn(["worker", "--all"], "workers"),
        _spawn(["api", "--port", str(settings.api_port)], "api"),
    ]
    try:
        sample = generate_sample(count, users, cohorts, seed)
        print(f"== publishing {len(sample.messages)} sample messages (seed {seed})")
        from hub.publishing import publish_sample

        run_async(publish_sample(settings, sample), settings)
        seconds = run_async(wait_caught_up(settings, timeout=600), settings)
        print(f"== projections caught up ({seconds:.1f}s after publishing)")
        published = sample.counts()
        print("published:")
        for key, value in published.items():
            print(f"  {key:34} {value}")
        summary = run_async(summary_of(settings, published), settings)
        for line in render(summary):
            print(line)
        matches = summary.agrees
        print(f"== projections {'AGREE' if matches else 'DO NOT AGREE'} with each other and "
              "the published counts")
        print(run_async(api_answer(settings, sample), settings))
        print("try the read API:")
        for line in curl_examples(settings, sample):
            print("  " + line)
        if once:
            return 0 if matches else 1
        print("== running; Ctrl-C to stop (logs in .stack/demo/)")
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
        return 0
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
