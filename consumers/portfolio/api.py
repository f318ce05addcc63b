"""Integrations 4 and 5 — portfolio and VIP Leadership Academy: a learner's value statement
items, their current value statement, and the leadership identity seeded from it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel
from sqlalchemy import RowMapping, select
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.responses import Response

from consumers.portfolio import tables
from toolkit.web.access import MentorLookup, Placement
from toolkit.web.auth import Principal
from toolkit.web.deps import Caller, Conn, UserIdParam, authorize_learner
from toolkit.web.freshness import Fresh, answer, projection_read
from toolkit.web.read_api import FastRead, ReadApi, may_read_learner_fast

router = APIRouter()
FreshRead = Annotated[Fresh, Depends(projection_read("portfolio"))]

SESSION = "0b6f3c1e-8a8e-4b7a-9a57-2f0e6d1c8a44"
ITEM = "3f1d2c4b-5a6e-5f70-8a9b-0c1d2e3f4a5b"
MOTIVATION = "I want to protect hospital networks because people deserve services they can trust."
GOAL = "Mentor two juniors and protect hospital networks together."
STATEMENT = (f"I am driven by integrity and curiosity. {MOTIVATION} My goal: {GOAL} "
             "My track: defender.")
Responses = dict[int | str, dict[str, Any]]
COMMON: Responses = {401: {"description": "missing or bad token"},
          403: {"description": "not the learner, their mentor, or an admin over them"},
          400: {"description": "invalid parameter (the field is named)"}}
NOT_YET: Responses = {404: {"description": "the learner has no valid completed session: "
                                "no value statement yet"}}


class ValueStatementOut(BaseModel):
    user_id: str
    profiler_session_id: UUID
    statement: str
    core_values: list[str]
    motivation: str
    impact_goal: str
    track: str
    completed_at: datetime

    model_config = {"json_schema_extra": {"examples": [{
        "user_id": "learner-0001", "profiler_session_id": SESSION, "statement": STATEMENT,
        "core_values": ["integrity", "curiosity"], "motivation": MOTIVATION, "impact_goal": GOAL,
        "track": "defender", "completed_at": "2026-02-09T10:15:00Z",
    }]}}


class PortfolioItemOut(BaseModel):
    item_id: UUID
    kind: Literal["value_statement"] = "value_statement"
    profiler_session_id: UUID
    title: str
    statement: str
    status: Literal["active", "withdrawn"]
    created_at: datetime
    withdrawn_at: datetime | None = None


class PortfolioItemsOut(BaseModel):
    user_id: str
    items: list[PortfolioItemOut]

    model_config = {"json_schema_extra": {"examples": [{
        "user_id": "learner-0001",
        "items": [
            {"item_id": ITEM, "kind": "value_statement", "profiler_session_id": SESSION,
             "title": "Value statement — defender track", "statement": STATEMENT,
             "status": "active", "created_at": "2026-02-09T10:15:00Z", "withdrawn_at": None},
            {"item_id": "9a8b7c6d-5e4f-5a3b-8c2d-1e0f9a8b7c6d", "kind": "value_statement",
             "profiler_session_id": "7c2e9d10-3b4a-4c5d-8e6f-1a2b3c4d5e6f",
             "title": "Value statement — grc track", "statement": "I am driven by fairness. "
             "My goal: Reduce audit findings. My track: grc.", "status": "withdrawn",
             "created_at": "2026-01-20T08:00:00Z", "withdrawn_at": "2026-01-22T12:00:00Z"},
        ],
    }]}}


class SeedStatement(BaseModel):
    """The value statement portfolio item the identity is seeded from."""

    item_id: UUID
    profiler_session_id: UUID
    statement: str
    completed_at: datetime


class LeadershipIdentityOut(BaseModel):
    user_id: str
    track: str
    core_values: list[str]
    motivation: str
    impact_goal: str
    value_statement: SeedStatement

    model_config = {"json_schema_extra": {"examples": [{
        "user_id": "learner-0001", "track": "defender", "core_values": ["integrity", "curiosity"],
        "motivation": MOTIVATION, "impact_goal": GOAL,
        "value_statement": {"item_id": ITEM, "profiler_session_id": SESSION,
                            "statement": STATEMENT, "completed_at": "2026-02-09T10:15:00Z"},
    }]}}


async def current_statement(
    conn: AsyncConnection, learner: str
) -> tuple[Placement, RowMapping | None]:
    """The learner's placement (empty when unknown) and current statement item, if any."""
    cur, items = tables.current_statements, tables.items
    row = (await conn.execute(
        select(cur.c.cohort_id, cur.c.enterprise_id, items)
        .join(items, (items.c.item_id == cur.c.item_id) & (items.c.user_id == cur.c.user_id))
        .where(cur.c.user_id == learner)
    )).mappings().first()
    if row is None:
        return Placement(), None
    return Placement(row["cohort_id"], row["enterprise_id"]), row


