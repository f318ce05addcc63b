"""What the portfolio projection must hold for a set of published events, read the simplest
way from the CONTRACT ("Value statement", "current session", erasure), independently of the
projection's incremental code and of its rules (`consumers.portfolio.statement`, `decide`).

Two things are the hub's choice rather than the CONTRACT's, so they are written here again
from their documented form (`consumers/portfolio/statement.py`'s docstring, the README's
"Portfolio"), not imported: the statement's wording and the item id, uuid5 of
"<user_id>/<session_id>". The uuid5 namespace itself must be shared: it is only a constant,
and item ids must stay the same across rebuilds and releases.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from consumers.portfolio.decide import ITEM_NAMESPACE  # shared: see the docstring
from schemas.registry import AnyEvent, LearnerErased, SessionCompleted, SessionInvalidated


def item_id(user_id: str, session_id: UUID) -> UUID:
    return uuid.uuid5(ITEM_NAMESPACE, f"{user_id}/{session_id}")


def tidy(text: str) -> str:
    """Trimmed, every run of whitespace one space."""
    return re.sub(r"\s+", " ", text).strip()


def distinct_values(values: Iterable[str]) -> tuple[str, ...]:
    """Tidied core values without blanks or case-insensitive repeats, first spelling kept."""
    kept: dict[str, str] = {}
    for value in (tidy(v) for v in values):
        if value:
            kept.setdefault(value.casefold(), value)
    return tuple(kept.values())


def statement_text(track: str, values: tuple[str, ...], motivation: str, goal: str) -> str:
    """"I am driven by a, b and c. <motivation> My goal: <goal> My track: <track>." Each
    sentence ends with . ! ? or … (a full stop added otherwise); a blank part is left out."""
    if len(values) > 1:
        values_text = ", ".join(values[:-1]) + " and " + values[-1]
    else:
        values_text = values[0] if values else ""
    sentences = [
        "I am driven by " + values_text if values else "",
        motivation,
        "My goal: " + goal if goal else "",
        "My track: " + track if track else "",
    ]
    return " ".join(
        text if text[-1] in ".!?…" else text + "." for text in sentences if text
    )


def title_text(track: str) -> str:
    return "Value statement — " + track + " track" if track else "Value statement"


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
    answers, track = e.data.value_answers, tidy(e.data.track)
    values = distinct_values(answers.core_values)
    motivation, goal = tidy(answers.motivation), tidy(answers.impact_goal)
    return ExpectedStatement(
        e.data.session_id, statement_text(track, values, motivation, goal), values,
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
            withdrawn[sid] = max(withdrawn.get(sid, e.occurred_at), e.occurred_at)  # the latest
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
                item_id(user, e.data.session_id), e.data.session_id,
                title_text(tidy(e.data.track)), _statement(e).statement,
                "withdrawn" if (user, e.data.session_id) in withdrawn else "active",
                e.data.completed_at, withdrawn.get((user, e.data.session_id)),
            )
            for e in ranked
        )
        valid = [e for e in ranked if (user, e.data.session_id) not in withdrawn]
        result[user] = ExpectedPortfolio(items, _statement(valid[0]) if valid else None)
    return result
