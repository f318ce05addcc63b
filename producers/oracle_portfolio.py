"""What the portfolio projection must hold for a set of published events, read the simplest
way from the CONTRACT ("Value statement", "current session", erasure), independently of the
projection's incremental code. Only the wording (the template) and the item id scheme are
shared with it, since those are the hub's choice, not the CONTRACT's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from consumers.portfolio.decide import item_id_for
from consumers.portfolio.statement import (
    clean_text,
    clean_values,
    compose_statement,
    compose_title,
)
from schemas.registry import AnyEvent, LearnerErased, SessionCompleted, SessionInvalidated


@dataclass(frozen=True)
class ExpectedStatement:
    profiler_session_id: UUID
    statement: str
    core_values: tuple[str, ...]
    motivation: str
    impact_goal: str
    track: str
    completed_at: datetime


@dataclass(frozen=True)
class ExpectedItem:
    item_id: UUID
    profiler_session_id: UUID
    title: str
    statement: str
    status: str
    created_at: datetime
    withdrawn_at: datetime | None


@dataclass(frozen=True)
class ExpectedPortfolio:
    items: tuple[ExpectedItem, ...]  # newest completed_at first, then greater session id
    current: ExpectedStatement | None


def _surviving(events: Iterable[AnyEvent]) -> list[AnyEvent]:
    """Each fact once, minus what occurred before its learner's latest erasure."""
    unique = list({e.event_id: e for e in events}.values())
    erased_at: dict[str, datetime] = {}
    for e in unique:
        if isinstance(e, LearnerErased):
            erased_at[e.key] = max(erased_at.get(e.key, e.data.erased_at), e.data.erased_at)
    return [e for e in unique if e.key not in erased_at or e.occurred_at >= erased_at[e.key]]


def _statement(e: SessionCompleted) -> ExpectedStatement:
    answers, track = e.data.value_answers, clean_text(e.data.track)
    values = clean_values(answers.core_values)
    motivation, goal = clean_text(answers.motivation), clean_text(answers.impact_goal)
    return ExpectedStatement(
        e.data.session_id, compose_statement(track, values, motivation, goal), values,
        motivation, goal, track, e.data.completed_at,
    )


def portfolios(events: Iterable[AnyEvent]) -> dict[str, ExpectedPortfolio]:
    """Learner -> their items and current value statement, for learners with any item."""
    alive = _surviving(events)
    # Per learner: another learner's invalidation of the same session id withdraws nothing.
    withdrawn: dict[tuple[str, UUID], datetime] = {}
    for e in alive:
        if isinstance(e, SessionInvalidated):
            sid = (e.key, e.data.session_id)
            withdrawn[sid] = min(withdrawn.get(sid, e.occurred_at), e.occurred_at)
    completions: dict[str, dict[UUID, SessionCompleted]] = {}
    for e in alive:
        if isinstance(e, SessionCompleted):
            completions.setdefault(e.key, {}).setdefault(e.data.session_id, e)
    result = {}
    for user, sessions in completions.items():
        ranked = sorted(
            sessions.values(),
            key=lambda e: (e.data.completed_at, str(e.data.session_id)),
            reverse=True,
        )
        items = tuple(
            ExpectedItem(
                item_id_for(user, e.data.session_id), e.data.session_id,
                compose_title(clean_text(e.data.track)), _statement(e).statement,
                "withdrawn" if (user, e.data.session_id) in withdrawn else "active",
                e.data.completed_at, withdrawn.get((user, e.data.session_id)),
            )
            for e in ranked
        )
        valid = [e for e in ranked if (user, e.data.session_id) not in withdrawn]
        result[user] = ExpectedPortfolio(items, _statement(valid[0]) if valid else None)
    return result