async def authorized_statement(
    request: Request, conn: AsyncConnection, caller: Principal, user_id: str | None
) -> tuple[str, RowMapping]:
    """Access first (a refused caller never learns whether a statement exists), then 404."""
    learner = user_id or caller.user_id
    placement, row = await current_statement(conn, learner)
    await authorize_learner(request, conn, caller, learner, placement)
    if row is None:
        raise HTTPException(404, detail=f"no value statement yet for {learner}")
    return learner, row


@router.get(
    "/api/v1/profiler/value-statement",
    tags=["vip-leadership"],
    response_model=ValueStatementOut,
    summary="The learner's current value statement (from their current profiler session)",
    responses={**COMMON, **NOT_YET},
)
async def value_statement(
    request: Request, caller: Caller, fresh: FreshRead, conn: Conn, user_id: UserIdParam = None
) -> Response:
    learner, row = await authorized_statement(request, conn, caller, user_id)
    return answer(ValueStatementOut(
        user_id=learner, profiler_session_id=row["profiler_session_id"],
        statement=row["statement"], core_values=row["core_values"],
        motivation=row["motivation"], impact_goal=row["impact_goal"], track=row["track"],
        completed_at=row["created_at"],
    ), fresh)


@router.get(
    "/api/v1/leadership/identity",
    tags=["vip-leadership"],
    response_model=LeadershipIdentityOut,
    summary="The learner's leadership identity, seeded from their current value statement",
    responses={**COMMON, **NOT_YET},
)
async def leadership_identity(
    request: Request, caller: Caller, fresh: FreshRead, conn: Conn, user_id: UserIdParam = None
) -> Response:
    learner, row = await authorized_statement(request, conn, caller, user_id)
    return answer(LeadershipIdentityOut(
        user_id=learner, track=row["track"], core_values=row["core_values"],
        motivation=row["motivation"], impact_goal=row["impact_goal"],
        value_statement=SeedStatement(
            item_id=row["item_id"], profiler_session_id=row["profiler_session_id"],
            statement=row["statement"], completed_at=row["created_at"],
        ),
    ), fresh)


@router.get(
    "/api/v1/portfolio/items",
    tags=["portfolio"],
    response_model=PortfolioItemsOut,
    summary="The learner's value statement portfolio items, newest session first",
    description="One item per completed profiler session, linked by `profiler_session_id`. "
                "An item whose session was invalidated is `withdrawn` and listed only with "
                "`include_withdrawn=true`. A learner without items gets an empty list.",
    responses=COMMON,
)
async def portfolio_items(
    request: Request,
    caller: Caller,
    fresh: FreshRead,
    conn: Conn,
    user_id: UserIdParam = None,
    include_withdrawn: Annotated[
        bool, Query(description="Also list items whose session was invalidated.")
    ] = False,
) -> Response:
    learner = user_id or caller.user_id
    placement, _ = await current_statement(conn, learner)
    await authorize_learner(request, conn, caller, learner, placement)
    t = tables.items
    query = select(t).where(t.c.user_id == learner)
    if not include_withdrawn:
        query = query.where(t.c.status == "active")
    rows = (await conn.execute(
        query.order_by(t.c.created_at.desc(), t.c.profiler_session_id.desc())
    )).mappings()
    return answer(PortfolioItemsOut(user_id=learner, items=[
        PortfolioItemOut(
            item_id=r["item_id"], profiler_session_id=r["profiler_session_id"],
            title=r["title"], statement=r["statement"], status=r["status"],
            created_at=r["created_at"], withdrawn_at=r["withdrawn_at"],
        )
        for r in rows
    ]), fresh)


