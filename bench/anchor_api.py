"""The anchor of `bench/api.py`: a minimal hand-written read service for the same answers.

What a team would write by hand for the CONTRACT's endpoints: Starlette routes, an asyncpg
pool, PyJWT HS256 verification, the one SQL statement per answer (the access check folded into
it where the hub needs a relationship: an active mentorship, an admin's group), `json.dumps` of
the rows (compact, as the hub's). Recommendations rank recipes, and mentee results compute each
session's gaps and the current session, with the hub's own pure rules and the active catalog,
so both services do the same work for those answers. No RBAC matrix, audit, OpenAPI, freshness or
error bodies: the cost of those is what the ratio measures.

Served by the same uvicorn with the same loop, HTTP protocol and options as `hub api`
(`hub.api.server.uvicorn_options`), so the comparison is of the applications alone.

    .venv/bin/python bench/anchor_api.py --port P --database-url postgresql://… --jwt-secret S
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from contextlib import asynccontextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import asyncpg  # noqa: E402
import jwt  # noqa: E402
from bench_sql import (  # noqa: E402
    CATALOG_SQL,
    COHORT_SQL,
    DIFFICULTY_SQL,
    ENTERPRISE_SQL,
    ITEMS_SQL,
    MENTEE_SQL,
    RECOMMENDATIONS_SQL,
    STATEMENT_SQL,
    TALENT_SQL,
)
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import Response  # noqa: E402
from starlette.routing import Route  # noqa: E402

from consumers.recipes.catalog import Catalog, shipped_catalog, skill_gaps  # noqa: E402
from consumers.recipes.decide import Profile  # noqa: E402
from consumers.recipes.recommend import recommend  # noqa: E402


def default(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID | Decimal):
        return str(value)
    raise TypeError(type(value).__name__)


def as_json(data, status: int = 200) -> Response:
    # compact, as the hub's answers are (pydantic's JSON)
    return Response(json.dumps(data, default=default, separators=(",", ":")), status,
                    media_type="application/json")


def build(database_url: str, secret: str) -> Starlette:
    pool: Any = None  # asyncpg.Pool, set by the lifespan
    catalogs: dict[str, Catalog] = {}

    def caller(request: Request) -> dict | None:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            return None
        try:
            return jwt.decode(header[7:], secret, algorithms=["HS256"],
                              options={"require": ["sub", "exp"]})
        except jwt.PyJWTError:
            return None

    def learner_of(request: Request, claims: dict) -> str:
        return request.query_params.get("user_id") or claims["sub"]

    async def active_catalog(conn) -> Catalog:
        active = await conn.fetchrow(CATALOG_SQL)
        if active is None:
            return shipped_catalog()
        catalog = catalogs.get(active["version"])
        if catalog is None:
            catalog = catalogs[active["version"]] = Catalog.model_validate_json(
                active["document"])
        return catalog

    def mentee_session(row, catalog: Catalog) -> dict:
        """A session as the CONTRACT answers it: its facts, its gaps by the hub's own pure
        rule over the active catalog, its invalidation."""
        facts = json.loads(row["facts"])
        gaps = skill_gaps(catalog, facts["track"], facts["skill_scores"])
        return {
            "session_id": row["session_id"], "track": facts["track"],
            "completed_at": row["completed_at"], "overall_score": facts["overall_score"],
            "recommended_level": facts["recommended_level"],
            "skill_scores": facts["skill_scores"], "cohort_id": facts["cohort_id"],
            "enterprise_id": facts["enterprise_id"],
            "gaps": [{"skill": g.skill, "score": g.score, "target": g.target, "gap": g.gap,
                      "recipe_skill_codes": list(g.recipe_skill_codes)} for g in gaps],
            "anti_cheat": facts["anti_cheat"],
            "invalidated": None if row["reason"] is None else {
                "reason": row["reason"], "invalidated_at": row["invalidated_at"]}}

    async def difficulty(request: Request) -> Response:
        if (claims := caller(request)) is None:
            return as_json({"detail": "unauthorized"}, 401)
        user = learner_of(request, claims)
        row = await pool.fetchrow(DIFFICULTY_SQL, user)
        if row is None:
            return as_json({"user_id": user, "difficulty": 1, "source": "default",
                            "fallback": True, "session_id": None, "completed_at": None})
        return as_json({"user_id": user, "difficulty": row["difficulty"], "source": "profiler",
                        "fallback": False, "session_id": row["session_id"],
                        "completed_at": row["completed_at"]})

    async def recommendations(request: Request) -> Response:
        if (claims := caller(request)) is None:
            return as_json({"detail": "unauthorized"}, 401)
        user = learner_of(request, claims)
        async with pool.acquire() as conn:
            rows = await conn.fetch(RECOMMENDATIONS_SQL, user)
            catalog = await active_catalog(conn)
        profile = None
        if rows:
            first = rows[0]
            profile = Profile(
                session_id=first["session_id"], completed_at=first["completed_at"],
                track=first["track"], overall_score=first["overall_score"],
                recommended_level=first["recommended_level"], difficulty=first["difficulty"],
                cohort_id=first["cohort_id"], enterprise_id=first["enterprise_id"],
                marketplace_opt_in=first["marketplace_opt_in"],
                skill_scores={r["skill"]: float(r["score"]) for r in rows if r["skill"]})
        result = recommend(catalog, profile, 10)
        return as_json({
            "user_id": user, "difficulty": result.difficulty, "source": result.source,
            "catalog_version": result.catalog_version,
            "gaps": [{"skill": g.skill, "score": g.score, "target": g.target, "gap": g.gap,
                      "recipe_skill_codes": list(g.recipe_skill_codes)} for g in result.gaps],
            "recipes": [{"id": r.recipe.id, "title": r.recipe.title, "level": r.recipe.level,
                         "score": r.score, "covers": list(r.covers)} for r in result.recipes]})

    async def mentee(request: Request) -> Response:
        if (claims := caller(request)) is None:
            return as_json({"detail": "unauthorized"}, 401)
        mentee_id = request.path_params["mentee_id"]
        async with pool.acquire() as conn:
            rows = await conn.fetch(MENTEE_SQL, claims["sub"], mentee_id)
            catalog = await active_catalog(conn)
        sessions = [mentee_session(r, catalog) for r in rows]  # newest first
        current = next((s for s in sessions if s["invalidated"] is None), None)
        return as_json({"mentee_id": mentee_id, "current_session": current,
                        "sessions": sessions})

    def rows_route(sql: str, one: bool):
        async def endpoint(request: Request) -> Response:
            if (claims := caller(request)) is None:
                return as_json({"detail": "unauthorized"}, 401)
            user = learner_of(request, claims)
            if one:
                row = await pool.fetchrow(sql, user)
                if row is None:
                    return as_json({"detail": "not found"}, 404)
                return as_json(dict(row))
            return as_json({"user_id": user,
                            "items": [dict(r) for r in await pool.fetch(sql, user)]})
        return endpoint


    async def talent(request: Request) -> Response:
        if (claims := caller(request)) is None:
            return as_json({"detail": "unauthorized"}, 401)
        (s1, m1), (s2, m2) = (term.split(":") for term in request.query_params.getlist("skill"))
        rows = await pool.fetch(TALENT_SQL, s1, int(m1), s2, int(m2),
                                claims.get("enterprise_id"))
        return as_json({"total": rows[0]["total"] if rows else 0,
                        "matches": [dict(r) for r in rows]})

    def group_route(sql: str, group: str):
        async def endpoint(request: Request) -> Response:
            if (claims := caller(request)) is None:
                return as_json({"detail": "unauthorized"}, 401)
            group_id = (request.path_params.get("cohort_id")
                        or request.query_params.get("enterprise_id"))
            mine = (claims.get("cohort_ids") or []) if group == "cohort_id" else [
                claims.get("enterprise_id")]
            if group_id not in mine and "platform_admin" not in claims.get("roles", []):
                return as_json({"detail": "forbidden"}, 403)
            row = await pool.fetchrow(sql, group_id)
            if row is None:
                return as_json({"detail": "not found"}, 404)
            return as_json({group: group_id, **dict(row)})
        return endpoint

    @asynccontextmanager
    async def lifespan(_app):
        nonlocal pool
        async with asyncpg.create_pool(database_url, min_size=10, max_size=10) as pool:
            yield

    async def ready(_request: Request) -> Response:
        return as_json({"status": "ready"})

    return Starlette(routes=[
        Route("/readyz", ready),
        Route("/api/v1/missions/difficulty", difficulty),
        Route("/api/v1/recipes/profiler-recommendations", recommendations),
        Route("/api/v1/profiler/value-statement", rows_route(STATEMENT_SQL, True)),
        Route("/api/v1/portfolio/items", rows_route(ITEMS_SQL, False)),
        Route("/api/v1/leadership/identity", rows_route(STATEMENT_SQL, True)),
        Route("/api/v1/profiler/mentees/{mentee_id}/results", mentee),
        Route("/api/v1/marketplace/talent-matches/profiler", talent),
        Route("/api/v1/profiler/admin/cohorts/{cohort_id:path}/analytics",
              group_route(COHORT_SQL, "cohort_id")),
        Route("/api/v1/profiler/admin/enterprise/analytics",
              group_route(ENTERPRISE_SQL, "enterprise_id")),
    ], lifespan=lifespan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", required=True, help="postgresql://… (asyncpg)")
    parser.add_argument("--jwt-secret", required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()

    import uvicorn

    from hub.api.server import uvicorn_options

    # Workers import the app by name (uvicorn's rule), so its configuration travels by the
    # environment, as `hub api`'s does.
    os.environ["ANCHOR_DATABASE_URL"], os.environ["ANCHOR_JWT_SECRET"] = (
        args.database_url, args.jwt_secret)
    uvicorn.run("anchor_api:from_environment", factory=True, host="127.0.0.1", port=args.port,
                workers=args.workers, log_config=None, **uvicorn_options())


def from_environment() -> Starlette:
    return build(os.environ["ANCHOR_DATABASE_URL"], os.environ["ANCHOR_JWT_SECRET"])


if __name__ == "__main__":
    main()
