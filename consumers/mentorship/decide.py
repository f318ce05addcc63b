"""Mentorship (CONTRACT, integration 3): pure rules, no I/O.

Two read models come from two topics:
- who mentors whom: `mentorship.assignment.changed`, the newest `changed_at` per
  (mentor, mentee) winning whatever the arrival order. On a `changed_at` tie the inactive
  change wins (a deliberate, deterministic choice: when in doubt, access is withdrawn);
- each mentee's full session history (the learner lifecycle of `toolkit.lifecycle` with
  every result a mentor reads), invalidations with their reason.

Erasure of either person removes a pair's changes that occurred before `erased_at`, and such
changes arriving later are ignored, as the lifecycle does for sessions. A newer change can
lose its place to an older one that survives an erasure, so a pair keeps every change that may
still win (its "front"): a change is dropped only once another one both outranks it and
occurred no earlier, because then any erasure that removes the other removes it too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from consumers.recipes.catalog import Catalog, Gap, skill_gaps
from schemas.registry import AnyEvent, MentorshipAssignmentChanged, SessionInvalidated
from schemas.session_completed import SessionCompletedV1
from toolkit.lifecycle import LearnerState, Session

# ----- session history ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AntiCheatFacts:
    duration_seconds: int
    flags: tuple[str, ...]
    suspicion_score: float


@dataclass(frozen=True, slots=True)
class SessionDetails:
    """Everything a mentor reads of a completed session (stored as one JSONB document)."""

    track: str
    overall_score: float
    recommended_level: str | None
    skill_scores: Mapping[str, float]
    cohort_id: str | None
    enterprise_id: str | None
    anti_cheat: AntiCheatFacts

    def to_document(self) -> dict[str, Any]:
        return {
            "track": self.track,
            "overall_score": self.overall_score,
            "recommended_level": self.recommended_level,
            "skill_scores": dict(self.skill_scores),
            "cohort_id": self.cohort_id,
            "enterprise_id": self.enterprise_id,
            "anti_cheat": {
                "duration_seconds": self.anti_cheat.duration_seconds,
                "flags": list(self.anti_cheat.flags),
                "suspicion_score": self.anti_cheat.suspicion_score,
            },
        }

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> SessionDetails:
        anti_cheat = document["anti_cheat"]
        return cls(
            document["track"],
            document["overall_score"],
            document["recommended_level"],
            document["skill_scores"],
            document["cohort_id"],
            document["enterprise_id"],
            AntiCheatFacts(
                anti_cheat["duration_seconds"],
                tuple(anti_cheat["flags"]),
                anti_cheat["suspicion_score"],
            ),
        )


def session_facts(data: SessionCompletedV1) -> SessionDetails:
    return SessionDetails(
        data.track,
        data.overall_score,
        data.recommended_level,
        dict(data.skill_scores),
        data.cohort_id,
        data.enterprise_id,
        AntiCheatFacts(
            data.anti_cheat.duration_seconds,
            tuple(data.anti_cheat.flags),
            data.anti_cheat.suspicion_score,
        ),
    )


@dataclass(frozen=True, slots=True)
class Invalidation:
    reason: str
    invalidated_at: datetime


def invalidation_changes(
    events: Iterable[AnyEvent], before: LearnerState, after: LearnerState
) -> tuple[dict[UUID, Invalidation], list[UUID]]:
    """The invalidation details to store and to forget after one learner's batch.

    The lifecycle keeps only when an invalidation occurred; its reason comes from the event the
    lifecycle took (the first of the batch with that session and time).
    """
    taken = {
        sid: at for sid, at in after.invalidated.items() if before.invalidated.get(sid) != at
    }
    details: dict[UUID, Invalidation] = {}
    for event in events:
        if not isinstance(event, SessionInvalidated):
            continue
        sid = event.data.session_id
        if sid not in details and taken.get(sid) == event.occurred_at:
            details[sid] = Invalidation(event.data.reason, event.data.invalidated_at)
    gone = [sid for sid in before.invalidated if sid not in after.invalidated]
    return details, gone


@dataclass(frozen=True, slots=True)
class SessionResult:
    session: Session[SessionDetails]
    invalidation: Invalidation | None
    gaps: list[Gap]


@dataclass(frozen=True, slots=True)
class MenteeResults:
    current: SessionResult | None
    sessions: list[SessionResult]  # newest (completed_at, session_id) first


def mentee_results(
    sessions: Sequence[Session[SessionDetails]],
    invalidations: Mapping[UUID, Invalidation],
    catalog: Catalog,
) -> MenteeResults:
    """A mentee's sessions with gaps and invalidation, and the CONTRACT's current session."""
    current = LearnerState(
        {s.session_id: s for s in sessions},
        {sid: i.invalidated_at for sid, i in invalidations.items()},
    ).current()
    results = [
        SessionResult(
            s,
            invalidations.get(s.session_id),
            skill_gaps(catalog, s.facts.track, s.facts.skill_scores),
        )
        for s in sorted(sessions, key=lambda s: s.rank, reverse=True)
    ]
    chosen = None
    if current is not None:
        chosen = next(r for r in results if r.session.session_id == current.session_id)
    return MenteeResults(chosen, results)


# ----- assignments -------------------------------------------------------------------------

Pair = tuple[str, str]  # (mentor_id, mentee_id)


@dataclass(frozen=True, slots=True)
class Change:
    changed_at: datetime
    active: bool
    occurred_at: datetime

    @property
    def rank(self) -> tuple[datetime, bool]:
        """Newest `changed_at` wins; on a tie the inactive change does."""
        return (self.changed_at, not self.active)


Front = frozenset[Change]


def outranks(a: Change, b: Change) -> bool:
    """`b` can never win while `a` exists, and no erasure removes `a` without `b`."""
    return a != b and a.rank >= b.rank and a.occurred_at >= b.occurred_at


def with_change(front: Front, change: Change) -> Front:
    if any(outranks(kept, change) for kept in front):
        return front
    return frozenset({kept for kept in front if not outranks(change, kept)} | {change})


def winner(front: Front) -> Change | None:
    return max(front, key=lambda c: c.rank, default=None)


def cutoff(pair: Pair, erased_at: Mapping[str, datetime]) -> datetime | None:
    """Changes of the pair that occurred before this are forgotten (either person erased)."""
    times = [erased_at[person] for person in pair if person in erased_at]
    return max(times, default=None)


def assignments_after(
    fronts: Mapping[Pair, Front],
    erased_at: Mapping[str, datetime],
    changes: Iterable[MentorshipAssignmentChanged],
) -> dict[Pair, Front]:
    """Fronts after a batch, for the stored pairs given and the pairs the changes name.

    `erased_at` holds the latest erasure of every person involved, this batch's included:
    applying erasures before changes is what any arrival order ends with.
    """
    after: dict[Pair, Front] = {}
    for pair, front in fronts.items():
        limit = cutoff(pair, erased_at)
        after[pair] = front if limit is None else frozenset(
            c for c in front if c.occurred_at >= limit
        )
    for event in changes:
        data = event.data
        pair = (data.mentor_id, data.mentee_id)
        limit = cutoff(pair, erased_at)
        if limit is not None and event.occurred_at < limit:
            continue
        change = Change(data.changed_at, data.active, event.occurred_at)
        after[pair] = with_change(after.get(pair, frozenset()), change)
    return after
