"""Effects as units, per projection table: what the oracles expect from the published events
(`expected_units`, pure) and what the projections hold (`observed_units`, read from
PostgreSQL), in the same shape so `checker.check` can compare them table by table.

A unit names a row by the values that matter for correctness (ids, levels, statuses);
counters become that many copies of a unit, so a session counted twice is a duplicate.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from consumers.portfolio.decide import item_id_for
from schemas.registry import AnyEvent, SessionCompleted
from tests.support import db
from tests.support.oracles import analytics as oracle_analytics
from tests.support.oracles import mentorship as oracle_mentorship
from tests.support.oracles import missions as oracle_missions
from tests.support.oracles import portfolio as oracle_portfolio
from tests.support.oracles import recipes as oracle_recipes
from tests.support.oracles import sessions as oracle_sessions

SCOPES = {"cohort_id": "cohort", "enterprise_id": "enterprise"}


def score(value) -> str:
    return f"{float(value):.4f}"


def expected_units(events: Iterable[AnyEvent]) -> dict[str, Counter]:
    events = list(events)
    units: dict[str, Counter] = {}
    current = oracle_sessions.current_sessions(events)
    units["missions.difficulty"] = Counter(
        (user, level, str(current[user].data.session_id))
        for user, level in oracle_missions.difficulties(events).items()
    )
    profiles = oracle_recipes.current_profiles(events)
    units["recipes.profiles"] = Counter(
        (user, str(p.session_id), p.difficulty, p.marketplace_opt_in, p.cohort_id,
         p.enterprise_id)
        for user, p in profiles.items()
    )
    units["recipes.skill_scores"] = Counter(
        (user, skill, score(value))
        for user, p in profiles.items() for skill, value in p.skill_scores.items()
    )
    portfolios = oracle_portfolio.portfolios(events)
    units["portfolio.items"] = Counter(
        (str(item.item_id), user, item.status)
        for user, p in portfolios.items() for item in p.items
    )
    units["portfolio.current_statements"] = Counter(
        (user, str(item_id_for(user, p.current.profiler_session_id)))
        for user, p in portfolios.items() if p.current is not None
    )
    units["mentorship.sessions"] = Counter(
        (str(e.data.session_id), e.key)
        for e in {e.data.session_id: e for e in oracle_mentorship.remembered(events)
                  if isinstance(e, SessionCompleted)}.values()
    )
    units["mentorship.assignments"] = Counter(
        (mentor, mentee, active)
        for (mentor, mentee), (active, _) in oracle_mentorship.assignments(events).items()
    )
    units.update(_analytics_units(events))
    return units


def _analytics_units(events: list[AnyEvent]) -> dict[str, Counter]:
    totals: Counter = Counter()
    cohorts, enterprises = oracle_analytics.analytics(events)
    for scope, groups in (("cohort", cohorts), ("enterprise", enterprises)):
        for group, body in groups.items():
            totals[("learners", scope, group)] += body["learners"]
            totals[("sessions_completed", scope, group)] += body["sessions_completed"]
            for level, n in body["difficulty_distribution"].items():
                totals[("difficulty", scope, group, int(level))] += n
    placements: Counter = Counter()
    for enterprise, body in enterprises.items():
        for placed in body["cohorts"]:
            placements[(placed["cohort_id"], enterprise)] += placed["learners"]
    skills: Counter = Counter()
    for sessions in oracle_analytics.valid_sessions(events).values():
        current = max(sessions, key=lambda s: (s.data.completed_at, str(s.data.session_id)))
        for field, scope in SCOPES.items():
            group = getattr(current.data, field)
            if group is not None:
                for skill in current.data.skill_scores:
                    skills[(scope, group, skill)] += 1
    return {"analytics.group_totals": totals, "analytics.placements": placements,
            "analytics.group_skills": skills}


async def observed_units(database_url: str) -> dict[str, Counter]:
    async def rows(sql: str):
        return await db.fetch(database_url, sql)

    units: dict[str, Counter] = {}
    units["missions.difficulty"] = Counter(
        (r["user_id"], r["difficulty"], str(r["session_id"]))
        for r in await rows("select user_id, difficulty, session_id from missions.difficulty")
    )
    units["recipes.profiles"] = Counter(
        (r["user_id"], str(r["session_id"]), r["difficulty"], r["marketplace_opt_in"],
         r["cohort_id"], r["enterprise_id"])
        for r in await rows("select * from recipes.profiles")
    )
    units["recipes.skill_scores"] = Counter(
        (r["user_id"], r["skill"], score(r["score"]))
        for r in await rows("select user_id, skill, score from recipes.skill_scores")
    )
    units["portfolio.items"] = Counter(
        (str(r["item_id"]), r["user_id"], r["status"])
        for r in await rows("select item_id, user_id, status from portfolio.items")
    )
    units["portfolio.current_statements"] = Counter(
        (r["user_id"], str(r["item_id"]))
        for r in await rows("select user_id, item_id from portfolio.current_statements")
    )
    units["mentorship.sessions"] = Counter(
        (str(r["session_id"]), r["user_id"])
        for r in await rows("select session_id, user_id from mentorship.sessions")
    )
    units["mentorship.assignments"] = Counter(
        (r["mentor_id"], r["mentee_id"], r["active"])
        for r in await rows("select mentor_id, mentee_id, active from mentorship.assignments")
    )
    totals: Counter = Counter()
    for r in await rows("select * from analytics.group_totals"):
        group = (r["scope"], r["group_id"])
        totals[("learners", *group)] += r["learners"]
        totals[("sessions_completed", *group)] += r["sessions_completed"]
        for level in range(1, 6):
            totals[("difficulty", *group, level)] += r[f"difficulty_{level}"]
    units["analytics.group_totals"] = totals
    units["analytics.placements"] = Counter({
        (r["cohort_id"], r["enterprise_id"]): r["learners"]
        for r in await rows("select * from analytics.placements")
    })
    units["analytics.group_skills"] = Counter({
        (r["scope"], r["group_id"], r["skill"]): r["scores"]
        for r in await rows("select * from analytics.group_skills")
    })
    return {table: Counter({u: n for u, n in c.items() if n}) for table, c in units.items()}
