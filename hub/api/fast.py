"""The allowed single-learner reads, served without FastAPI's machinery.

py-spy on `hub api` under wrk (README "Benchmarks"): after uvloop, httptools, autocommit and
one serialization, a difficulty read still spent ~18% of its CPU in FastAPI's dependency
solving and ~22% in SQLAlchemy's execute (compiled-cache lookup, greenlet hop, result
proxy), against ~6% in the statement's own asyncpg round trip. So the common case, a valid
token allowed to read, takes this path: the same token check (`principal_from_token`), the
same access rule (`may_read_learner`, the same mentor lookup), the same response models and
serialization and freshness headers, with the statements sent by asyncpg directly on a
connection of the same pool.

Everything else falls through to the FastAPI routes, unchanged: no or a bad token (401), a
refusal (403, audited there on its own connection), unknown or invalid parameters (400), a
missing resource (404), and any read with `Hub-Min-Position` (the wait lives there). A request
is decided here only once it is known to be a 200; otherwise nothing has been sent and the
route answers it from scratch, so error bodies, audit and OpenAPI stay exactly theirs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any
from urllib.parse import parse_qsl

from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.types import ASGIApp, Receive, Scope, Send

from consumers.missions.decide import DEFAULT_DIFFICULTY
from hub.api.access import Placement, may_read_learner
from hub.api.auth import Principal, principal_from_token

DIFFICULTY_SQL = (
    "SELECT difficulty, session_id, completed_at, cohort_id, enterprise_id "
    "FROM missions.difficulty WHERE user_id = $1")
STATEMENT_SQL = (
    "SELECT c.cohort_id, c.enterprise_id, i.item_id, i.profiler_session_id, i.statement, "
    "i.track, i.core_values, i.motivation, i.impact_goal, i.created_at "
    "FROM portfolio.current_statements c JOIN portfolio.items i "
    "ON i.item_id = c.item_id AND i.user_id = c.user_id WHERE c.user_id = $1")
PLACEMENT_SQL = (  # current_statement's placement (hub/api/routes/portfolio.py)
    "SELECT c.cohort_id, c.enterprise_id FROM portfolio.current_statements c "
    "JOIN portfolio.items i ON i.item_id = c.item_id AND i.user_id = c.user_id "
    "WHERE c.user_id = $1")
ITEMS_SQL = (
    "SELECT item_id, profiler_session_id, title, statement, status, created_at, withdrawn_at "
    "FROM portfolio.items WHERE user_id = $1 AND status = 'active' "
    "ORDER BY created_at DESC, profiler_session_id DESC")
PROFILE_SQL = (  # load_profile (consumers/recipes/queries.py)
    "SELECT p.session_id, p.completed_at, p.track, p.overall_score, p.recommended_level, "
    "p.difficulty, p.cohort_id, p.enterprise_id, p.marketplace_opt_in, s.skill, s.score "
    "FROM recipes.profiles p LEFT OUTER JOIN recipes.skill_scores s ON s.user_id = p.user_id "
    "WHERE p.user_id = $1")
CATALOG_SQL = "SELECT version, document::text FROM hub_catalog.catalogs WHERE active"
SESSIONS_SQL = (
    "SELECT session_id, completed_at, occurred_at, facts::text AS facts "
    "FROM mentorship.sessions WHERE user_id = $1")
INVALIDATIONS_SQL = (
    "SELECT session_id, reason, invalidated_at FROM mentorship.invalidation_details "
    "WHERE user_id = $1")
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
ASSIGNED_SQL = "SELECT 1 FROM mentorship.assignments WHERE mentee_id = $1 LIMIT 1"
MENTOR_SQL = (
    "SELECT active FROM mentorship.assignments WHERE mentor_id = $1 AND mentee_id = $2")

MAX_USER_ID = 64  # UserIdParam's bounds (hub/api/deps.py)

# (caller, learner, asyncpg connection) -> the answer, or None to let the route answer
Handler = Callable[[Principal, str, Any], Awaitable[BaseModel | None]]


async def allowed(conn, caller: Principal, learner: str, placement: Placement) -> bool:
    mentor = "mentor" in caller.roles and caller.user_id != learner and bool(
        await conn.fetchval(MENTOR_SQL, caller.user_id, learner))
    return may_read_learner(caller, learner, placement, mentor).allowed


async def difficulty(caller: Principal, learner: str, conn) -> BaseModel | None:
    from hub.api.routes.missions import DifficultyOut

    row = await conn.fetchrow(DIFFICULTY_SQL, learner)
    placement = Placement(row["cohort_id"], row["enterprise_id"]) if row else Placement()
    if not await allowed(conn, caller, learner, placement):
        return None
    if row is None:
        return DifficultyOut(user_id=learner, difficulty=DEFAULT_DIFFICULTY, source="default",
                             fallback=True)
    return DifficultyOut(user_id=learner, difficulty=row["difficulty"], source="profiler",
                         fallback=False, session_id=row["session_id"],
                         completed_at=row["completed_at"])


async def _statement(caller: Principal, learner: str, conn):
    row = await conn.fetchrow(STATEMENT_SQL, learner)
    if row is None:  # 404, or a refusal that must not say so: the route decides
        return None
    if not await allowed(conn, caller, learner, Placement(row["cohort_id"],
                                                          row["enterprise_id"])):
        return None
    return row


async def value_statement(caller: Principal, learner: str, conn) -> BaseModel | None:
    from hub.api.routes.portfolio import ValueStatementOut

    row = await _statement(caller, learner, conn)
    if row is None:
        return None
    return ValueStatementOut(
        user_id=learner, profiler_session_id=row["profiler_session_id"],
        statement=row["statement"], core_values=row["core_values"],
        motivation=row["motivation"], impact_goal=row["impact_goal"], track=row["track"],
        completed_at=row["created_at"])


async def leadership_identity(caller: Principal, learner: str, conn) -> BaseModel | None:
    from hub.api.routes.portfolio import LeadershipIdentityOut, SeedStatement

    row = await _statement(caller, learner, conn)
    if row is None:
        return None
    return LeadershipIdentityOut(
        user_id=learner, track=row["track"], core_values=row["core_values"],
        motivation=row["motivation"], impact_goal=row["impact_goal"],
        value_statement=SeedStatement(
            item_id=row["item_id"], profiler_session_id=row["profiler_session_id"],
            statement=row["statement"], completed_at=row["created_at"]))


async def portfolio_items(caller: Principal, learner: str, conn) -> BaseModel | None:
    from hub.api.routes.portfolio import PortfolioItemOut, PortfolioItemsOut

    row = await conn.fetchrow(PLACEMENT_SQL, learner)
    placement = Placement(row["cohort_id"], row["enterprise_id"]) if row else Placement()
    if not await allowed(conn, caller, learner, placement):
        return None
    return PortfolioItemsOut(user_id=learner, items=[
        PortfolioItemOut(
            item_id=r["item_id"], profiler_session_id=r["profiler_session_id"],
            title=r["title"], statement=r["statement"], status=r["status"],
            created_at=r["created_at"], withdrawn_at=r["withdrawn_at"])
        for r in await conn.fetch(ITEMS_SQL, learner)])


_shipped = None  # the shipped catalog, parsed (it changes only with a deployment)


async def active_catalog(conn):
    """hub.catalog_store.active_catalog on asyncpg, sharing its cache of the parsed catalog."""
    from consumers.recipes.catalog import Catalog, shipped_catalog
    from hub.catalog_store import _cache

    row = await conn.fetchrow(CATALOG_SQL)
    if row is None:  # parsed once: a file read and validation per request was ~9% of a read
        global _shipped
        if _shipped is None:
            _shipped = shipped_catalog()
        return _shipped
    version, document = row
    if version not in _cache:
        _cache.clear()
        _cache[version] = Catalog.model_validate_json(document)
    return _cache[version]


async def recommendations(caller: Principal, learner: str, conn) -> BaseModel | None:
    from consumers.recipes.decide import Profile
    from consumers.recipes.queries import PROFILE_FIELDS
    from consumers.recipes.recommend import recommend
    from hub.api.routes.recipes import RecommendationsOut

    rows = await conn.fetch(PROFILE_SQL, learner)
    profile = None
    if rows:
        profile = Profile(**{f: rows[0][f] for f in PROFILE_FIELDS}, skill_scores={
            r["skill"]: float(r["score"]) for r in rows if r["skill"] is not None})
    placement = Placement(profile.cohort_id, profile.enterprise_id) if profile else Placement()
    if not await allowed(conn, caller, learner, placement):
        return None
    result = recommend(await active_catalog(conn), profile, 10)
    return RecommendationsOut.of(learner, profile, result)


async def mentee_results(caller: Principal, mentee_id: str, conn) -> BaseModel | None:
    from consumers.mentorship.decide import Invalidation, SessionDetails
    from consumers.mentorship.decide import mentee_results as results_of
    from hub.api.routes.mentorship import MenteeResultsOut, may_read_mentee_results
    from toolkit.lifecycle import Session

    sessions = [
        Session(r["session_id"], r["completed_at"], r["occurred_at"],
                SessionDetails.from_document(json.loads(r["facts"])))
        for r in await conn.fetch(SESSIONS_SQL, mentee_id)]
    if not sessions and await conn.fetchval(ASSIGNED_SQL, mentee_id) is None:
        return None  # 404 (or a refusal that must not say so): the route's
    invalidations = {r["session_id"]: Invalidation(r["reason"], r["invalidated_at"])
                     for r in await conn.fetch(INVALIDATIONS_SQL, mentee_id)}
    found = results_of(sessions, invalidations, await active_catalog(conn))
    current = found.current.session.facts if found.current else None
    placement = Placement(current.cohort_id, current.enterprise_id) if current else Placement()
    mentor = "mentor" in caller.roles and bool(
        await conn.fetchval(MENTOR_SQL, caller.user_id, mentee_id))
    if not may_read_mentee_results(caller, placement, mentor).allowed:
        return None
    return MenteeResultsOut.from_results(mentee_id, found)


def group_report(row):
    """The analytics route's report from GROUP_SQL's row (None: no such group)."""
    from consumers.analytics.decide import DIFFICULTIES, SkillTotals, Totals, report

    if row["learners"] is None:
        return None
    totals = Totals(row["learners"], row["score_sum"],
                    tuple(row[f"difficulty_{d}"] for d in DIFFICULTIES),
                    row["sessions_completed"])
    return report(totals, {skill: SkillTotals(total, n) for skill, total, n in zip(
        row["skills"] or (), row["sums"] or (), row["counts"] or (), strict=True)})


async def cohort_analytics(caller: Principal, cohort_id: str, conn) -> BaseModel | None:
    from consumers.analytics.decide import COHORT
    from hub.api.routes.analytics import CohortAnalyticsOut, CohortMembers, may_read_cohort

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


async def enterprise_analytics(caller: Principal, enterprise_id: str, conn) -> BaseModel | None:
    # enterprise_id "": none named, the enterprise admin's own (as for the route's None).
    from consumers.analytics.decide import ENTERPRISE
    from hub.api.routes.analytics import (
        CohortLearners,
        EnterpriseAnalyticsOut,
        enterprise_target,
        may_read_enterprise,
    )

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


def talent_terms(query_string: bytes):
    """(skills, limit, offset) when the query validates as the route's would, else None."""
    from consumers.recipes.talent import MAX_SKILLS, distinct_skills, parse_skill_filter
    from hub.api.routes.marketplace import MAX_OFFSET, bounded_precision

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


