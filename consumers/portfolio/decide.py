"""Value statement portfolio items and the leadership identity (CONTRACT, "Value statement"):
pure rules, no I/O.

Every completed session the learner's lifecycle remembers has exactly one item, whatever the
arrival order or the number of deliveries: `active` while the session is valid, `withdrawn`
(with the invalidation's time) once it is invalidated — also when the invalidation came
first, so the item then appears already withdrawn. An erasure drops the sessions, hence the
items. The current value statement is the current session's (`LearnerState.current`).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

from consumers.portfolio.statement import (
    clean_text,
    clean_values,
    compose_statement,
    compose_title,
)
from schemas.session_completed import SessionCompletedV1
from toolkit.lifecycle import LearnerState, Session

ITEM_NAMESPACE = uuid.UUID("5e0b7a4e-2f53-4c1d-9a0e-7d8a6c1b2f10")
Status = Literal["active", "withdrawn"]


@functools.lru_cache(maxsize=1 << 17)
def item_id_for(user_id: str, session_id: UUID) -> UUID:
    """Deterministic, so a rebuilt projection hands out the same item ids; of the learner
    and the session, so a session id another learner reuses never names their item (the
    session id is a fixed-width suffix, so no two pairs share a name). Cached: a learner's
    items are derived again each time one of their events arrives."""
    return uuid.uuid5(ITEM_NAMESPACE, f"{user_id}/{session_id}")


@dataclass(frozen=True, slots=True)
class SessionStatement:
    """What the portfolio projection keeps of a completed session: the cleaned answers, the
    statement made of them, and where the session placed the learner (for RBAC)."""

    track: str
    core_values: tuple[str, ...]
    motivation: str
    impact_goal: str
    title: str
    statement: str
    cohort_id: str | None
    enterprise_id: str | None


def make_facts(
    track: str, core_values: tuple[str, ...], motivation: str, impact_goal: str,
    cohort_id: str | None, enterprise_id: str | None,
) -> SessionStatement:
    """Facts of cleaned answers; the title and statement are always made from them here."""
    return SessionStatement(
        track, core_values, motivation, impact_goal, compose_title(track),
        compose_statement(track, core_values, motivation, impact_goal), cohort_id, enterprise_id,
    )


def session_facts(data: SessionCompletedV1) -> SessionStatement:
    answers = data.value_answers
    return make_facts(
        clean_text(data.track), clean_values(answers.core_values), clean_text(answers.motivation),
        clean_text(answers.impact_goal), data.cohort_id, data.enterprise_id,
    )


@dataclass(frozen=True, slots=True)
class PortfolioItem:
    item_id: UUID
    profiler_session_id: UUID
    facts: SessionStatement
    status: Status
    created_at: datetime  # the session's completed_at
    withdrawn_at: datetime | None


def item_of(
    user_id: str, session: Session[SessionStatement], withdrawn_at: datetime | None
) -> PortfolioItem:
    return PortfolioItem(
        item_id_for(user_id, session.session_id), session.session_id, session.facts,
        "withdrawn" if withdrawn_at is not None else "active", session.completed_at,
        withdrawn_at,
    )


def portfolio_items(
    user_id: str, state: LearnerState[SessionStatement]
) -> Mapping[UUID, PortfolioItem]:
    """The learner's items by session id."""
    return {
        sid: item_of(user_id, session, state.invalidated.get(sid))
        for sid, session in state.sessions.items()
    }

