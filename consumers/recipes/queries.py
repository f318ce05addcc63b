"""Reads of the recipes read model for the API: one statement each, so one snapshot."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, and_, func, literal, or_, select, true
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.recipes import tables
from consumers.recipes.decide import Profile
from consumers.recipes.talent import SkillFilter

PROFILE_FIELDS = (
    "session_id", "completed_at", "track", "overall_score", "recommended_level", "difficulty",
    "cohort_id", "enterprise_id", "marketplace_opt_in",
)


async def load_profile(conn: AsyncConnection, user_id: str) -> Profile | None:
    """The learner's current profile with its skill scores (by primary key, no scan)."""
    p, s = tables.profiles, tables.skill_scores
    rows = (
        await conn.execute(
            select(p, s.c.skill, s.c.score)
            .outerjoin(s, s.c.user_id == p.c.user_id)
            .where(p.c.user_id == user_id)
        )
    ).mappings().all()
    if not rows:
        return None
    scores = {r["skill"]: float(r["score"]) for r in rows if r["skill"] is not None}
    return Profile(**{f: rows[0][f] for f in PROFILE_FIELDS}, skill_scores=scores)


@dataclass(frozen=True, slots=True)
class TalentMatch:
    user_id: str
    track: str
    overall_score: float
    match_score: float  # mean of the requested skills' scores
    skill_scores: dict[str, float]  # the requested skills only
    cohort_id: str | None
    enterprise_id: str | None


@dataclass(frozen=True, slots=True)
class TalentPage:
    total: int
    matches: list[TalentMatch]


def talent_match_query(
    filters: list[SkillFilter], enterprise_id: str | None, limit: int, offset: int
) -> Select:
    """One statement: opted-in learners (of `enterprise_id` when given) having every requested
    skill at or above its minimum, ranked by the exact sum of those scores (the mean times a
    constant: every match has all of them) descending, then user id; one page of them, and
    the number of matches on every row. A page past the end is one row with only the total."""
    p, s = tables.profiles, tables.skill_scores
    terms = or_(*(and_(s.c.skill == f.skill, s.c.score >= f.min_score) for f in filters))
    scope: list[ColumnElement[bool]] = [p.c.marketplace_opt_in]
    if enterprise_id is not None:
        scope.append(p.c.enterprise_id == enterprise_id)
    matched = (
        select(
            p.c.user_id, p.c.track, p.c.overall_score, p.c.cohort_id, p.c.enterprise_id,
            func.sum(s.c.score).label("score_sum"),
            func.avg(s.c.score).label("match_score"),
            func.jsonb_object_agg(s.c.skill, s.c.score, type_=JSONB).label("skill_scores"),
        )
        .join(s, s.c.user_id == p.c.user_id)
        .where(terms, *scope)
        .group_by(p.c.user_id)  # the primary key: the other profile columns follow from it
        .having(func.count() == len(filters))
        .cte("matched")
    )
    page = (
        select(matched)
        .order_by(matched.c.score_sum.desc(), matched.c.user_id)
        .limit(limit)
        .offset(offset)
        .subquery("page")
    )
    total = select(func.count()).select_from(matched).scalar_subquery()
    anchor = select(literal(1).label("one")).subquery("anchor")
    return (
        select(total.label("total"), page)
        .select_from(anchor.outerjoin(page, true()))
        .order_by(page.c.score_sum.desc().nulls_last(), page.c.user_id)
    )


async def talent_matches(
    conn: AsyncConnection,
    filters: list[SkillFilter],
    enterprise_id: str | None,
    limit: int,
    offset: int,
) -> TalentPage:
    rows = (
        await conn.execute(talent_match_query(filters, enterprise_id, limit, offset))
    ).mappings().all()
    matches = [
        TalentMatch(
            r["user_id"], r["track"], r["overall_score"], float(r["match_score"]),
            {k: float(v) for k, v in r["skill_scores"].items()}, r["cohort_id"],
            r["enterprise_id"],
        )
        for r in rows
        if r["user_id"] is not None
    ]
    return TalentPage(rows[0]["total"], matches)
