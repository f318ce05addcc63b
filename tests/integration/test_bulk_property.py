"""Property: for any set of events, in any arrival order, duplicated, cut into any batches,
each projection's rows written by the live path (`BatchApplier` -> `apply`, on PostgreSQL)
equal the rows its bulk path computes from the folded final states (`bulk`).

Each example uses ids of its own (learners, cohorts, mentors, topics), so examples share the
test database without seeing each other's rows; the rows compared are those ids' rows of every
table of the projection. Records go to the applier directly (no broker needed).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.operations.rebuild import rebuild_schema  # noqa: F401  (the bulk path's module must import)
from hub.projections import all_projections
from schemas.registry import encode
from tests.support import db
from tests.support.events import assignment, completed, erased, invalidated
from toolkit.db import create_engine
from toolkit.lifecycle import erasure_key
from toolkit.streaming.applier import BatchApplier
from toolkit.streaming.bulk_fold import BulkFold, PartitionSeen, learner_rows, positions_rows
from toolkit.streaming.bulk_load import BulkStats, Intake
from toolkit.streaming.records import Record

VOLATILE = {"updated_at", "last_event_at"}


class CountingSink:
    def __init__(self) -> None:
        self.refused = 0

    async def send(self, refusals) -> None:
        self.refused += len(refusals)


@st.composite
def histories(draw):
    """(kind, args) of up to 14 events over 3 learners, 2 mentors, 2 cohorts."""
    steps: list[tuple[Any, ...]] = []
    for _ in range(draw(st.integers(0, 14))):
        kind = draw(st.sampled_from(["completed"] * 4 + ["invalidated", "erased", "assigned"]))
        learner = draw(st.integers(0, 2))
        session = draw(st.integers(0, 2))
        minute = draw(st.integers(0, 40))
        if kind == "completed":
            steps.append((kind, learner, session, minute, draw(st.integers(0, 1000)) / 10,
                          draw(st.sampled_from([None, "novice", "expert"])),
                          draw(st.integers(0, 1)), draw(st.integers(0, 20))))
        elif kind == "assigned":
            steps.append((kind, learner, draw(st.integers(0, 1)), minute, draw(st.booleans())))
        else:
            steps.append((kind, learner, session, minute))
    return steps


def build(steps, prefix: str) -> list:
    """Events of the steps; a learner's session k has one id and one completion, so a
    repeated completion step is a redelivery."""
    learners = [f"{prefix}-u{i}" for i in range(3)]
    sessions = {(u, k): uuid.uuid4() for u in range(3) for k in range(3)}
    made: dict[tuple, Any] = {}
    events = []
    for step in steps:
        kind, u = step[0], step[1]
        if kind == "completed":
            _, _, k, minute, score, level, cohort, late = step
            key = (u, k)
            if key not in made:
                made[key] = completed(
                    learners[u], minute=minute, score=score, level=level,
                    session_id=sessions[key], cohort_id=f"{prefix}-c{cohort}",
                    enterprise_id=f"{prefix}-e", occurred_minute=minute + late)
            events.append(made[key])
        elif kind == "invalidated":
            events.append(invalidated(learners[u], sessions[(u, step[2])], minute=step[3]))
        elif kind == "erased":
            events.append(erased(learners[u], minute=step[3]))
        else:
            _, _, mentor, minute, active = step
            events.append(assignment(f"{prefix}-m{mentor}", learners[u], active=active,
                                     minute=minute))
    return events


def records_of(events, profiler: str, mentorship: str) -> list[Record]:
    offsets = {profiler: 0, mentorship: 0}
    records = []
    for event in events:
        topic = mentorship if event.event_type == "mentorship.assignment.changed" else profiler
        records.append(Record(topic, 0, offsets[topic], event.key.encode(), encode(event)))
        offsets[topic] += 1
    return records


def normal(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "{[":  # JSONB as PostgreSQL returns it
        try:
            value = json.loads(value)
        except ValueError:
            return value
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, Decimal):
        return value.normalize()
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return value


def comparable(table, rows) -> list[str]:
    names = [c.name for c in table.columns]
    keep = [i for i, n in enumerate(names) if n not in VOLATILE]
    return sorted(repr([normal(row[i]) for i in keep]) for row in rows)


async def stored_rows(url: str, table, prefix: str, hashes: list[str], topics: list[str]):
    names = {c.name for c in table.columns}
    name = f"{table.schema}.{table.name}"
    arg: str | list[str]
    if "user_id" in names:
        where, arg = "user_id like $1", f"{prefix}-%"
    elif "user_hash" in names:
        where, arg = "user_hash = any($1::text[])", hashes
    elif "group_id" in names:
        where, arg = "group_id like $1", f"{prefix}-%"
    elif "mentee_id" in names:
        where, arg = "mentee_id like $1", f"{prefix}-%"
    elif "topic" in names:
        where, arg = "topic = any($1::text[])", topics
    else:
        where, arg = "cohort_id like $1", f"{prefix}-%"
    columns = ", ".join(f'"{c.name}"' for c in table.columns)
    rows = await db.fetch(url, f"select {columns} from {name} where {where}", arg)
    return [tuple(r) for r in rows]


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=histories(), data=st.data())
async def test_bulk_rows_equal_incremental_rows(database_url, stack, unique, steps, data):
    order = data.draw(st.permutations(range(len(steps))))
    cuts = sorted(set(data.draw(st.lists(st.integers(1, max(1, len(steps))), max_size=4))))
    await assert_both_paths_agree(database_url, stack, steps, order, cuts)


# Found by the property above: the live path kept an invalidation the erasure had forgotten
# (its upsert kept the earlier of the stored and the new time) where the fold keeps the later.
INVALIDATION_ERASURE_INVALIDATION = [
    ("invalidated", 0, 0, 0), ("erased", 0, 0, 1), ("invalidated", 0, 0, 2),
    ("completed", 0, 0, 5, 50.0, None, 0, 0)]


# The order [later invalidation, earlier one, erasure] is the one the former rule (the earliest
# invalidation counts) lost entirely; both paths now keep the later one (unit: test_lifecycle).
@pytest.mark.parametrize("order", [[0, 1, 2, 3], [2, 0, 1, 3]])
@pytest.mark.parametrize("cuts", [[], [1], [2], [1, 2], [1, 2, 3]])
async def test_an_invalidation_after_an_erasure_replaces_the_forgotten_one(
        database_url, stack, unique, cuts, order):
    await assert_both_paths_agree(database_url, stack, INVALIDATION_ERASURE_INVALIDATION,
                                  order, cuts)


async def assert_both_paths_agree(database_url, stack, steps, order, cuts) -> None:
    """The steps' events, arriving in `order` and cut into batches at `cuts`, leave the same
    rows through the live path as the bulk path computes."""
    from tests.conftest import TEST_ERASURE_KEY
    from toolkit.settings import Settings

    prefix = f"p{uuid.uuid4().hex[:10]}"
    profiler, mentorship = f"{prefix}.profiler", f"{prefix}.mentorship"
    hub_settings = Settings(environment="test", erasure_key=TEST_ERASURE_KEY,
                            database_url=database_url, kafka_bootstrap=stack.kafka_bootstrap,
                            profiler_topic=profiler, mentorship_topic=mentorship)
    events = build(steps, prefix)
    arrival = [events[k] for k in order]
    records = records_of(arrival, profiler, mentorship)
    projections = all_projections(hub_settings)
    learners = [f"{prefix}-u{i}" for i in range(3)]
    hashes = [erasure_key(u, hub_settings.erasure_secret) for u in learners]

    # Incremental: every projection, its topics' records in arrival order, in batches.
    engine = create_engine(hub_settings, pool_size=1)
    try:
        for projection in projections.values():
            topics = set(projection.topics(hub_settings))
            mine = [r for r in records if r.topic in topics]
            applier = BatchApplier(projection, engine, CountingSink(), hub_settings)  # type: ignore[arg-type]
            bounds = [0, *[c for c in cuts if c < len(mine)], len(mine)]
            for start, stop in zip(bounds, bounds[1:], strict=False):
                if start < stop:
                    await applier.apply(mine[start:stop])
    finally:
        await engine.dispose()

    # Bulk: the same records through the bulk path's intake, fold and rows.
    now = datetime.now(UTC)
    fold = BulkFold(list(projections.values()))
    seen: dict[tuple[str, int], PartitionSeen] = {}
    intake = Intake(hub_settings, list(projections.values()), fold, seen, BulkStats())
    for topic in (profiler, mentorship):
        mine = [r for r in records if r.topic == topic]
        if mine:
            intake.take(topic, 0, len(mine), mine)
    for projection in projections.values():
        topics = set(projection.topics(hub_settings))
        bulk = projection.bulk(now)
        learner_rows(fold, projection, topics, bulk)
        bulk.finish(fold.others, fold.erased_at())
        bulk.out.add(projection.positions, positions_rows(projection, topics, seen, now))
        computed = bulk.out.take()
        for table in projection.metadata.sorted_tables:
            have = await stored_rows(database_url, table, prefix, hashes, [profiler, mentorship])
            want = computed.get(table, [])
            assert comparable(table, want) == comparable(table, have), (
                f"{table.schema}.{table.name}", steps)
