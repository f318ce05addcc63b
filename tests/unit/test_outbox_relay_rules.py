"""The outbox row, the relay's claim and per-key ordering, without I/O."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql

from producers.outbox import enqueue, outbox_row
from producers.publisher import PublishError
from producers.relay import Pending, claim, in_key_order, lock_keys, publish_in_order
from schemas.registry import decode
from tests.support.events import assignment, completed


def test_row_carries_the_wire_bytes_keyed_per_contract():
    event = completed("learner-1", minute=0)
    row = outbox_row(event, "profiler.events")
    assert (row["topic"], row["key"]) == ("profiler.events", "learner-1")
    assert decode(row["value"]) == event
    assert row["headers"] == {"event_id": str(event.event_id),
                              "event_type": "profiler.session.completed"}
    assert outbox_row(assignment("m-1", "mentee-9", active=True, minute=0), "m")["key"] == (
        "mentee-9")


def test_oversized_event_is_refused_in_the_business_transaction():
    event = completed("learner-1", minute=0).model_copy(update={"correlation_id": "x" * 1_100_000})
    with pytest.raises(ValueError, match="contract allows"):
        outbox_row(event, "profiler.events")


def test_enqueue_on_a_sync_connection_executes_one_insert():
    executed = []

    class SyncConnection:
        def execute(self, statement):
            executed.append(statement)

    assert enqueue(SyncConnection(), completed("u", minute=0), "t") is None
    [statement] = executed
    sql = str(statement.compile(dialect=postgresql.dialect()))
    assert sql.startswith(
        "INSERT INTO hub_outbox.outbox (topic, key, value, headers, trace_context)")


def test_keys_are_locked_in_id_order_behind_a_planner_fence():
    sql = str(lock_keys(50).compile(dialect=postgresql.dialect()))
    assert "ORDER BY hub_outbox.outbox.id\n LIMIT ALL OFFSET 0) AS ordered" in sql
    assert "pg_try_advisory_xact_lock(" in sql and "hashtext(ordered.key)" in sql


def test_rows_are_claimed_only_for_held_keys_oldest_first():
    sql = str(claim({"a"}, 50).compile(dialect=postgresql.dialect()))
    assert "sent_at IS NULL AND hub_outbox.outbox.key IN" in sql
    assert "ORDER BY hub_outbox.outbox.id" in sql and sql.endswith("FOR UPDATE")


def row(id_: int, key: str) -> Pending:
    return Pending(id_, "t", key, f"{key}:{id_}".encode(), {"event_id": str(id_)})


@given(st.lists(st.sampled_from("abcd"), max_size=30), st.randoms())
def test_rows_grouped_per_key_in_id_order(keys, rnd):
    rows = [row(i, k) for i, k in enumerate(keys)]
    shuffled = rows[:]
    rnd.shuffle(shuffled)
    grouped = in_key_order(shuffled)
    assert sorted(grouped) == sorted(set(keys))
    for key, rs in grouped.items():
        assert rs == [r for r in rows if r.key == key]


class RecordingPublisher:
    def __init__(self, failing_key: str | None = None) -> None:
        self.sent: list[tuple[str, str, bytes, list]] = []
        self.failing_key = failing_key

    async def publish(self, topic, key, value, headers=None):
        await asyncio.sleep(0)  # let other keys interleave
        if key == self.failing_key:
            raise ConnectionError("broker away")
        self.sent.append((topic, key, value, headers))

    async def publish_many(self, items):
        raise AssertionError("the relay publishes with headers, one key at a time")


async def test_each_key_is_published_in_order_with_its_headers():
    publisher = RecordingPublisher()
    grouped = in_key_order([row(i, "ab"[i % 2]) for i in range(10)])
    await publish_in_order(publisher, grouped)
    for key in "ab":
        assert [v for _, k, v, _ in publisher.sent if k == key] == [
            r.value for r in grouped[key]]
    assert publisher.sent[0][3] == [("event_id", b"0")]


async def test_a_failing_key_fails_the_batch_after_the_others_settle():
    publisher = RecordingPublisher(failing_key="b")
    grouped = in_key_order([row(i, "ab"[i % 2]) for i in range(6)])
    with pytest.raises(PublishError):
        await publish_in_order(publisher, grouped)
    assert [k for _, k, _, _ in publisher.sent] == ["a", "a", "a"]