async def talent_matches(caller: Principal, query: str, conn) -> BaseModel | None:
    from hub.api.routes.marketplace import (
        SkillTermOut,
        TalentMatchesOut,
        TalentMatchOut,
        talent_scope,
    )

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


# path -> (projection, handler)
ROUTES: dict[str, tuple[str, Handler]] = {
    "/api/v1/missions/difficulty": ("missions", difficulty),
    "/api/v1/profiler/value-statement": ("portfolio", value_statement),
    "/api/v1/leadership/identity": ("portfolio", leadership_identity),
    # without limit (10) only
    "/api/v1/recipes/profiler-recommendations": ("recipes", recommendations),
    # without include_withdrawn only (any other parameter goes to the route)
    "/api/v1/portfolio/items": ("portfolio", portfolio_items),
}


# a path parameter (1–64 characters, no slash: MenteeIdPath), no query parameter
MENTEE_PATH = re.compile(r"^/api/v1/profiler/mentees/([^/]{1,64})/results$")


# the cohort (1–64 characters, `/` allowed: GroupId), no query parameter
COHORT_PATH = re.compile(r"^/api/v1/profiler/admin/cohorts/(.{1,64})/analytics$", re.DOTALL)
ENTERPRISE_PATH = "/api/v1/profiler/admin/enterprise/analytics"
TALENT_PATH = "/api/v1/marketplace/talent-matches/profiler"  # its own query validation


