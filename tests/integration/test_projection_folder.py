"""A projection is one folder (docs/adding-a-projection.md): the test-only session-count
projection (tests/support/projections/session_count/) is registered here with one
`Registration`, as a line of `hub.projections.REGISTERED` would, and nothing else in the tree
knows it. Its tables come from its metadata (where a real one has its migration); events reach
it by the live applier and by the bulk rebuild, which must leave the same rows; and the API
serves its route, its access rule and its fast read."""

from __future__ import annotations

import ast
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import select, text
from sqlalchemy.schema import CreateSchema

from hub.api.app import create_app
from hub.bootstrap import Hub
from hub.operations.rebuild import plan, rebuild
from hub.projections import REGISTERED, Registration, all_projections, read_api_of
from tests.support.events import completed, erased, invalidated
from tests.support.kafka import publish_events
from tests.support.projections.session_count import tables
from tests.support.projections.session_count.projection import SessionCountProjection
from toolkit.db import create_engine
from toolkit.streaming.applier import BatchApplier
from toolkit.streaming.bulk import replay_to_end
from toolkit.streaming.dead_letters import DeadLetterSink
from toolkit.streaming.runtime import dead_letter_producer
from toolkit.topics import ensure_topics, hub_topics
from toolkit.web.auth import issue_token

FOLDER = Path(__file__).resolve().parents[1] / "support" / "projections" / "session_count"
SESSION_COUNT = Registration(
    SessionCountProjection, read_api_of("tests.support.projections.session_count.api"))


def test_the_folder_needs_nothing_but_the_toolkit_and_the_event_models():
    imported = {
        (node.module or "").split(".")[0]
        for module in FOLDER.glob("*.py")
        for node in ast.walk(ast.parse(module.read_text()))
        if isinstance(node, ast.ImportFrom) and node.level == 0
    } | {
        alias.name.split(".")[0]
        for module in FOLDER.glob("*.py")
        for node in ast.walk(ast.parse(module.read_text()))
        if isinstance(node, ast.Import) for alias in node.names
    }
    assert not imported & {"hub", "consumers", "producers"}
    assert {"toolkit", "schemas"} <= imported


@pytest.fixture
async def engine(settings):
    """The projection's table set, created from its metadata (a real projection's migration
    does this), dropped afterwards with whatever a rebuild left."""
    engine = create_engine(settings)
    async with engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA IF EXISTS "{tables.SCHEMA}" CASCADE'))
        await conn.execute(CreateSchema(tables.SCHEMA))
        await conn.run_sync(tables.metadata.create_all)
    specs = hub_topics(settings, [SessionCountProjection.name])
    await ensure_topics(settings.kafka_bootstrap, specs)
    try:
        yield engine
    finally:
        async with engine.begin() as conn:
            for schema in (tables.SCHEMA, f"{tables.SCHEMA}_rebuild"):
                await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await engine.dispose()
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
        await admin.start()
        try:
            await admin.delete_topics([settings.dead_letter_topic(SessionCountProjection.name)])
        finally:
            await admin.close()


async def read_model(engine) -> tuple[list, list]:
    """The counts and the positions, without the columns the two paths need not agree on
    (tests/reliability/reference.py, VOLATILE_COLUMNS): when a row was written, and the
    newest event a position records (the live path's batches span partitions)."""
    c, p = tables.counts, tables.positions
    async with engine.connect() as conn:
        counts = (await conn.execute(
            select(c.c.user_id, c.c.sessions, c.c.latest_completed_at, c.c.cohort_id,
                   c.c.enterprise_id).order_by(c.c.user_id))).all()
        positions = (await conn.execute(
            select(p.c.topic, p.c.partition, p.c.next_offset)
            .order_by(p.c.topic, p.c.partition))).all()
    return counts, positions


