"""Integration 7 — enterprise dashboard: cohort and enterprise analytics.

Reads one group's aggregate row, its skill rows and its placements (never learners), in one
snapshot. Who may read (CONTRACT): a cohort's `cohort_admin`, the `enterprise_admin` of the
enterprise it belongs to (every current learner of it is in that enterprise), any
`platform_admin`; an enterprise's own `enterprise_admin` and any `platform_admin`. A cohort id
may hold any character, `/` included.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from sqlalchemy import RowMapping, func, select
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.responses import Response

from consumers.analytics import tables
from consumers.analytics.decide import (
    COHORT,
    DIFFICULTIES,
    ENTERPRISE,
    Report,
    SkillTotals,
    Totals,
    report,
)
from toolkit.web.access import Decision, MentorLookup
from toolkit.web.auth import Principal
from toolkit.web.deps import Caller, Conn, enforce
from toolkit.web.freshness import Fresh, answer, projection_read
from toolkit.web.read_api import FastRead, ReadApi, learner_param

router = APIRouter(prefix="/api/v1/profiler/admin", tags=["analytics"])
FreshRead = Annotated[Fresh, Depends(projection_read("analytics"))]

ENTERPRISE_READERS = frozenset({"enterprise_admin", "platform_admin"})

EnterpriseQuery = Annotated[
    str | None,
    Query(min_length=1, max_length=64,
          description="Defaults to the caller's enterprise (enterprise_admin); "
                      "required for a platform_admin."),
]


def enterprise_target(caller: Principal, enterprise_id: str | None) -> str | None:
    """The enterprise asked for, else the enterprise admin's own; a platform admin must name
    one (400). None for a caller who may read no enterprise (refused by `enforce`)."""
    target = enterprise_id or (
        caller.enterprise_id if "enterprise_admin" in caller.roles else None
    )
    if target is None and caller.roles & ENTERPRISE_READERS:
        raise RequestValidationError([{
            "type": "missing", "loc": ("query", "enterprise_id"), "input": None,
            "msg": "required: the token names no enterprise to default to",
        }])
    return target


# `:path` in the route: CONTRACT allows any 1–64 characters, `/` included.
GroupId = Annotated[str, Path(min_length=1, max_length=64)]


@dataclass(frozen=True)
class CohortMembers:
    """A cohort's current learners: how many, and how many of them per enterprise. Learners
    without an enterprise count in `learners` only, so they are never anyone's."""

    learners: int = 0
    by_enterprise: Mapping[str, int] = field(default_factory=dict)

    @property
    def enterprise_ids(self) -> list[str]:
        return sorted(e for e, n in self.by_enterprise.items() if n)


def may_read_cohort(principal: Principal, cohort_id: str, members: CohortMembers) -> Decision:
    """A cohort is an enterprise admin's only when every one of its current learners belongs
    to that enterprise (CONTRACT: admins "over" a learner); otherwise its totals would show
    other tenants' and enterprise-less learners' scores. Refusals name no other tenant."""
    if "platform_admin" in principal.roles:
        return Decision(True, "platform_admin")
    if "cohort_admin" in principal.roles and cohort_id in principal.cohort_ids:
        return Decision(True, "cohort_admin of the cohort")
    if "enterprise_admin" in principal.roles and principal.enterprise_id is not None:
        own = members.by_enterprise.get(principal.enterprise_id, 0)
        if own and own == members.learners:
            return Decision(True, "enterprise_admin of the cohort's enterprise")
        if own:
            return Decision(False, f"cohort {cohort_id} has current learners outside "
                                   f"enterprise {principal.enterprise_id}")
    return Decision(False, f"{principal.user_id} is not cohort_admin of {cohort_id}, "
                           "enterprise_admin of its enterprise, nor platform_admin")


