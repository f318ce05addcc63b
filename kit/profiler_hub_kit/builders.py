"""One typed function per event type: give the facts, get a whole CONTRACT event.

Each fills the envelope: a fresh `event_id` (UUID 4), `occurred_at` (now, UTC), `producer`
(`"profiler"`) and the optional `correlation_id` (a request id, for tracing across systems).
Pass `event_id` or `occurred_at` to set them yourself (a retried request keeping its id).
Invalid facts raise pydantic's `ValidationError`, before anything is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from profiler_hub_kit.models.base import Level
from profiler_hub_kit.models.learner_erased import LearnerErasedV1
from profiler_hub_kit.models.mentorship_assignment_changed import MentorshipAssignmentChangedV1
from profiler_hub_kit.models.registry import (
    LearnerErased,
    MentorshipAssignmentChanged,
    SessionCompleted,
    SessionInvalidated,
    new_event,
)
from profiler_hub_kit.models.session_completed import AntiCheat, SessionCompletedV1, ValueAnswers
from profiler_hub_kit.models.session_invalidated import SessionInvalidatedV1

PRODUCER = "profiler"


def _envelope(
    event_id: UUID | None, occurred_at: datetime | None, producer: str, correlation_id: str | None
) -> dict[str, Any]:
    return {
        "event_id": event_id or uuid4(),
        "occurred_at": occurred_at or datetime.now(UTC),
        "producer": producer,
        "correlation_id": correlation_id,
    }


def session_completed(
    *,
    session_id: UUID,
    user_id: str,
    track: str,
    completed_at: datetime,
    overall_score: float,
    skill_scores: Mapping[str, float],
    value_answers: ValueAnswers | Mapping[str, Any],
    anti_cheat: AntiCheat | Mapping[str, Any],
    cohort_id: str | None = None,
    enterprise_id: str | None = None,
    recommended_level: Level | None = None,
    marketplace_opt_in: bool = False,
    correlation_id: str | None = None,
    event_id: UUID | None = None,
    occurred_at: datetime | None = None,
    producer: str = PRODUCER,
) -> SessionCompleted:
    """`profiler.session.completed` v1: a learner finished a profiler session."""
    data = SessionCompletedV1(
        session_id=session_id,
        user_id=user_id,
        cohort_id=cohort_id,
        enterprise_id=enterprise_id,
        track=track,
        completed_at=completed_at,
        overall_score=overall_score,
        recommended_level=recommended_level,
        skill_scores=dict(skill_scores),
        value_answers=value_answers,
        anti_cheat=anti_cheat,
        marketplace_opt_in=marketplace_opt_in,
    )
    return new_event(data, **_envelope(event_id, occurred_at, producer, correlation_id))  # type: ignore[return-value]


def session_invalidated(
    *,
    session_id: UUID,
    user_id: str,
    reason: str,
    invalidated_at: datetime,
    correlation_id: str | None = None,
    event_id: UUID | None = None,
    occurred_at: datetime | None = None,
    producer: str = PRODUCER,
) -> SessionInvalidated:
    """`profiler.session.invalidated` v1: anti-cheat review retracted a session."""
    data = SessionInvalidatedV1(
        session_id=session_id, user_id=user_id, reason=reason, invalidated_at=invalidated_at
    )
    return new_event(data, **_envelope(event_id, occurred_at, producer, correlation_id))  # type: ignore[return-value]


def learner_erased(
    *,
    user_id: str,
    erased_at: datetime,
    correlation_id: str | None = None,
    event_id: UUID | None = None,
    occurred_at: datetime | None = None,
    producer: str = PRODUCER,
) -> LearnerErased:
    """`learner.erased` v1: every projection forgets the learner."""
    data = LearnerErasedV1(user_id=user_id, erased_at=erased_at)
    return new_event(data, **_envelope(event_id, occurred_at, producer, correlation_id))  # type: ignore[return-value]


def mentorship_assignment_changed(
    *,
    mentor_id: str,
    mentee_id: str,
    active: bool,
    changed_at: datetime,
    correlation_id: str | None = None,
    event_id: UUID | None = None,
    occurred_at: datetime | None = None,
    producer: str = PRODUCER,
) -> MentorshipAssignmentChanged:
    """`mentorship.assignment.changed` v1: a mentor assigned to (or removed from) a mentee."""
    data = MentorshipAssignmentChangedV1(
        mentor_id=mentor_id, mentee_id=mentee_id, active=active, changed_at=changed_at
    )
    return new_event(data, **_envelope(event_id, occurred_at, producer, correlation_id))  # type: ignore[return-value]


__all__ = [
    "learner_erased",
    "mentorship_assignment_changed",
    "session_completed",
    "session_invalidated",
]
