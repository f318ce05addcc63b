"""`hub replay` on the real services: the plan, the refusal, identical projections."""

from __future__ import annotations

from hub.projections import all_projections
from producers.sample import generate_sample
from tests.conftest import settings_env
from tests.support import db
from tests.support.procs import HubProcess, run_hub
from toolkit.db import create_engine
from toolkit.streaming.applier import BatchApplier
from toolkit.streaming.bulk import replay_to_end
from toolkit.streaming.dead_letters import DeadLetterSink
from toolkit.streaming.runtime import dead_letter_producer


async def catch_up(settings) -> None:
    engine = create_engine(settings)
    producer = dead_letter_producer(settings)
    await producer.start()
    try:
        for name, projection in all_projections(settings).items():
            sink = DeadLetterSink(producer, settings.dead_letter_topic(name), name)
            applier = BatchApplier(projection, engine, sink, settings)
            await replay_to_end(applier, settings.kafka_bootstrap, projection.topics(settings))
    finally:
        await producer.stop()
        await engine.dispose()


EMPTY = "d41d8cd98f00b204e9800998ecf8427e"  # md5 of no rows


async def checksum(settings, unique) -> dict[str, str]:
    """md5 of every projection table's rows that belong to this test's learners, in order."""
    sums = {}
    for schema, table, key in [("missions", "difficulty", "user_id"),
                               ("recipes", "profiles", "user_id"),
                               ("recipes", "skill_scores", "user_id"),
                               ("portfolio", "items", "user_id"),
                               ("mentorship", "sessions", "user_id"),
                               ("mentorship", "assignments", "mentee_id")]:
        rows = await db.fetch(
            settings.database_url,
            f"select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as h "
            f"from {schema}.{table} t where {key} like $1", "learner-%")
        sums[f"{schema}.{table}"] = rows[0]["h"]
    return sums


async def test_replay_from_earliest_twice_leaves_projections_identical(settings, unique):
    from hub.publishing import publish_sample

    sample = generate_sample(600, 60, 4, seed=5)
    await publish_sample(settings, sample)
    await catch_up(settings)
    before = await checksum(settings, unique)
    assert EMPTY not in before.values(), before
    env = settings_env(settings)

    plan = run_hub(["replay", "missions", "--to", "earliest"], env)
    assert plan.returncode == 0, plan.stderr
    profiler = len(sample.profiler_messages())
    reprocess = sum(int(line.split("(")[1].split()[0]) for line in plan.stdout.splitlines()
                    if "events to reprocess" in line)
    assert reprocess == profiler and "nothing done" in plan.stdout

    for consumer in all_projections():
        done = run_hub(["replay", consumer, "--to", "earliest", "--execute"], env)
        assert done.returncode == 0 and "positions moved" in done.stdout, done.stderr
    assert await db.applied_offsets(settings.database_url, "missions", settings.profiler_topic) == 0
    await catch_up(settings)
    assert await checksum(settings, unique) == before
    for consumer in all_projections():
        run_hub(["replay", consumer, "--to", "earliest", "--execute"], env)
    await catch_up(settings)
    assert await checksum(settings, unique) == before


async def test_replay_refuses_while_the_consumers_workers_run(settings, unique):
    env = settings_env(settings)
    worker = HubProcess(["worker", "missions"], env, f"replay-refusal-{unique}")
    try:
        async def joined():
            status = run_hub(["status", "--json"], env)
            return '"members": 1' in status.stdout

        await db.wait_until(joined, timeout=60, what="worker joined its group")
        refused = run_hub(["replay", "missions", "--to", "earliest", "--execute"], env)
        assert refused.returncode == 2 and "refused" in refused.stderr
    finally:
        worker.stop()
