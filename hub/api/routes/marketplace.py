"""Integration 6 — marketplace: talent matches from learners' current skill profiles.

Only `enterprise_admin` (their own enterprise's learners) and `platform_admin` (everyone) may
search, and only learners whose current session opted in to the marketplace are searched:
nothing of a learner who has not opted in (not even in `total`) leaves the database.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, cast

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AfterValidator, BaseModel, Field
from starlette.responses import Response

from consumers.recipes.queries import talent_matches
from consumers.recipes.talent import (
    MAX_SKILLS,
    SkillFilter,
    distinct_skills,
    parse_skill_filter,
)
from toolkit.web.access import Decision
from toolkit.web.auth import Principal
from toolkit.web.deps import Caller, Conn, enforce
from toolkit.web.freshness import Fresh, answer, projection_read

router = APIRouter(prefix="/api/v1/marketplace", tags=["marketplace"])
FreshRead = Annotated[Fresh, Depends(projection_read("recipes"))]

# Past these the database cannot take the value (bigint OFFSET, numeric scale): refuse with
# 400 rather than fail with 500. No search has ten million matches to page through.
MAX_OFFSET = 10_000_000
MAX_MIN_SCORE_DECIMALS = 12

MATCH_RULE = (
    "Each `skill` is `name[:min_score]` (minimum 0 when omitted, 0-100 with at most "
    f"{MAX_MIN_SCORE_DECIMALS} decimals; at most {MAX_SKILLS}, each skill once). A learner "
    "matches when their current profiler session opted in to the marketplace and has every "
    "requested skill with a score at least its minimum. Matches are ordered by the mean of "
    "the requested skills' scores, highest first, then by user_id. An enterprise_admin "
    "sees only learners whose current session is in their enterprise; a platform_admin "
    "sees all."
)


def bounded_precision(term: SkillFilter) -> SkillFilter:
    """A minimum with at most `MAX_MIN_SCORE_DECIMALS` decimals (`1e-999999` is none the
    database can compare with), written without redundant digits (`0E-999999` is 0)."""
    minimum = term.min_score.normalize()
    exponent = minimum.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_MIN_SCORE_DECIMALS:
        raise ValueError(f"minimum score of {term.skill!r} has more than "
                         f"{MAX_MIN_SCORE_DECIMALS} decimals")
    return SkillFilter(term.skill, minimum)


SkillTerm = Annotated[str, AfterValidator(parse_skill_filter), AfterValidator(bounded_precision)]


class SkillTermOut(BaseModel):
    skill: str
    min_score: float


class TalentMatchOut(BaseModel):
    user_id: str
    track: str
    overall_score: float
    match_score: float = Field(description="Mean of the requested skills' scores.")
    skill_scores: dict[str, float] = Field(description="The requested skills' scores.")
    cohort_id: str | None
    enterprise_id: str | None


class TalentMatchesOut(BaseModel):
    skills: list[SkillTermOut]
    scope_enterprise_id: str | None = Field(
        description="The enterprise searched; null when all enterprises were (platform_admin)."
    )
    total: int = Field(ge=0, description="Matches over all pages.")
    limit: int
    offset: int
    items: list[TalentMatchOut]

    model_config = {
        "json_schema_extra": {
            "examples": [
                {"skills": [{"skill": "network_security", "min_score": 60.0},
                            {"skill": "incident_response", "min_score": 0.0}],
                 "scope_enterprise_id": "enterprise-a", "total": 1, "limit": 20, "offset": 0,
                 "items": [{"user_id": "learner-0042", "track": "defender",
                            "overall_score": 71.3, "match_score": 74.25,
                            "skill_scores": {"network_security": 78.5,
                                             "incident_response": 70.0},
                            "cohort_id": "cohort-01", "enterprise_id": "enterprise-a"}]},
            ]
        }
    }


def talent_scope(caller: Principal) -> tuple[Decision, str | None]:
    """May the caller search talent, and within which enterprise (None: all)."""
    if "platform_admin" in caller.roles:
        return Decision(True, "platform_admin"), None
    if "enterprise_admin" in caller.roles:
        if caller.enterprise_id is None:
            return Decision(False, "enterprise_admin token without an enterprise_id"), None
        return Decision(True, "enterprise_admin"), caller.enterprise_id
    return Decision(False, "talent matches are for enterprise_admin and platform_admin"), None


@router.get(
    "/talent-matches/profiler",
    response_model=TalentMatchesOut,
    summary="Opted-in learners whose current profiler skills meet every requested minimum",
    description=MATCH_RULE,
    responses={401: {"description": "missing or bad token"},
               403: {"description": "not an enterprise_admin or platform_admin"},
               400: {"description": "no skill, a malformed skill term, or a bad limit/offset"}},
)
async def talent_matches_profiler(
    request: Request,
    caller: Caller,
    fresh: FreshRead,
    conn: Conn,
    skill: Annotated[
        list[SkillTerm],
        AfterValidator(distinct_skills),
        Query(min_length=1, max_length=MAX_SKILLS,
              description="Repeatable `name[:min_score]`, e.g. `network_security:60`."),
    ],
    limit: Annotated[int, Query(ge=1, le=100, description="Page size.")] = 20,
    offset: Annotated[
        int, Query(ge=0, le=MAX_OFFSET, description="Matches to skip.")
    ] = 0,
) -> Response:
    decision, enterprise_id = talent_scope(caller)
    await enforce(request, decision, caller, f"{request.url.path}?{request.url.query}")
    filters = cast(list[SkillFilter], skill)  # `SkillTerm` validation parsed each term
    page = await talent_matches(conn, filters, enterprise_id, limit, offset)
    return answer(TalentMatchesOut(
        skills=[SkillTermOut(skill=f.skill, min_score=float(f.min_score)) for f in filters],
        scope_enterprise_id=enterprise_id,
        total=page.total,
        limit=limit,
        offset=offset,
        items=[TalentMatchOut(**asdict(m)) for m in page.matches],
    ), fresh)