# ----- the fast path (toolkit/web/read_api.py): the same answers on asyncpg -----------------

STATEMENT_SQL = (
    "SELECT c.cohort_id, c.enterprise_id, i.item_id, i.profiler_session_id, i.statement, "
    "i.track, i.core_values, i.motivation, i.impact_goal, i.created_at "
    "FROM portfolio.current_statements c JOIN portfolio.items i "
    "ON i.item_id = c.item_id AND i.user_id = c.user_id WHERE c.user_id = $1")
PLACEMENT_SQL = (  # current_statement's placement
    "SELECT c.cohort_id, c.enterprise_id FROM portfolio.current_statements c "
    "JOIN portfolio.items i ON i.item_id = c.item_id AND i.user_id = c.user_id "
    "WHERE c.user_id = $1")
ITEMS_SQL = (
    "SELECT item_id, profiler_session_id, title, statement, status, created_at, withdrawn_at "
    "FROM portfolio.items WHERE user_id = $1 AND status = 'active' "
    "ORDER BY created_at DESC, profiler_session_id DESC")


async def _fast_statement(caller: Principal, learner: str, conn, mentors: MentorLookup):
    row = await conn.fetchrow(STATEMENT_SQL, learner)
    if row is None:  # 404, or a refusal that must not say so: the route decides
        return None
    placement = Placement(row["cohort_id"], row["enterprise_id"])
    if not await may_read_learner_fast(conn, caller, learner, placement, mentors):
        return None
    return row


async def fast_value_statement(caller: Principal, learner: str, conn,
                               mentors: MentorLookup) -> ValueStatementOut | None:
    row = await _fast_statement(caller, learner, conn, mentors)
    if row is None:
        return None
    return ValueStatementOut(
        user_id=learner, profiler_session_id=row["profiler_session_id"],
        statement=row["statement"], core_values=row["core_values"],
        motivation=row["motivation"], impact_goal=row["impact_goal"], track=row["track"],
        completed_at=row["created_at"])


async def fast_leadership_identity(caller: Principal, learner: str, conn,
                                   mentors: MentorLookup) -> LeadershipIdentityOut | None:
    row = await _fast_statement(caller, learner, conn, mentors)
    if row is None:
        return None
    return LeadershipIdentityOut(
        user_id=learner, track=row["track"], core_values=row["core_values"],
        motivation=row["motivation"], impact_goal=row["impact_goal"],
        value_statement=SeedStatement(
            item_id=row["item_id"], profiler_session_id=row["profiler_session_id"],
            statement=row["statement"], completed_at=row["created_at"]))


async def fast_portfolio_items(caller: Principal, learner: str, conn,
                               mentors: MentorLookup) -> PortfolioItemsOut | None:
    """Without `include_withdrawn` only (any other parameter goes to the route)."""
    if caller.user_id != learner:  # a learner reads their own whatever their placement
        row = await conn.fetchrow(PLACEMENT_SQL, learner)
        placement = Placement(row["cohort_id"], row["enterprise_id"]) if row else Placement()
        if not await may_read_learner_fast(conn, caller, learner, placement, mentors):
            return None
    return PortfolioItemsOut(user_id=learner, items=[
        PortfolioItemOut(
            item_id=r["item_id"], profiler_session_id=r["profiler_session_id"],
            title=r["title"], statement=r["statement"], status=r["status"],
            created_at=r["created_at"], withdrawn_at=r["withdrawn_at"])
        for r in await conn.fetch(ITEMS_SQL, learner)])


READ_API = ReadApi(
    routers=[router],
    fast_reads=[
        FastRead("portfolio", fast_value_statement, path="/api/v1/profiler/value-statement"),
        FastRead("portfolio", fast_leadership_identity, path="/api/v1/leadership/identity"),
        FastRead("portfolio", fast_portfolio_items, path="/api/v1/portfolio/items"),
    ],
)
