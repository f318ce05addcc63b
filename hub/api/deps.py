"""Request-scoped dependencies shared by the routes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.api.access import Decision
from hub.api.auth import Principal, current_principal

audit = logging.getLogger("hub.audit")


async def connection(request: Request) -> AsyncIterator[AsyncConnection]:
    async with request.app.state.engine.connect() as conn:
        yield conn


Caller = Annotated[Principal, Depends(current_principal)]
Conn = Annotated[AsyncConnection, Depends(connection)]
UserIdParam = Annotated[
    str | None,
    Query(min_length=1, max_length=64, description="The learner; defaults to the caller."),
]


def enforce(decision: Decision, principal: Principal, resource: str) -> None:
    """Raise 403 with the reason when refused, recording who asked for what."""
    if decision.allowed:
        return
    audit.warning(
        "access denied",
        extra={"principal": principal.user_id, "roles": sorted(principal.roles),
               "resource": resource, "reason": decision.reason},
    )
    raise HTTPException(403, detail=f"forbidden: {decision.reason}")
