"""The cohorts and enterprises whose analytics the caller may read (the dashboard's scope).

Every group listed passes the same pure rule its analytics endpoint enforces
(`may_read_cohort`, `may_read_enterprise`), so a page built from this list never offers what
the API would refuse. Callers with no admin role are refused (403, audited).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.responses import Response

from consumers.analytics import tables
from consumers.analytics.api import (
    ERRORS,
    CohortMembers,
    freshness,
    may_read_cohort,
    may_read_enterprise,
    resource_of,
    snapshot,
)
from consumers.analytics.decide import COHORT, ENTERPRISE
from hub.api.routes import skill_gaps
from toolkit.web.access import Decision
from toolkit.web.auth import Principal
from toolkit.web.deps import Caller, Conn, enforce
from toolkit.web.freshness import Fresh, answer, projection_read

router = APIRouter(prefix="/api/v1/profiler/admin", tags=["analytics"])
FreshRead = Annotated[Fresh, Depends(projection_read("analytics"))]

ADMIN_ROLES = frozenset({"cohort_admin", "enterprise_admin", "platform_admin"})


@dataclass(frozen=True)
class Groups:
    """Group id -> current learners, and each cohort's current learners per enterprise (from
    placements; learners without an enterprise are in none)."""

    cohorts: Mapping[str, int]
    enterprises: Mapping[str, int]
    placements: Mapping[str, Mapping[str, int]]

    def members(self, cohort_id: str) -> CohortMembers:
        return CohortMembers(self.cohorts.get(cohort_id, 0),
                             self.placements.get(cohort_id, {}))


def may_list_groups(principal: Principal) -> Decision:
    if principal.roles & ADMIN_ROLES:
        return Decision(True, "admin")
    return Decision(False, f"{principal.user_id} is neither cohort_admin, enterprise_admin "
                           "nor platform_admin")


def visible_groups(principal: Principal, groups: Groups) -> Groups:
    """The part of `groups` the caller may read, by the analytics endpoints' own rules."""
    cohorts = {
        c: n for c, n in groups.cohorts.items()
        if may_read_cohort(principal, c, groups.members(c)).allowed
    }
    enterprises = {
        e: n for e, n in groups.enterprises.items() if may_read_enterprise(principal, e).allowed
    }
    return Groups(cohorts, enterprises,
                  {c: groups.placements.get(c, {}) for c in cohorts})


class CohortEntry(BaseModel):
    cohort_id: str
    learners: int = Field(ge=0, description="Learners whose current session names the cohort.")
    enterprise_ids: list[str] = Field(description="Enterprises of the cohort's learners.")


class EnterpriseEntry(BaseModel):
    enterprise_id: str
    learners: int = Field(ge=0)


class AdminGroupsOut(BaseModel):
    user_id: str
    roles: list[str]
    enterprises: list[EnterpriseEntry]
    cohorts: list[CohortEntry]
    freshness: datetime | None = Field(
        description="occurred_at of the newest event the analytics projection applied.")
    skill_gaps_freshness: datetime | None = Field(
        description="The same for the recipes projection, which the skill-gap reads use.")

    model_config = {
        "json_schema_extra": {
            "examples": [
                {"user_id": "admin-7", "roles": ["enterprise_admin"],
                 "enterprises": [{"enterprise_id": "enterprise-b", "learners": 130}],
                 "cohorts": [{"cohort_id": "cohort-03", "learners": 42,
                              "enterprise_ids": ["enterprise-b"]}],
                 "freshness": "2026-02-09T10:15:00Z",
                 "skill_gaps_freshness": "2026-02-09T10:15:00Z"}
            ]
        }
    }


def _by_scope(rows: Iterable[tuple[str, str, int]]) -> dict[str, dict[str, int]]:
    scopes: dict[str, dict[str, int]] = {COHORT: {}, ENTERPRISE: {}}
    for scope, group_id, learners in rows:
        scopes.setdefault(scope, {})[group_id] = learners
    return scopes


@router.get(
    "/groups",
    response_model=AdminGroupsOut,
    summary="The cohorts and enterprises whose analytics the caller may read",
    responses={**ERRORS, 403: {"description": "no cohort, enterprise or platform admin role"}},
)
async def admin_groups(request: Request, caller: Caller, fresh: FreshRead, conn: Conn) -> Response:
    await enforce(request, may_list_groups(caller), caller, resource_of(request))
    conn = await snapshot(conn)
    t, p = tables.group_totals, tables.placements
    scopes = _by_scope(
        await conn.execute(select(t.c.scope, t.c.group_id, t.c.learners).order_by(t.c.group_id))
    )
    placed: dict[str, dict[str, int]] = defaultdict(dict)
    for cohort_id, enterprise_id, learners in await conn.execute(
        select(p.c.cohort_id, p.c.enterprise_id, p.c.learners)
    ):
        placed[cohort_id][enterprise_id] = learners
    mine = visible_groups(caller, Groups(scopes[COHORT], scopes[ENTERPRISE], placed))
    return answer(AdminGroupsOut(
        user_id=caller.user_id,
        roles=sorted(caller.roles),
        enterprises=[EnterpriseEntry(enterprise_id=e, learners=n)
                     for e, n in mine.enterprises.items()],
        cohorts=[CohortEntry(cohort_id=c, learners=n,
                             enterprise_ids=mine.members(c).enterprise_ids)
                 for c, n in mine.cohorts.items()],
        freshness=await freshness(conn),
        skill_gaps_freshness=await skill_gaps.freshness(conn),
    ), fresh)
