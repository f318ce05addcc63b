"""Integrations 2 and 6 — recipe engine and marketplace, both read from the recipes projection.

Recipe engine: skill gaps and ranked recipes for a learner, computed per request from the
learner's stored profile and the active catalog (`consumers.recipes.recommend` holds the
ranking rule).

Marketplace: talent matches from learners' current skill profiles. Only `enterprise_admin`
(their own enterprise's learners) and `platform_admin` (everyone) may search, and only learners
whose current session opted in to the marketplace are searched: nothing of a learner who has
not opted in (not even in `total`) leaves the database.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Literal, cast
from urllib.parse import parse_qsl
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AfterValidator, BaseModel, Field
from starlette.responses import Response

from consumers.recipes.catalog_store import active_catalog, active_catalog_raw
from consumers.recipes.decide import Profile
from consumers.recipes.queries import PROFILE_FIELDS, load_profile, talent_matches
from consumers.recipes.recommend import RANKING_RULE, Recommendations, recommend
from consumers.recipes.talent import (
    MAX_SKILLS,
    SkillFilter,
    distinct_skills,
    parse_skill_filter,
)
from toolkit.web.access import Decision, MentorLookup, Placement
from toolkit.web.auth import Principal
from toolkit.web.deps import Caller, Conn, UserIdParam, authorize_learner, enforce
from toolkit.web.freshness import Fresh, answer, projection_read
from toolkit.web.read_api import FastRead, ReadApi, may_read_learner_fast, whole_query

router = APIRouter(prefix="/api/v1/recipes", tags=["recipes"])
marketplace = APIRouter(prefix="/api/v1/marketplace", tags=["marketplace"])
FreshRead = Annotated[Fresh, Depends(projection_read("recipes"))]


class GapOut(BaseModel):
    # Two models are called GapOut, so the OpenAPI document names each by its module: keep
    # the name it was published under (before the routes moved into the projection folders).
    __module__ = "hub.api.routes.recipes"

    skill: str
    score: float
    target: float
    gap: float = Field(ge=0, description="max(0, target - score)")
    recipe_skill_codes: list[str]


class RecipeOut(BaseModel):
    id: str
    title: str
    level: int = Field(ge=1, le=5)
    skill_codes: list[str]
    score: float = Field(description="Sum of the gaps of the learner's skills it covers.")
    covers: list[str] = Field(description="The learner's skills with a gap it works on.")


class RecommendationsOut(BaseModel):
    user_id: str
    difficulty: int = Field(ge=1, le=5)
    source: Literal["profiler", "default"]
    fallback: bool = Field(description="True when there is no valid profiler session.")
    track: str | None = None
    session_id: UUID | None = None
    completed_at: datetime | None = None
    catalog_version: str
    gaps: list[GapOut]
    recipes: list[RecipeOut]

    model_config = {
        "json_schema_extra": {
            "examples": [
                {"user_id": "learner-0001", "difficulty": 3, "source": "profiler",
                 "fallback": False, "track": "defender",
                 "session_id": "0b6f3c1e-8a8e-4b7a-9a57-2f0e6d1c8a44",
                 "completed_at": "2026-02-09T10:15:00Z", "catalog_version": "2026-11-25.2",
                 "gaps": [
                     {"skill": "incident_response", "score": 55.5, "target": 80.0, "gap": 24.5,
                      "recipe_skill_codes": ["IR"]},
                     {"skill": "network_security", "score": 64.0, "target": 75.0, "gap": 11.0,
                      "recipe_skill_codes": ["NETSEC"]},
                     {"skill": "cloud_security", "score": 71.2, "target": 65.0, "gap": 0.0,
                      "recipe_skill_codes": ["CLOUD"]}],
                 "recipes": [
                     {"id": "r-ir-301", "title": "Contain a ransomware outbreak", "level": 3,
                      "skill_codes": ["IR", "MALWARE", "ENDPOINT"], "score": 24.5,
                      "covers": ["incident_response"]},
                     {"id": "r-netsec-201", "title": "Harden firewall rules with least privilege",
                      "level": 2, "skill_codes": ["NETSEC"], "score": 11.0,
                      "covers": ["network_security"]}]},
                {"user_id": "learner-0999", "difficulty": 1, "source": "default",
                 "fallback": True, "track": None, "session_id": None, "completed_at": None,
                 "catalog_version": "2026-11-25.2", "gaps": [], "recipes": []},
            ]
        }
    }

    @classmethod
    def of(cls, learner: str, profile: Profile | None,
           result: Recommendations) -> RecommendationsOut:
        """The answer for `learner` (the route and the API's fast path build it alike)."""
        return cls(
            user_id=learner,
            difficulty=result.difficulty,
            source=result.source,
            fallback=profile is None,
            track=profile.track if profile else None,
            session_id=profile.session_id if profile else None,
            completed_at=profile.completed_at if profile else None,
            catalog_version=result.catalog_version,
            gaps=[GapOut(skill=g.skill, score=g.score, target=g.target, gap=g.gap,
                         recipe_skill_codes=list(g.recipe_skill_codes)) for g in result.gaps],
            recipes=[RecipeOut(id=r.recipe.id, title=r.recipe.title, level=r.recipe.level,
                               skill_codes=list(r.recipe.skill_codes), score=r.score,
                               covers=list(r.covers)) for r in result.recipes],
        )


@router.get(
    "/profiler-recommendations",
    response_model=RecommendationsOut,
    summary="Skill gaps and ranked recipes from the learner's current profiler session",
    description=RANKING_RULE,
    responses={401: {"description": "missing or bad token"},
               403: {"description": "not the learner, their mentor, or an admin over them"},
               400: {"description": "invalid user_id or limit"}},
)
async def profiler_recommendations(
    request: Request,
    caller: Caller,
    fresh: FreshRead,
    conn: Conn,
    user_id: UserIdParam = None,
    limit: Annotated[int, Query(ge=1, le=100, description="Most recipes to return.")] = 10,
) -> Response:
    learner = user_id or caller.user_id
    profile = await load_profile(conn, learner)
    placement = Placement(profile.cohort_id, profile.enterprise_id) if profile else Placement()
    await authorize_learner(request, conn, caller, learner, placement)
    result = recommend(await active_catalog(conn), profile, limit)
    return answer(RecommendationsOut.of(learner, profile, result), fresh)


# ----- marketplace --------------------------------------------------------------------------

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


@marketplace.get(
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


# ----- the fast path (toolkit/web/read_api.py): the same answers on asyncpg -----------------

PROFILE_SQL = (  # load_profile (consumers/recipes/queries.py)
    "SELECT p.session_id, p.completed_at, p.track, p.overall_score, p.recommended_level, "
    "p.difficulty, p.cohort_id, p.enterprise_id, p.marketplace_opt_in, s.skill, s.score "
    "FROM recipes.profiles p LEFT OUTER JOIN recipes.skill_scores s ON s.user_id = p.user_id "
    "WHERE p.user_id = $1")
# talent_match_query (consumers/recipes/queries.py) with the terms as arrays: one prepared
# statement for any number of skills (distinct: joining on them equals OR-ing the terms).
TALENT_SQL = """
WITH matched AS (
    SELECT p.user_id, p.track, p.overall_score, p.cohort_id, p.enterprise_id,
           sum(s.score) AS score_sum, avg(s.score) AS match_score,
           jsonb_object_agg(s.skill, s.score)::text AS skill_scores
    FROM recipes.profiles p
    JOIN recipes.skill_scores s ON s.user_id = p.user_id
    JOIN unnest($1::text[], $2::numeric[]) AS w(skill, min_score)
      ON s.skill = w.skill AND s.score >= w.min_score
    WHERE p.marketplace_opt_in {scope}
    GROUP BY p.user_id
    HAVING count(*) = cardinality($1::text[]))
SELECT (SELECT count(*) FROM matched) AS total, page.*
FROM (SELECT 1) AS anchor
LEFT JOIN (SELECT * FROM matched ORDER BY score_sum DESC, user_id LIMIT $3 OFFSET $4) page
  ON true
ORDER BY page.score_sum DESC NULLS LAST, page.user_id
"""
TALENT_ALL_SQL = TALENT_SQL.format(scope="")
TALENT_ENTERPRISE_SQL = TALENT_SQL.format(scope="AND p.enterprise_id = $5")


async def fast_recommendations(caller: Principal, learner: str, conn,
                               mentors: MentorLookup) -> RecommendationsOut | None:
    """Without `limit` (10) only."""
    rows = await conn.fetch(PROFILE_SQL, learner)
    profile = None
    if rows:
        profile = Profile(**{f: rows[0][f] for f in PROFILE_FIELDS}, skill_scores={
            r["skill"]: float(r["score"]) for r in rows if r["skill"] is not None})
    placement = Placement(profile.cohort_id, profile.enterprise_id) if profile else Placement()
    if not await may_read_learner_fast(conn, caller, learner, placement, mentors):
        return None
    result = recommend(await active_catalog_raw(conn), profile, 10)
    return RecommendationsOut.of(learner, profile, result)


def talent_terms(query_string: bytes) -> tuple[list[SkillFilter], int, int] | None:
    """(skills, limit, offset) when the query validates as the route's would, else None."""
    terms, limit, offset = [], 20, 0
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if not value.isascii():
            return None
        if name == "skill":
            terms.append(value)
        elif name in ("limit", "offset") and value.isdigit() and len(value) < 10:
            if name == "limit":
                limit = int(value)
            else:
                offset = int(value)
        else:  # anything else (repeated limit, junk, wait_ms): the route
            return None
    if not 1 <= len(terms) <= MAX_SKILLS or not 1 <= limit <= 100 or offset > MAX_OFFSET:
        return None
    try:
        filters = distinct_skills([bounded_precision(parse_skill_filter(t)) for t in terms])
    except ValueError:
        return None
    return filters, limit, offset


async def fast_talent_matches(caller: Principal, query: str, conn,
                              _mentors: MentorLookup) -> TalentMatchesOut | None:
    decision, enterprise_id = talent_scope(caller)
    parsed = talent_terms(query.encode("latin-1"))
    if not decision.allowed or parsed is None:
        return None
    filters, limit, offset = parsed
    args = [[f.skill for f in filters], [f.min_score for f in filters], limit, offset]
    if enterprise_id is None:
        rows = await conn.fetch(TALENT_ALL_SQL, *args)
    else:
        rows = await conn.fetch(TALENT_ENTERPRISE_SQL, *args, enterprise_id)
    return TalentMatchesOut(
        skills=[SkillTermOut(skill=f.skill, min_score=float(f.min_score)) for f in filters],
        scope_enterprise_id=enterprise_id, total=rows[0]["total"], limit=limit, offset=offset,
        items=[TalentMatchOut(
            user_id=r["user_id"], track=r["track"], overall_score=r["overall_score"],
            match_score=float(r["match_score"]),
            skill_scores={k: float(v) for k, v in json.loads(r["skill_scores"]).items()},
            cohort_id=r["cohort_id"], enterprise_id=r["enterprise_id"])
            for r in rows if r["user_id"] is not None])


READ_API = ReadApi(
    routers=[router, marketplace],
    fast_reads=[
        FastRead("recipes", fast_recommendations,
                 path="/api/v1/recipes/profiler-recommendations"),
        # validates its own query (the route's rules)
        FastRead("recipes", fast_talent_matches, path="/api/v1/marketplace/talent-matches/profiler",
                 subject=whole_query, default_to_caller=False),
    ],
)
