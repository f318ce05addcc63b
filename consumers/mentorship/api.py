"""Integration 3 — mentorship: a mentor reads the full profiler results of a mentee.

The projection also answers, for every learner read, who is an actively assigned mentor
(`MENTORS`, given to the app through `READ_API.mentors`).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.responses import Response

from consumers.mentorship import tables
from consumers.mentorship.decide import (
    Invalidation,
    MenteeResults,
    SessionDetails,
    SessionResult,
    mentee_results,
)
from consumers.recipes.catalog_store import active_catalog, active_catalog_raw
from toolkit.lifecycle import Session
from toolkit.web.access import Decision, MentorLookup, Placement, admin_over
from toolkit.web.auth import Principal
from toolkit.web.deps import Caller, Conn, enforce
from toolkit.web.freshness import Fresh, answer, projection_read
from toolkit.web.read_api import FastRead, ReadApi

router = APIRouter(prefix="/api/v1/profiler", tags=["mentorship"])
FreshRead = Annotated[Fresh, Depends(projection_read("mentorship"))]

MENTORS = MentorLookup(
    "SELECT active FROM mentorship.assignments WHERE mentor_id = $1 AND mentee_id = $2")

MenteeIdPath = Annotated[str, Path(min_length=1, max_length=64, description="The mentee.")]


def may_read_mentee_results(
    principal: Principal, placement: Placement, is_active_mentor: bool
) -> Decision:
    """CONTRACT: an actively assigned mentor, and admins over the mentee (not the mentee)."""
    if is_active_mentor and "mentor" in principal.roles:
        return Decision(True, "assigned mentor")
    admin = admin_over(principal, placement)
    if admin is not None:
        return admin
    return Decision(
        False,
        f"{principal.user_id} is neither an actively assigned mentor of the mentee "
        "nor an admin over their cohort or enterprise",
    )


class GapOut(BaseModel):
    # Two models are called GapOut, so the OpenAPI document names each by its module: keep
    # the name it was published under (before the routes moved into the projection folders).
    __module__ = "hub.api.routes.mentorship"

    skill: str
    score: float
    target: float
    gap: float = Field(description="max(0, target - score)")
    recipe_skill_codes: list[str]


class AntiCheatOut(BaseModel):
    duration_seconds: int
    flags: list[str]
    suspicion_score: float


class InvalidationOut(BaseModel):
    reason: str
    invalidated_at: datetime


class SessionOut(BaseModel):
    session_id: UUID
    track: str
    completed_at: datetime
    overall_score: float
    recommended_level: str | None
    skill_scores: dict[str, float]
    cohort_id: str | None
    enterprise_id: str | None
    gaps: list[GapOut] = Field(description="Per skill, largest gap first.")
    anti_cheat: AntiCheatOut
    invalidated: InvalidationOut | None = Field(
        description="Set when the session was invalidated; it then never is the current one."
    )

    @classmethod
    def from_result(cls, result: SessionResult) -> SessionOut:
        s, facts = result.session, result.session.facts
        return cls(
            session_id=s.session_id,
            track=facts.track,
            completed_at=s.completed_at,
            overall_score=facts.overall_score,
            recommended_level=facts.recommended_level,
            skill_scores=dict(facts.skill_scores),
            cohort_id=facts.cohort_id,
            enterprise_id=facts.enterprise_id,
            gaps=[
                GapOut(skill=g.skill, score=g.score, target=g.target, gap=g.gap,
                       recipe_skill_codes=list(g.recipe_skill_codes))
                for g in result.gaps
            ],
            anti_cheat=AntiCheatOut(
                duration_seconds=facts.anti_cheat.duration_seconds,
                flags=list(facts.anti_cheat.flags),
                suspicion_score=facts.anti_cheat.suspicion_score,
            ),
            invalidated=(
                InvalidationOut(reason=result.invalidation.reason,
                                invalidated_at=result.invalidation.invalidated_at)
                if result.invalidation else None
            ),
        )


_SESSION_EXAMPLE: dict[str, Any] = {
    "session_id": "0b6f3c1e-8a8e-4b7a-9a57-2f0e6d1c8a44",
    "track": "defender",
    "completed_at": "2026-02-09T10:15:00Z",
    "overall_score": 62.5,
    "recommended_level": "advanced",
    "skill_scores": {"network_security": 55.0, "incident_response": 70.0},
    "cohort_id": "cohort-01",
    "enterprise_id": "enterprise-a",
    "gaps": [
        {"skill": "network_security", "score": 55.0, "target": 75.0, "gap": 20.0,
         "recipe_skill_codes": ["NETSEC"]},
        {"skill": "incident_response", "score": 70.0, "target": 80.0, "gap": 10.0,
         "recipe_skill_codes": ["IR"]},
    ],
    "anti_cheat": {"duration_seconds": 1740, "flags": [], "suspicion_score": 0.04},
    "invalidated": None,
}


class MenteeResultsOut(BaseModel):
    mentee_id: str
    current_session: SessionOut | None = Field(
        description="The valid session with the greatest (completed_at, session_id); null if none."
    )
    sessions: list[SessionOut] = Field(
        description="Every completed session, invalidated ones included, newest first."
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {"mentee_id": "learner-0001", "current_session": _SESSION_EXAMPLE,
                 "sessions": [_SESSION_EXAMPLE, {
                     **_SESSION_EXAMPLE,
                     "session_id": "5d0c4f0e-3b7a-4c1b-8a57-2f0e6d1c8a45",
                     "completed_at": "2026-01-20T08:00:00Z",
                     "anti_cheat": {"duration_seconds": 240,
                                    "flags": ["copy_paste", "tab_switch"],
                                    "suspicion_score": 0.81},
                     "invalidated": {"reason": "anti_cheat_review: automated answering detected",
                                     "invalidated_at": "2026-01-21T12:00:00Z"},
                 }]},
            ]
        }
    }

    @classmethod
    def from_results(cls, mentee_id: str, results: MenteeResults) -> MenteeResultsOut:
        current = SessionOut.from_result(results.current) if results.current else None
        return cls(mentee_id=mentee_id, current_session=current,
                   sessions=[SessionOut.from_result(r) for r in results.sessions])


@router.get(
    "/mentees/{mentee_id}/results",
    response_model=MenteeResultsOut,
    summary="Full profiler results of a mentee, anti-cheat details included",
    responses={401: {"description": "missing or bad token"},
               403: {"description": "not an actively assigned mentor nor an admin over the mentee"},
               404: {"description": "no session and no assignment of this mentee"},
               400: {"description": "invalid mentee_id"}},
)
async def results(
    request: Request, caller: Caller, fresh: FreshRead, conn: Conn, mentee_id: MenteeIdPath
) -> Response:
    s, d = tables.sessions, tables.invalidation_details
    sessions = [
        Session(row["session_id"], row["completed_at"], row["occurred_at"],
                SessionDetails.from_document(row["facts"]))
        for row in (await conn.execute(select(s).where(s.c.user_id == mentee_id))).mappings()
    ]
    invalidations = {
        sid: Invalidation(reason, at)
        for sid, reason, at in await conn.execute(
            select(d.c.session_id, d.c.reason, d.c.invalidated_at).where(d.c.user_id == mentee_id)
        )
    }
    found = mentee_results(sessions, invalidations, await active_catalog(conn))
    current = found.current.session.facts if found.current else None
    placement = Placement(current.cohort_id, current.enterprise_id) if current else Placement()
    mentor = "mentor" in caller.roles and await MENTORS.is_active_mentor(
        conn, caller.user_id, mentee_id)
    await enforce(request, may_read_mentee_results(caller, placement, mentor), caller,
                  request.url.path)
    if not sessions and not await _has_assignment(conn, mentee_id):
        raise HTTPException(404, detail=f"no profiler results or mentors for {mentee_id}")
    return answer(MenteeResultsOut.from_results(mentee_id, found), fresh)


async def _has_assignment(conn: AsyncConnection, mentee_id: str) -> bool:
    a = tables.assignments
    row = await conn.execute(select(a.c.mentor_id).where(a.c.mentee_id == mentee_id).limit(1))
    return row.first() is not None


# ----- the fast path (toolkit/web/read_api.py): the same answers on asyncpg -----------------

SESSIONS_SQL = (
    "SELECT session_id, completed_at, occurred_at, facts::text AS facts "
    "FROM mentorship.sessions WHERE user_id = $1")
INVALIDATIONS_SQL = (
    "SELECT session_id, reason, invalidated_at FROM mentorship.invalidation_details "
    "WHERE user_id = $1")
ASSIGNED_SQL = "SELECT 1 FROM mentorship.assignments WHERE mentee_id = $1 LIMIT 1"


async def fast_mentee_results(caller: Principal, mentee_id: str, conn,
                              _mentors: MentorLookup) -> MenteeResultsOut | None:
    sessions = [
        Session(r["session_id"], r["completed_at"], r["occurred_at"],
                SessionDetails.from_document(json.loads(r["facts"])))
        for r in await conn.fetch(SESSIONS_SQL, mentee_id)]
    if not sessions and await conn.fetchval(ASSIGNED_SQL, mentee_id) is None:
        return None  # 404 (or a refusal that must not say so): the route's
    invalidations = {r["session_id"]: Invalidation(r["reason"], r["invalidated_at"])
                     for r in await conn.fetch(INVALIDATIONS_SQL, mentee_id)}
    found = mentee_results(sessions, invalidations, await active_catalog_raw(conn))
    current = found.current.session.facts if found.current else None
    placement = Placement(current.cohort_id, current.enterprise_id) if current else Placement()
    mentor = "mentor" in caller.roles and await MENTORS.is_active_mentor_raw(
        conn, caller.user_id, mentee_id)
    if not may_read_mentee_results(caller, placement, mentor).allowed:
        return None
    return MenteeResultsOut.from_results(mentee_id, found)


READ_API = ReadApi(
    routers=[router],
    # a path parameter (1–64 characters, no slash: MenteeIdPath), no query parameter
    fast_reads=[FastRead("mentorship", fast_mentee_results,
                         pattern=re.compile(r"^/api/v1/profiler/mentees/([^/]{1,64})/results$"))],
    mentors=MENTORS,
)