def learner_param(query_string: bytes, name: str = "user_id") -> tuple[bool, str | None]:
    """(usable, value): usable when the query holds nothing but at most one valid `name`."""
    if not query_string:
        return True, None
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    if len(pairs) != 1 or pairs[0][0] != name:
        return False, None
    value = pairs[0][1]
    # latin-1 above keeps bytes; FastAPI decodes UTF-8: take only what reads the same both ways
    if not value or not value.isascii() or len(value) > MAX_USER_ID:
        return False, None
    return True, value


def group_param(query_string: bytes) -> tuple[bool, str | None]:
    return learner_param(query_string, "enterprise_id")


def bearer(scope: Scope) -> tuple[str | None, bool]:
    """(token, has Hub-Min-Position)."""
    token, waits = None, False
    for name, value in scope["headers"]:
        if name == b"authorization":
            if token is not None:
                return None, waits  # two: the route decides
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credentials:
                token = credentials
        elif name == b"hub-min-position":
            waits = True
    return token, waits


class FastReads:
    """Pure ASGI: answers the allowed reads of ROUTES, passes everything else on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path = scope["path"]
            route = ROUTES.get(path)
            if route is not None:
                usable, subject = learner_param(scope["query_string"])
                if usable and await self._answer(route, subject or "", scope, receive, send):
                    return
            elif (match := MENTEE_PATH.match(path)) and not scope["query_string"]:
                route = ("mentorship", mentee_results)
                if await self._answer(route, match[1], scope, receive, send):
                    return
            elif (match := COHORT_PATH.match(path)) and not scope["query_string"]:
                route = ("analytics", cohort_analytics)
                if await self._answer(route, match[1], scope, receive, send):
                    return
            elif path == TALENT_PATH and scope["query_string"]:
                query = scope["query_string"].decode("latin-1")
                if await self._answer(("recipes", talent_matches), query, scope, receive, send,
                                      default_to_caller=False):
                    return
            elif path == ENTERPRISE_PATH:
                usable, enterprise_id = group_param(scope["query_string"])
                if usable and await self._answer(("analytics", enterprise_analytics),
                                                 enterprise_id or "", scope, receive, send,
                                                 default_to_caller=False):
                    return
        await self.app(scope, receive, send)

    async def _answer(self, route: tuple[str, Handler], subject: str, scope: Scope,
                      receive: Receive, send: Send, default_to_caller: bool = True) -> bool:
        """`subject` "": none named (the caller's own id when `default_to_caller`)."""
        from hub.api.freshness import Fresh, answer, watch_of

        token, waits = bearer(scope)
        if token is None or waits:
            return False
        state = scope["app"].state
        settings = state.settings
        try:
            caller = principal_from_token(token, settings.jwt_secret,
                                          settings.jwt_max_lifetime_seconds)
        except HTTPException:
            return False
        projection, handler = route
        positions = await watch_of(state, projection)
        async with getattr(state, "read_engine", state.engine).connect() as conn:
            raw = await conn.get_raw_connection()
            if default_to_caller:
                subject = subject or caller.user_id
            model = await handler(caller, subject, raw.driver_connection)
        if model is None:
            return False
        await answer(model, Fresh(positions, projection, None))(scope, receive, send)
        return True
