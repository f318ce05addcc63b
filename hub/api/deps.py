"""Request-scoped dependencies and the access checks shared by the routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.mentorship.tables import assignments
from hub.api.access import Decision, Placement, may_read_learner
from hub.api.audit import record_denial
from hub.api.auth import Principal, current_principal


async def connection(request: Request) -> AsyncIterator[AsyncConnection]:
    async with request.app.state.engine.connect() as conn:
        yield conn


Caller = Annotated[Principal, Depends(current_principal)]
Conn = Annotated[AsyncConnection, Depends(connection)]
UserIdParam = Annotated[
    str | None,
    Query(min_length=1, max_length=64, description="The learner; defaults to the caller."),
]


async def is_active_mentor(conn: AsyncConnection, mentor_id: str, mentee_id: str) -> bool:
    row = await conn.execute(
        select(assignments.c.active).where(
            assignments.c.mentor_id == mentor_id, assignments.c.mentee_id == mentee_id
        )
    )
    return bool(row.scalar())


async def enforce(request: Request, decision: Decision, caller: Principal, resource: str) -> None:
    """Raise 403 with the reason when refused, recording who asked for what."""
    if decision.allowed:
        return
    await record_denial(request.app.state.engine, caller, resource, decision.reason)
    raise HTTPException(403, detail=f"forbidden: {decision.reason}")


async def authorize_learner(
    request: Request,
    conn: AsyncConnection,
    caller: Principal,
    learner_id: str,
    placement: Placement,
) -> None:
    """The learner, their actively assigned mentors, admins over them (CONTRACT)."""
    mentor = "mentor" in caller.roles and await is_active_mentor(conn, caller.user_id, learner_id)
    decision = may_read_learner(caller, learner_id, placement, mentor)
    await enforce(request, decision, caller, f"{request.url.path}?user_id={learner_id}")
