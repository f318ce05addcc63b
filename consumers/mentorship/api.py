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
from pydantic_core import to_json
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
from consumers.recipes.catalog import skill_gaps
from consumers.recipes.catalog_store import active_catalog, catalog_of_version
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

# One statement per read: the caller's assignment to the mentee (the access rule), whether the
# mentee has any assignment (the 404 rule), the active catalog's version, and each session
# with its invalidation (one row with null session columns when there is none). py-spy: the
# four statements of the route's order, each a round trip, were ~14% of a read's CPU.
MENTEE_SQL = (
    "SELECT a.mentor_active, a.assigned, c.version AS catalog_version, s.session_id, "
    "s.completed_at, s.facts::text AS facts, d.reason, d.invalidated_at "
    "FROM (SELECT (SELECT active FROM mentorship.assignments "
    "              WHERE mentor_id = $1 AND mentee_id = $2) AS mentor_active, "
    "             EXISTS (SELECT 1 FROM mentorship.assignments WHERE mentee_id = $2) "
    "             AS assigned) a "
    "LEFT JOIN hub_catalog.catalogs c ON c.active "
    "LEFT JOIN mentorship.sessions s ON s.user_id = $2 "
    "LEFT JOIN mentorship.invalidation_details d "
    "ON d.user_id = $2 AND d.session_id = s.session_id")

# Each session's JSON as the route serializes it (`SessionOut`), with the placement its
# current session gives, by everything it is computed from: session row, invalidation and
# catalog version. py-spy: decoding the facts, the gaps (decimal) and building and serializing
# the models were ~45% of a read's CPU, each read again for every session of the mentee.
# Evicted oldest first past the bound (~2 KB an entry).
MAX_RENDERED_SESSIONS = 8192
_rendered: dict[tuple, tuple[bytes, Placement]] = {}


def rendered_session(row, catalog) -> tuple[bytes, Placement]:
    key = (row["session_id"], row["completed_at"], row["facts"], row["reason"],
           row["invalidated_at"], catalog.version)
    found = _rendered.get(key)
    if found is not None:
        return found
    facts = SessionDetails.from_document(json.loads(row["facts"]))
    # `occurred_at` is not part of the answer (the route reads it only for the lifecycle)
    session = Session(row["session_id"], row["completed_at"], row["completed_at"], facts)
    invalidation = (Invalidation(row["reason"], row["invalidated_at"])
                    if row["reason"] is not None else None)
    result = SessionResult(session, invalidation,
                           skill_gaps(catalog, facts.track, facts.skill_scores))
    out = SessionOut.from_result(result)
    found = (out.__pydantic_serializer__.to_json(out),
             Placement(facts.cohort_id, facts.enterprise_id))
    if _rendered and len(_rendered) >= MAX_RENDERED_SESSIONS:
        del _rendered[next(iter(_rendered))]
    _rendered[key] = found
    return found


async def fast_mentee_results(caller: Principal, mentee_id: str, conn,
                              _mentors: MentorLookup) -> bytes | None:
    """The route's answer, as the bytes `MenteeResultsOut` serializes to (tested)."""
    rows = await conn.fetch(MENTEE_SQL, caller.user_id, mentee_id)
    first = rows[0]
    sessions = [r for r in rows if r["session_id"] is not None]
    if not sessions and not first["assigned"]:
        return None  # 404 (or a refusal that must not say so): the route's
    catalog = await catalog_of_version(conn, first["catalog_version"])
    # newest (completed_at, session_id) first; the current one is the newest valid one
    sessions.sort(key=lambda r: (r["completed_at"], r["session_id"]), reverse=True)
    rendered = [rendered_session(r, catalog) for r in sessions]
    current = next((i for i, r in enumerate(sessions) if r["reason"] is None), None)
    placement = rendered[current][1] if current is not None else Placement()
    mentor = "mentor" in caller.roles and bool(first["mentor_active"])
    if not may_read_mentee_results(caller, placement, mentor).allowed:
        return None
    return b"".join((
        b'{"mentee_id":', to_json(mentee_id),
        b',"current_session":', rendered[current][0] if current is not None else b"null",
        b',"sessions":[', b",".join(body for body, _ in rendered), b"]}"))


READ_API = ReadApi(
    routers=[router],
    # a path parameter (1–64 characters, no slash: MenteeIdPath), no query parameter
    fast_reads=[FastRead("mentorship", fast_mentee_results,
                         pattern=re.compile(r"^/api/v1/profiler/mentees/([^/]{1,64})/results$"))],
    mentors=MENTORS,
)
