"""The session-count read: its route, its access rule and its fast path (`READ_API`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.responses import Response

from tests.support.projections.session_count import tables
from toolkit.web.access import MentorLookup, Placement
from toolkit.web.auth import Principal
from toolkit.web.deps import Caller, Conn, UserIdParam, authorize_learner
from toolkit.web.freshness import Fresh, answer, projection_read
from toolkit.web.read_api import FastRead, ReadApi, may_read_learner_fast

router = APIRouter(prefix="/api/v1/session-count", tags=["session-count"])
FreshRead = Annotated[Fresh, Depends(projection_read("session_count"))]

COUNT_SQL = ("SELECT sessions, latest_completed_at, cohort_id, enterprise_id "
             "FROM session_count.counts WHERE user_id = $1")


class SessionCountOut(BaseModel):
    user_id: str
    sessions: int = Field(ge=0, description="Valid (not invalidated) completed sessions.")
    latest_completed_at: datetime | None = None


@router.get(
    "",
    response_model=SessionCountOut,
    summary="How many valid profiler sessions the learner completed",
    responses={401: {"description": "missing or bad token"},
               403: {"description": "not the learner, their mentor, or an admin over them"},
               400: {"description": "invalid user_id"}},
)
async def session_count(
    request: Request, caller: Caller, fresh: FreshRead, conn: Conn, user_id: UserIdParam = None
) -> Response:
    learner = user_id or caller.user_id
    t = tables.counts
    row = (await conn.execute(select(t).where(t.c.user_id == learner))).mappings().first()
    placement = Placement(row["cohort_id"], row["enterprise_id"]) if row else Placement()
    # The access rule: the CONTRACT's for a learner's own data.
    await authorize_learner(request, conn, caller, learner, placement)
    return answer(count_out(learner, row), fresh)


def count_out(learner: str, row) -> SessionCountOut:
    if row is None:
        return SessionCountOut(user_id=learner, sessions=0)
    return SessionCountOut(user_id=learner, sessions=row["sessions"],
                           latest_completed_at=row["latest_completed_at"])


async def fast_session_count(caller: Principal, learner: str, conn,
                             mentors: MentorLookup) -> SessionCountOut | None:
    row = await conn.fetchrow(COUNT_SQL, learner)
    placement = Placement(row["cohort_id"], row["enterprise_id"]) if row else Placement()
    if not await may_read_learner_fast(conn, caller, learner, placement, mentors):
        return None  # refused: the route answers, and audits
    return count_out(learner, row)


READ_API = ReadApi(
    routers=[router],
    fast_reads=[FastRead("session_count", fast_session_count, path="/api/v1/session-count")],
)
