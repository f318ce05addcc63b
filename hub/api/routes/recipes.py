"""Integration 2 — recipe engine: skill gaps and ranked recipes for a learner.

Gaps and rankings are computed per request from the learner's stored profile and the active
catalog (`consumers.recipes.recommend` holds the ranking rule).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from consumers.recipes.decide import Profile
from consumers.recipes.queries import load_profile
from consumers.recipes.recommend import RANKING_RULE, Recommendations, recommend
from hub.api.access import Placement
from hub.api.deps import Caller, Conn, UserIdParam, authorize_learner
from hub.api.freshness import Fresh, answer, projection_read
from hub.catalog_store import active_catalog

router = APIRouter(prefix="/api/v1/recipes", tags=["recipes"])
FreshRead = Annotated[Fresh, Depends(projection_read("recipes"))]


class GapOut(BaseModel):
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