def may_read_enterprise(principal: Principal, enterprise_id: str | None) -> Decision:
    if "platform_admin" in principal.roles:
        return Decision(True, "platform_admin")
    if "enterprise_admin" not in principal.roles:
        return Decision(False, f"{principal.user_id} is neither enterprise_admin nor "
                               "platform_admin")
    if enterprise_id is not None and principal.enterprise_id == enterprise_id:
        return Decision(True, "enterprise_admin of the enterprise")
    return Decision(False, f"{principal.user_id} is enterprise_admin of "
                           f"{principal.enterprise_id}, not of {enterprise_id}")


class GroupAnalytics(BaseModel):
    learners: int = Field(ge=0, description="Learners whose current session names the group.")
    sessions_completed: int = Field(ge=0, description="Valid sessions naming the group.")
    average_overall_score: float | None = Field(
        description="Mean overall score of the learners' current sessions; null with none.")
    difficulty_distribution: dict[str, int] = Field(
        description="Mission difficulty \"1\"…\"5\" → learners.")
    skill_averages: dict[str, float] = Field(
        description="Skill → mean score over the current sessions that have it.")
    freshness: datetime | None = Field(
        description="occurred_at of the newest event the projection applied.")


class CohortAnalyticsOut(GroupAnalytics):
    cohort_id: str
    enterprise_ids: list[str] = Field(
        description="Enterprises of the cohort's current learners (normally one).")

    model_config = {
        "json_schema_extra": {
            "examples": [
                {"cohort_id": "cohort-03", "enterprise_ids": ["enterprise-b"], "learners": 42,
                 "sessions_completed": 97, "average_overall_score": 61.4,
                 "difficulty_distribution": {"1": 2, "2": 6, "3": 14, "4": 15, "5": 5},
                 "skill_averages": {"incident_response": 63.2, "network_security": 58.9},
                 "freshness": "2026-02-09T10:15:00Z"}
            ]
        }
    }


class CohortLearners(BaseModel):
    cohort_id: str
    learners: int = Field(ge=1, description="The enterprise's current learners in the cohort.")


class EnterpriseAnalyticsOut(GroupAnalytics):
    enterprise_id: str
    cohorts: list[CohortLearners]

    model_config = {
        "json_schema_extra": {
            "examples": [
                {"enterprise_id": "enterprise-b", "learners": 130, "sessions_completed": 301,
                 "average_overall_score": 59.8,
                 "difficulty_distribution": {"1": 9, "2": 20, "3": 44, "4": 41, "5": 16},
                 "skill_averages": {"compliance": 55.0, "network_security": 60.1},
                 "cohorts": [{"cohort_id": "cohort-03", "learners": 42},
                             {"cohort_id": "cohort-05", "learners": 88}],
                 "freshness": "2026-02-09T10:15:00Z"}
            ]
        }
    }


async def _totals(conn: AsyncConnection, scope: str, group_id: str) -> RowMapping | None:
    t = tables.group_totals
    return (
        await conn.execute(select(t).where(t.c.scope == scope, t.c.group_id == group_id))
    ).mappings().first()


async def _report(conn: AsyncConnection, scope: str, group_id: str,
                  row: RowMapping | None) -> Report | None:
    """The group's report from its totals row (None: no such group) and its skill rows."""
    if row is None:
        return None
    s = tables.group_skills
    skills = await conn.execute(
        select(s.c.skill, s.c.score_sum, s.c.scores).where(
            s.c.scope == scope, s.c.group_id == group_id
        )
    )
    totals = Totals(
        row["learners"], row["score_sum"],
        tuple(row[f"difficulty_{d}"] for d in DIFFICULTIES), row["sessions_completed"],
    )
    return report(totals, {skill: SkillTotals(total, n) for skill, total, n in skills})


async def placed(conn: AsyncConnection, cohort_id: str) -> dict[str, int]:
    """Enterprise -> the cohort's current learners in it (learners without one are absent)."""
    p = tables.placements
    return dict((await conn.execute(
        select(p.c.enterprise_id, p.c.learners).where(p.c.cohort_id == cohort_id)
        .order_by(p.c.enterprise_id)
    )).tuples().all())


