"""Integration 1 — missions engine: a learner's mission difficulty (route, fast path, access)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.responses import Response

from consumers.missions import tables
from consumers.missions.decide import DEFAULT_DIFFICULTY
from toolkit.web.access import MentorLookup, Placement
from toolkit.web.auth import Principal
from toolkit.web.deps import Caller, Conn, UserIdParam, authorize_learner
from toolkit.web.freshness import Fresh, answer, projection_read
from toolkit.web.read_api import FastRead, ReadApi, may_read_learner_fast

router = APIRouter(prefix="/api/v1/missions", tags=["missions"])
FreshRead = Annotated[Fresh, Depends(projection_read("missions"))]


class DifficultyOut(BaseModel):
    user_id: str
    difficulty: int = Field(ge=1, le=5)
    source: Literal["profiler", "default"]
    fallback: bool = Field(description="True when there is no valid profiler session.")
    session_id: UUID | None = None
    completed_at: datetime | None = None

    model_config = {
        "json_schema_extra": {
            "examples": [
                {"user_id": "learner-0001", "difficulty": 3, "source": "profiler",
                 "fallback": False, "session_id": "0b6f3c1e-8a8e-4b7a-9a57-2f0e6d1c8a44",
                 "completed_at": "2026-02-09T10:15:00Z"},
                {"user_id": "learner-0999", "difficulty": 1, "source": "default",
                 "fallback": True, "session_id": None, "completed_at": None},
            ]
        }
    }


@router.get(
    "/difficulty",
    response_model=DifficultyOut,
    summary="Mission difficulty 1–5 from the learner's current profiler session",
    responses={401: {"description": "missing or bad token"},
               403: {"description": "not the learner, their mentor, or an admin over them"},
               400: {"description": "invalid user_id"}},
)
async def difficulty(
    request: Request, caller: Caller, fresh: FreshRead, conn: Conn, user_id: UserIdParam = None
) -> Response:
    learner = user_id or caller.user_id
    t = tables.difficulty
    row = (
        await conn.execute(select(t).where(t.c.user_id == learner))
    ).mappings().first()
    placement = Placement(row["cohort_id"], row["enterprise_id"]) if row else Placement()
    await authorize_learner(request, conn, caller, learner, placement)
    if row is None:
        return answer(DifficultyOut(user_id=learner, difficulty=DEFAULT_DIFFICULTY,
                                    source="default", fallback=True), fresh)
    return answer(DifficultyOut(user_id=learner, difficulty=row["difficulty"], source="profiler",
                                fallback=False, session_id=row["session_id"],
                                completed_at=row["completed_at"]), fresh)


DIFFICULTY_SQL = (
    "SELECT difficulty, session_id, completed_at, cohort_id, enterprise_id "
    "FROM missions.difficulty WHERE user_id = $1")


async def fast_difficulty(caller: Principal, learner: str, conn,
                          mentors: MentorLookup) -> DifficultyOut | None:
    """`difficulty` on the fast path (toolkit/web/read_api.py)."""
    row = await conn.fetchrow(DIFFICULTY_SQL, learner)
    placement = Placement(row["cohort_id"], row["enterprise_id"]) if row else Placement()
    if not await may_read_learner_fast(conn, caller, learner, placement, mentors):
        return None
    if row is None:
        return DifficultyOut(user_id=learner, difficulty=DEFAULT_DIFFICULTY, source="default",
                             fallback=True)
    return DifficultyOut(user_id=learner, difficulty=row["difficulty"], source="profiler",
                         fallback=False, session_id=row["session_id"],
                         completed_at=row["completed_at"])


READ_API = ReadApi(
    routers=[router],
    fast_reads=[FastRead("missions", fast_difficulty, path="/api/v1/missions/difficulty")],
)
