"""`screen`: which consumed records a projection refuses before applying, and why (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from consumers.missions.projection import MissionsProjection
from schemas.registry import encode
from tests.support.events import assignment, completed, erased, invalidated
from toolkit.streaming.applier import FUTURE_TOLERANCE, screen
from toolkit.streaming.dead_letters import Refusal
from toolkit.streaming.records import Record

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
AHEAD = NOW + FUTURE_TOLERANCE + timedelta(seconds=1)
FAR = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


def record_of(event) -> Record:
    return Record("profiler.events", 0, 0, event.key.encode(), encode(event))


def with_data(event, **changes):
    return event.model_copy(update={"data": event.data.model_copy(update=changes)})


@pytest.mark.parametrize(
    ("event", "field"),
    [
        (with_data(completed("u1", minute=0), completed_at=FAR), "completed_at"),
        (with_data(completed("u1", minute=0), completed_at=AHEAD), "completed_at"),
        (with_data(erased("u1", minute=0), erased_at=FAR), "erased_at"),
        (with_data(invalidated("u1", completed("u1", minute=0).data.session_id, minute=1),
                   invalidated_at=FAR), "invalidated_at"),
    ],
)
def test_a_data_timestamp_far_ahead_is_refused(event, field) -> None:
    """A far-future completed_at would stay "current" forever, a far-future erased_at would
    ignore every later event of the learner: refused, with the field named."""
    outcome = screen(record_of(event), MissionsProjection(None), 1_048_576, NOW)
    assert isinstance(outcome, Refusal)
    assert outcome.reason == "timestamp_in_future"
    assert outcome.exception.startswith(f"data.{field} ")


def test_a_far_future_changed_at_is_refused_by_mentorship() -> None:
    from consumers.mentorship.projection import MentorshipProjection

    event = with_data(assignment("m1", "u1", active=True, minute=0), changed_at=FAR)
    outcome = screen(record_of(event), MentorshipProjection(None), 1_048_576, NOW)
    assert isinstance(outcome, Refusal) and outcome.reason == "timestamp_in_future"


def test_timestamps_within_the_tolerance_are_accepted() -> None:
    near = NOW + FUTURE_TOLERANCE - timedelta(seconds=1)
    event = with_data(completed("u1", minute=0), completed_at=near)
    event = event.model_copy(update={"occurred_at": near})
    assert screen(record_of(event), MissionsProjection(None), 1_048_576, NOW) == event


def test_a_far_future_occurrence_keeps_its_own_reason() -> None:
    event = completed("u1", minute=0).model_copy(update={"occurred_at": FAR})
    outcome = screen(record_of(event), MissionsProjection(None), 1_048_576, NOW)
    assert isinstance(outcome, Refusal) and outcome.reason == "occurred_in_future"


@pytest.mark.parametrize(
    "event",
    [completed("u1", minute=0), erased("u1", minute=0),
     assignment("m1", "u1", active=True, minute=0),
     invalidated("u1", completed("u1", minute=0).data.session_id, minute=1)],
    ids=lambda e: e.event_type,
)
def test_every_datetime_of_a_payload_is_screened(event) -> None:
    """`screen` checks the payload's declared datetime fields, found once per model: each
    datetime a decoded payload holds is among them."""
    from toolkit.streaming.applier import _datetime_fields

    held = {name for name, value in event.data if isinstance(value, datetime)}
    assert held and held <= set(_datetime_fields(type(event.data)))