async def cohort_members(conn: AsyncConnection, cohort_id: str) -> CohortMembers:
    """What `may_read_cohort` decides on, from the analytics projection."""
    row = await _totals(conn, COHORT, cohort_id)
    return CohortMembers(row["learners"] if row else 0, await placed(conn, cohort_id))


async def freshness(conn: AsyncConnection) -> datetime | None:
    return (await conn.execute(select(func.max(tables.positions.c.last_event_at)))).scalar()


async def snapshot(conn: AsyncConnection) -> AsyncConnection:
    """Totals, skills and placements of one group read from one committed state."""
    return await conn.execution_options(isolation_level="REPEATABLE READ")


def resource_of(request: Request) -> str:
    query = request.url.query
    return f"{request.url.path}?{query}" if query else request.url.path


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing or bad token"}, 400: {"description": "invalid parameter"},
}


@router.get(
    "/cohorts/{cohort_id:path}/analytics",
    response_model=CohortAnalyticsOut,
    summary="A cohort's learners, sessions, average score, difficulties and skill averages",
    responses={**ERRORS,
               403: {"description": "not cohort_admin of it, enterprise_admin of the "
                                    "enterprise every current learner of it is in, nor "
                                    "platform_admin"},
               404: {"description": "no learner and no valid session names the cohort"}},
)
async def cohort_analytics(
    request: Request, caller: Caller, fresh: FreshRead, conn: Conn, cohort_id: GroupId
) -> Response:
    conn = await snapshot(conn)
    row = await _totals(conn, COHORT, cohort_id)
    members = CohortMembers(row["learners"] if row else 0, await placed(conn, cohort_id))
    await enforce(request, may_read_cohort(caller, cohort_id, members), caller,
                  resource_of(request))
    found = await _report(conn, COHORT, cohort_id, row)
    if found is None:
        raise HTTPException(404, detail=f"no analytics for cohort {cohort_id}")
    return answer(CohortAnalyticsOut(cohort_id=cohort_id, enterprise_ids=members.enterprise_ids,
                              freshness=await freshness(conn), **asdict(found)), fresh)


@router.get(
    "/enterprise/analytics",
    response_model=EnterpriseAnalyticsOut,
    summary="An enterprise's analytics over its learners, with its cohorts",
    responses={**ERRORS,
               403: {"description": "not enterprise_admin of it, nor platform_admin"},
               404: {"description": "no learner and no valid session names the enterprise"}},
)
async def enterprise_analytics(
    request: Request,
    caller: Caller,
    fresh: FreshRead,
    conn: Conn,
    enterprise_id: EnterpriseQuery = None,
) -> Response:
    target = enterprise_target(caller, enterprise_id)
    await enforce(request, may_read_enterprise(caller, target), caller, resource_of(request))
    assert target is not None  # refused above otherwise
    conn = await snapshot(conn)
    found = await _report(conn, ENTERPRISE, target, await _totals(conn, ENTERPRISE, target))
    if found is None:
        raise HTTPException(404, detail=f"no analytics for enterprise {target}")
    p = tables.placements
    cohorts = await conn.execute(
        select(p.c.cohort_id, p.c.learners).where(p.c.enterprise_id == target)
        .order_by(p.c.cohort_id)
    )
    return answer(EnterpriseAnalyticsOut(
        enterprise_id=target,
        cohorts=[CohortLearners(cohort_id=c, learners=n) for c, n in cohorts],
        freshness=await freshness(conn),
        **asdict(found),
    ), fresh)


# ----- the fast path (toolkit/web/read_api.py): the same answers on asyncpg -----------------

