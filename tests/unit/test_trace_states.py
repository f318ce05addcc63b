"""`hub trace`'s verdict per consumer from positions and dead letters (pure)."""

from __future__ import annotations

import pytest

from hub.operations.trace import (
    Copy,
    Letter,
    StoredPosition,
    TraceError,
    consumer_states,
    event_id_of,
)


def copy(offset: int, partition: int = 1) -> Copy:
    return Copy("profiler.events", partition, offset, None, "profiler.session.completed", "u1",
                None, None)


def test_below_the_stored_position_is_not_reached_with_the_records_ahead():
    [state] = consumer_states("missions", [copy(14)],
                              {("profiler.events", 1): StoredPosition(10, "t")}, {})
    assert state.state == "not_reached" and state.detail.startswith("4 records ahead of it")
    [never] = consumer_states("missions", [copy(3, partition=2)], {}, {})
    assert never.state == "not_reached" and never.position == 0


def test_past_the_position_it_is_applied_unless_dead_lettered():
    positions = {("profiler.events", 1): StoredPosition(15, "2026-12-01T06:00:00+00:00")}
    [latest] = consumer_states("missions", [copy(14)], positions, {})
    assert latest.state == "applied" and "(the latest)" in latest.detail
    [earlier] = consumer_states("missions", [copy(9)], positions, {})
    assert earlier.state == "applied" and "position now 15" in earlier.detail
    letter = Letter("missions.dlq", 0, 7, "schema_unknown", "v9", "2026-12-01T05:59:00+00:00")
    [refused] = consumer_states("missions", [copy(9)], positions,
                                {("profiler.events", 1, 9): letter})
    assert refused.state == "dead_lettered" and "reason schema_unknown" in refused.detail


def test_a_second_copy_of_an_applied_event_is_skipped():
    positions = {("profiler.events", 1): StoredPosition(30, "t")}
    states = consumer_states("missions", [copy(9), copy(20)], positions, {})
    assert [s.state for s in states] == ["applied", "skipped"]


def test_an_event_id_must_be_a_uuid():
    assert event_id_of(" 0B8F0C4E-9C1A-4C55-8D1E-3F3A1C7E2B10 ") == (
        "0b8f0c4e-9c1a-4c55-8d1e-3f3a1c7e2b10")
    with pytest.raises(TraceError, match="not an event id"):
        event_id_of("42")