async def test_a_registered_folder_is_applied_live_and_in_bulk_alike_and_served(
        settings, unique, engine):
    u = unique
    first, second = completed(f"{u}-A", minute=1), completed(f"{u}-A", minute=2)
    events = [
        first, second, completed(f"{u}-A", minute=3, cohort_id=f"{u}-c"),
        invalidated(f"{u}-A", first.data.session_id, minute=4),
        completed(f"{u}-B", minute=1), erased(f"{u}-B", minute=5),
        completed(f"{u}-C", minute=1), completed(f"{u}-C", minute=6, enterprise_id=f"{u}-e"),
    ]
    await publish_events(settings.kafka_bootstrap, settings.profiler_topic, events)
    projection = all_projections(settings, [*REGISTERED, SESSION_COUNT])["session_count"]

    # The live path: the workers' applier, in small batches.
    producer = dead_letter_producer(settings)
    await producer.start()
    try:
        sink = DeadLetterSink(producer, settings.dead_letter_topic(projection.name),
                              projection.name)
        stats = await replay_to_end(BatchApplier(projection, engine, sink, settings),
                                    settings.kafka_bootstrap, projection.topics(settings),
                                    max_records=3)
    finally:
        await producer.stop()
    assert stats.dead_lettered == 0
    live = await read_model(engine)
    counts = {row.user_id: row.sessions for row in live[0]}
    assert counts == {f"{u}-A": 2, f"{u}-C": 2}  # A's first invalidated, B erased
    assert sum(row.next_offset for row in live[1]) == len(events)

    # The bulk path: `hub rebuild`'s fold, COPY and swap, into the same schema.
    hub = Hub(settings, engine)
    await rebuild(hub, [projection], await plan(hub, [projection]))
    assert await read_model(engine) == live

    # The API: its route, its access rule, its fast read, its freshness.
    answered: list[bool] = []  # per call of the fast handler: answered, or left to the route
    app = create_app(settings, [*REGISTERED, counting(SESSION_COUNT, answered)])
    app.state.engine = engine
    assert "/api/v1/session-count" in app.openapi()["paths"]

    def bearer(sub: str, roles: list[str], **claims) -> dict[str, str]:
        return {"Authorization": "Bearer " + issue_token(settings.jwt_secret, sub, roles,
                                                          **claims)}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://hub") as client:
        own = await client.get("/api/v1/session-count", headers=bearer(f"{u}-A", ["learner"]))
        routed = await client.get("/api/v1/session-count", params={"wait_ms": 0},
                                  headers=bearer(f"{u}-A", ["learner"]))
        admin = await client.get(
            "/api/v1/session-count", params={"user_id": f"{u}-A"},
            headers=bearer(f"{u}-ca", ["cohort_admin"], cohort_ids=[f"{u}-c"]))
        other = await client.get("/api/v1/session-count", params={"user_id": f"{u}-A"},
                                 headers=bearer(f"{u}-C", ["learner"]))
        nobody = await client.get("/api/v1/session-count",
                                  headers=bearer(f"{u}-B", ["learner"]))
    assert own.status_code == routed.status_code == admin.status_code == 200, own.text
    assert own.json() == routed.json() == admin.json() == {
        "user_id": f"{u}-A", "sessions": 2, "latest_completed_at": "2026-03-01T09:03:00Z"}
    assert own.headers["Hub-Projection"] == "session_count"
    assert own.headers["Hub-Newest-Event-At"] == routed.headers["Hub-Newest-Event-At"] != "none"
    assert other.status_code == 403, other.text
    assert nobody.json() == {"user_id": f"{u}-B", "sessions": 0, "latest_completed_at": None}
    # own, admin and nobody on the fast path; the refusal left to the route (which audits it);
    # the read with `wait_ms` never offered to it
    assert answered == [True, True, False, True]


def counting(registration: Registration, answered: list[bool]) -> Registration:
    """`registration` with its fast handlers recording whether they answered."""
    assert registration.read_api is not None
    load = registration.read_api

    def read_api():
        api = load()

        def counted(read):
            async def handler(*args):
                model = await read.handler(*args)
                answered.append(model is not None)
                return model
            return replace(read, handler=handler)

        return replace(api, fast_reads=[counted(r) for r in api.fast_reads])

    return replace(registration, read_api=read_api)

