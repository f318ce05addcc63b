"""A cohort's or an enterprise's largest skill gaps (the dashboard's gap chart).

The CONTRACT defines a learner's gap per skill of their current session as
`max(0, target - score)`, target from the active catalog's track requirements, else 70. A
group's gap for a skill is the mean of that over the group's current learners who have the
skill. Read from the recipes projection (it keeps each learner's track and current skill
scores; analytics keeps no track), summed per skill in SQL with exact decimals.

Who may read: exactly who may read the group's analytics, by the same rule. For a cohort the
rule is checked on the analytics projection's placements (what `/groups` lists) and on the
recipes projection's own learners (what this answer is computed from): either projection may
lag the other, and a learner outside the admin's enterprise must never be averaged in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import Numeric, cast, func, literal, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.responses import Response

from consumers.analytics.api import (
    ERRORS,
    CohortMembers,
    EnterpriseQuery,
    GroupId,
    cohort_members,
    enterprise_target,
    may_read_cohort,
    may_read_enterprise,
    resource_of,
    snapshot,
)
from consumers.recipes import tables as recipes
from consumers.recipes.catalog import DEFAULT_TARGET, Catalog, exact
from consumers.recipes.catalog_store import active_catalog
from toolkit.web.deps import Caller, Conn, enforce
from toolkit.web.freshness import Fresh, answer, projection_read

router = APIRouter(prefix="/api/v1/profiler/admin", tags=["analytics"])
FreshRead = Annotated[Fresh, Depends(projection_read("recipes"))]

Limit = Annotated[int, Query(ge=1, le=200, description="Largest gaps first; at most this many.")]


@dataclass(frozen=True)
class SkillSums:
    """One skill over a group: learners having it, and exact sums of scores, targets, gaps."""

    skill: str
    learners: int
    below_target: int
    score_sum: Decimal
    target_sum: Decimal
    gap_sum: Decimal


class GroupGap(BaseModel):
    skill: str
    learners: int = Field(ge=1, description="Current learners whose session has the skill.")
    learners_below_target: int = Field(ge=0)
    average_score: float
    average_target: float = Field(description="Targets differ by track; their mean.")
    average_gap: float = Field(description="Mean of max(0, target - score) over the learners.")


def largest_gaps(sums: Iterable[SkillSums], limit: int) -> list[GroupGap]:
    """Mean gap per skill, largest first (ties by skill name)."""
    gaps = [
        GroupGap(skill=s.skill, learners=s.learners, learners_below_target=s.below_target,
                 average_score=float(s.score_sum / s.learners),
                 average_target=float(s.target_sum / s.learners),
                 average_gap=float(s.gap_sum / s.learners))
        for s in sums if s.learners
    ]
    gaps.sort(key=lambda g: (-g.average_gap, g.skill))
    return gaps[:limit]


class SkillGapsOut(BaseModel):
    catalog_version: str
    learners: int = Field(ge=1, description="Current learners of the group (recipes projection).")
    gaps: list[GroupGap]
    freshness: datetime | None = Field(
        description="occurred_at of the newest event the recipes projection applied.")


class CohortSkillGapsOut(SkillGapsOut):
    cohort_id: str


class EnterpriseSkillGapsOut(SkillGapsOut):
    enterprise_id: str


async def _skill_sums(conn: AsyncConnection, catalog: Catalog, group_column, group_id: str
                      ) -> tuple[int, list[SkillSums]]:
    p, s = recipes.profiles, recipes.skill_scores
    requirements = {track: {skill: str(exact(t)) for skill, t in skills.items()}
                    for track, skills in catalog.track_requirements.items()}
    target = func.coalesce(
        cast(literal(requirements, JSONB).op("->")(p.c.track).op("->>")(s.c.skill), Numeric),
        exact(DEFAULT_TARGET),
    )
    gap = func.greatest(0, target - s.c.score)
    rows = await conn.execute(
        select(s.c.skill, func.count(), func.count().filter(s.c.score < target),
               func.sum(s.c.score), func.sum(target), func.sum(gap))
        .select_from(p.join(s, p.c.user_id == s.c.user_id))
        .where(group_column == group_id)
        .group_by(s.c.skill)
    )
    sums = [SkillSums(*row) for row in rows]
    learners = (await conn.execute(
        select(func.count()).select_from(p).where(group_column == group_id))).scalar_one()
    return learners, sums


async def recipes_members(conn: AsyncConnection, cohort_id: str) -> CohortMembers:
    """The cohort's current learners by the recipes projection (NULL enterprise: nobody's)."""
    p = recipes.profiles
    rows = (await conn.execute(
        select(p.c.enterprise_id, func.count()).where(p.c.cohort_id == cohort_id)
        .group_by(p.c.enterprise_id)
    )).tuples().all()
    return CohortMembers(sum(n for _, n in rows), {e: n for e, n in rows if e is not None})


async def freshness(conn: AsyncConnection) -> datetime | None:
    return (await conn.execute(select(func.max(recipes.positions.c.last_event_at)))).scalar()


@router.get(
    "/cohorts/{cohort_id:path}/skill-gaps",
    response_model=CohortSkillGapsOut,
    summary="A cohort's largest skill gaps (mean of each learner's gap per skill)",
    responses={**ERRORS,
               403: {"description": "not cohort_admin of it, enterprise_admin of the "
                                    "enterprise every current learner of it is in, nor "
                                    "platform_admin"},
               404: {"description": "no current learner names the cohort"}},
)
async def cohort_skill_gaps(
    request: Request, caller: Caller, fresh: FreshRead, conn: Conn,
    cohort_id: GroupId, limit: Limit = 10,
) -> Response:
    conn = await snapshot(conn)
    decision = may_read_cohort(caller, cohort_id, await cohort_members(conn, cohort_id))
    if decision.allowed:
        decision = may_read_cohort(caller, cohort_id, await recipes_members(conn, cohort_id))
    await enforce(request, decision, caller, resource_of(request))
    catalog = await active_catalog(conn)
    learners, sums = await _skill_sums(conn, catalog, recipes.profiles.c.cohort_id, cohort_id)
    if not learners:
        raise HTTPException(404, detail=f"no current learner in cohort {cohort_id}")
    return answer(CohortSkillGapsOut(cohort_id=cohort_id, catalog_version=catalog.version,
                              learners=learners, gaps=largest_gaps(sums, limit),
                              freshness=await freshness(conn)), fresh)


@router.get(
    "/enterprise/skill-gaps",
    response_model=EnterpriseSkillGapsOut,
    summary="An enterprise's largest skill gaps (mean of each learner's gap per skill)",
    responses={**ERRORS,
               403: {"description": "not enterprise_admin of it, nor platform_admin"},
               404: {"description": "no current learner names the enterprise"}},
)
async def enterprise_skill_gaps(
    request: Request, caller: Caller, fresh: FreshRead, conn: Conn,
    enterprise_id: EnterpriseQuery = None,
    limit: Limit = 10,
) -> Response:
    target = enterprise_target(caller, enterprise_id)
    await enforce(request, may_read_enterprise(caller, target), caller, resource_of(request))
    assert target is not None  # refused above otherwise
    conn = await snapshot(conn)
    catalog = await active_catalog(conn)
    learners, sums = await _skill_sums(conn, catalog, recipes.profiles.c.enterprise_id, target)
    if not learners:
        raise HTTPException(404, detail=f"no current learner in enterprise {target}")
    return answer(EnterpriseSkillGapsOut(enterprise_id=target, catalog_version=catalog.version,
                                  learners=learners, gaps=largest_gaps(sums, limit),
                                  freshness=await freshness(conn)), fresh)
