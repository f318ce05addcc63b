"""Request-scoped dependencies and the access checks shared by the routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request
from sqlalchemy.ext.asyncio import AsyncConnection

from toolkit.web.access import NO_MENTORS, Decision, MentorLookup, Placement, may_read_learner
from toolkit.web.audit import DENIALS, Denial, DenialRateLimit, principal_label, record_denial
from toolkit.web.auth import Principal, current_principal


async def connection(request: Request) -> AsyncIterator[AsyncConnection]:
    state = request.app.state
    read_engine = getattr(state, "read_engine", state.engine)  # without the lifespan: one
    async with read_engine.connect() as conn:
        if read_engine is state.engine:
            request.state.connection = conn  # `enforce` records a refusal on it
        # On a replica (read-only) `enforce` records on a primary connection of its own: another
        # pool than the one this request holds, so it cannot wait on itself.
        yield conn


Caller = Annotated[Principal, Depends(current_principal)]
Conn = Annotated[AsyncConnection, Depends(connection)]
UserIdParam = Annotated[
    str | None,
    Query(min_length=1, max_length=64, description="The learner; defaults to the caller."),
]


def mentors(request: Request) -> MentorLookup:
    """Who mentors whom, as the app was given it (`ReadApi.mentors`)."""
    return getattr(request.app.state, "mentors", NO_MENTORS)


def declared_query_parameters(request: Request) -> frozenset[str]:
    """The query parameters the matched endpoint declares (the only ones the audit keeps)."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return frozenset()
    known = getattr(route, "audit_query_parameters", None)
    if known is None:
        names: set[str] = set()
        pending = [dependant]
        while pending:  # the endpoint's parameters and those of its dependencies
            current = pending.pop()
            names.update(field.alias for field in current.query_params)
            pending.extend(current.dependencies)
        known = route.audit_query_parameters = frozenset(names)  # type: ignore[union-attr]
    return known


def denial_rate_limit(request: Request) -> DenialRateLimit:
    """One per API process (app), created on the first refusal."""
    state = request.app.state
    limit = getattr(state, "denial_rate_limit", None)
    if limit is None:
        limit = state.denial_rate_limit = DenialRateLimit(
            state.settings.audit_max_denials_per_minute)
    return limit


async def enforce(request: Request, decision: Decision, caller: Principal, resource: str) -> None:
    """Raise 403 with the reason when refused, recording who asked for what (at most the
    rate limit's share of a principal's refusals; the rest are counted)."""
    if decision.allowed:
        return
    forbidden = HTTPException(403, detail=f"forbidden: {decision.reason}")
    limit = denial_rate_limit(request)
    suppressed = limit.admit(principal_label(caller.user_id))
    if suppressed is None:
        DENIALS.labels("suppressed").inc()
        raise forbidden
    denial = Denial.of(caller, resource, declared_query_parameters(request), decision.reason,
                       suppressed)
    conn = getattr(request.state, "connection", None)
    if conn is not None:
        recorded = await record_denial(conn, denial)
    else:  # no pooled primary connection held here, so taking one cannot deadlock
        async with request.app.state.engine.connect() as own:
            recorded = await record_denial(own, denial)
    if not recorded:
        limit.unrecorded(denial.principal, suppressed + 1)
    raise forbidden


async def authorize_learner(
    request: Request,
    conn: AsyncConnection,
    caller: Principal,
    learner_id: str,
    placement: Placement,
) -> None:
    """The learner, their actively assigned mentors, admins over them (CONTRACT)."""
    mentor = "mentor" in caller.roles and await mentors(request).is_active_mentor(
        conn, caller.user_id, learner_id)
    decision = may_read_learner(caller, learner_id, placement, mentor)
    await enforce(request, decision, caller, f"{request.url.path}?user_id={learner_id}")