# One statement sees one snapshot: the totals, skills, placements and freshness of a group read
# together without the REPEATABLE READ transaction (BEGIN … ROLLBACK) the route opens.
GROUP_SQL = """
SELECT t.learners, t.score_sum, t.difficulty_1, t.difficulty_2, t.difficulty_3,
       t.difficulty_4, t.difficulty_5, t.sessions_completed,
       k.skills, k.sums, k.counts, p.groups, p.learners AS placed, f.freshness
FROM (SELECT 1) AS one
LEFT JOIN analytics.group_totals t ON t.scope = $2 AND t.group_id = $1
CROSS JOIN LATERAL (
    SELECT array_agg(skill) AS skills, array_agg(score_sum) AS sums, array_agg(scores) AS counts
    FROM analytics.group_skills WHERE scope = $2 AND group_id = $1) k
CROSS JOIN LATERAL (
    SELECT array_agg({other} ORDER BY {other}) AS groups,
           array_agg(learners ORDER BY {other}) AS learners
    FROM analytics.placements WHERE {this} = $1) p
CROSS JOIN LATERAL (SELECT max(last_event_at) AS freshness FROM analytics.positions) f
"""
COHORT_SQL = GROUP_SQL.format(this="cohort_id", other="enterprise_id")
ENTERPRISE_SQL = GROUP_SQL.format(this="enterprise_id", other="cohort_id")


def group_report(row) -> Report | None:
    """The route's report from GROUP_SQL's row (None: no such group)."""
    if row["learners"] is None:
        return None
    totals = Totals(row["learners"], row["score_sum"],
                    tuple(row[f"difficulty_{d}"] for d in DIFFICULTIES),
                    row["sessions_completed"])
    return report(totals, {skill: SkillTotals(total, n) for skill, total, n in zip(
        row["skills"] or (), row["sums"] or (), row["counts"] or (), strict=True)})


async def fast_cohort_analytics(caller: Principal, cohort_id: str, conn,
                                _mentors: MentorLookup) -> CohortAnalyticsOut | None:
    row = await conn.fetchrow(COHORT_SQL, cohort_id, COHORT)
    members = CohortMembers(row["learners"] or 0,
                            dict(zip(row["groups"] or (), row["placed"] or (), strict=True)))
    if not may_read_cohort(caller, cohort_id, members).allowed:
        return None
    found = group_report(row)
    if found is None:  # 404: the route's
        return None
    return CohortAnalyticsOut(cohort_id=cohort_id, enterprise_ids=members.enterprise_ids,
                              freshness=row["freshness"], **asdict(found))


async def fast_enterprise_analytics(caller: Principal, enterprise_id: str | None, conn,
                                    _mentors: MentorLookup) -> EnterpriseAnalyticsOut | None:
    try:
        target = enterprise_target(caller, enterprise_id)
    except RequestValidationError:  # 400: the route's
        return None
    if target is None or not may_read_enterprise(caller, target).allowed:
        return None
    row = await conn.fetchrow(ENTERPRISE_SQL, target, ENTERPRISE)
    found = group_report(row)
    if found is None:
        return None
    return EnterpriseAnalyticsOut(
        enterprise_id=target, freshness=row["freshness"], **asdict(found),
        cohorts=[CohortLearners(cohort_id=c, learners=n) for c, n in zip(
            row["groups"] or (), row["placed"] or (), strict=True)])


def enterprise_param(query_string: bytes) -> tuple[bool, str | None]:
    return learner_param(query_string, "enterprise_id")


READ_API = ReadApi(
    routers=[router],
    fast_reads=[
        # the cohort (1–64 characters, `/` allowed: GroupId), no query parameter
        FastRead("analytics", fast_cohort_analytics, pattern=re.compile(
            r"^/api/v1/profiler/admin/cohorts/(.{1,64})/analytics$", re.DOTALL)),
        FastRead("analytics", fast_enterprise_analytics,
                 path="/api/v1/profiler/admin/enterprise/analytics", subject=enterprise_param,
                 default_to_caller=False),
    ],
)
