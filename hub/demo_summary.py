"""What `hub demo` prints once the projections caught up: each projection's figures, and
whether the projections agree with each other and with what was published.

No oracle ships with the hub: the tests compare every projection and endpoint with oracles
that read the CONTRACT independently (`tests/support/oracles/`). The summary recomputes no
rule; it checks what must hold whatever the rules say. Each projection keeps its own copy of
every learner's current session, so missions, recipes and portfolio agree on who has one,
missions and recipes on each one's difficulty, and the analytics totals on who is in a cohort
or an enterprise; and no projection holds more than was published.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from consumers.analytics import tables as analytics
from consumers.mentorship import tables as mentorship
from consumers.missions import tables as missions
from consumers.portfolio import tables as portfolio
from consumers.recipes import tables as recipes

DIFFICULTIES = range(1, 6)


@dataclass(frozen=True)
class Check:
    """One agreement (`=`: every side equal) or bound (`<=`: each side at most the next),
    of figures or of tuples of figures (compared place by place)."""

    name: str
    relation: str  # "=" or "<="
    sides: tuple[tuple[str, tuple[int, ...]], ...]  # (whose figure, the figure)

    @property
    def holds(self) -> bool:
        values = [value for _, value in self.sides]
        if self.relation == "=":
            return all(value == values[0] for value in values)
        return all(
            all(x <= y for x, y in zip(a, b, strict=True)) for a, b in pairwise(values)
        )


@dataclass(frozen=True)
class Summary:
    figures: dict[str, int]
    checks: list[Check]

    @property
    def agrees(self) -> bool:
        return all(check.holds for check in self.checks)


async def _count(conn: AsyncConnection, table, *where) -> int:
    query = select(func.count()).select_from(table).where(*where)
    return int((await conn.execute(query)).scalar_one())


async def _by_difficulty(conn: AsyncConnection, table, *where) -> tuple[int, ...]:
    rows = await conn.execute(
        select(table.c.difficulty, func.count()).where(*where).group_by(table.c.difficulty)
    )
    counts = {difficulty: n for difficulty, n in rows.all()}
    return tuple(counts.get(d, 0) for d in DIFFICULTIES)


async def _group_sums(conn: AsyncConnection, scope: str) -> tuple[int, ...]:
    """(groups, learners, learners at difficulty 1 … 5) summed over the scope's groups."""
    totals = analytics.group_totals.c
    columns = [totals.learners, *(totals[f"difficulty_{d}"] for d in DIFFICULTIES)]
    row = (await conn.execute(
        select(func.count(), *(func.coalesce(func.sum(c), 0) for c in columns))
        .where(totals.scope == scope)
    )).one()
    return tuple(int(value) for value in row)


async def summarise(engine: AsyncEngine, published: Mapping[str, int]) -> Summary:
    """Read every projection's figures and check them; `published` is `SampleTraffic.counts()`
    of what was published (the whole content of the topics)."""
    async with engine.connect() as conn:
        levels = await _by_difficulty(conn, missions.difficulty)
        in_cohort = await _by_difficulty(
            conn, missions.difficulty, missions.difficulty.c.cohort_id.is_not(None))
        in_enterprise = await _count(
            conn, missions.difficulty, missions.difficulty.c.enterprise_id.is_not(None))
        profile_levels = await _by_difficulty(conn, recipes.profiles)
        opted_in = await _count(conn, recipes.profiles, recipes.profiles.c.marketplace_opt_in)
        status = portfolio.items.c.status
        active_items = await _count(conn, portfolio.items, status == "active")
        withdrawn_items = await _count(conn, portfolio.items, status == "withdrawn")
        statements = await _count(conn, portfolio.current_statements)
        active_pairs = await _count(
            conn, mentorship.assignments, mentorship.assignments.c.active)
        cohorts, cohort_learners, *cohort_levels = await _group_sums(conn, "cohort")
        enterprises, enterprise_learners, *_ = await _group_sums(conn, "enterprise")

    figures = {
        **{f"missions: learners at difficulty {d}": n
           for d, n in zip(DIFFICULTIES, levels, strict=True)},
        "recipes: learners with a skill profile": sum(profile_levels),
        "recipes: opted in to the marketplace": opted_in,
        "portfolio: active value statements": active_items,
        "portfolio: withdrawn value statements": withdrawn_items,
        "mentorship: active mentor assignments": active_pairs,
        "analytics: cohorts": cohorts,
        "analytics: learners counted in cohorts": cohort_learners,
        "analytics: enterprises": enterprises,
    }
    activations = published.get("mentor_assignments", 0) - published.get("mentor_deactivations", 0)
    checks = [
        Check("learners with a current session", "=", (
            ("missions", (sum(levels),)), ("recipes", (sum(profile_levels),)),
            ("portfolio", (statements,)))),
        Check("learners at difficulty 1-5", "=", (
            ("missions", levels), ("recipes", profile_levels))),
        Check("learners in a cohort, at difficulty 1-5", "=", (
            ("missions", in_cohort), ("analytics", tuple(cohort_levels)))),
        Check("learners in a cohort", "=", (
            ("missions", (sum(in_cohort),)), ("analytics", (cohort_learners,)))),
        Check("learners in an enterprise", "=", (
            ("missions", (in_enterprise,)), ("analytics", (enterprise_learners,)))),
        Check("learners with a current session", "<=", (
            ("missions", (sum(levels),)),
            ("learners with sessions published", (published.get("users_with_sessions", 0),)))),
        Check("value statements", "<=", (
            ("portfolio", (active_items + withdrawn_items,)),
            ("distinct sessions published", (published.get("distinct_sessions", 0),)))),
        Check("withdrawn value statements", "<=", (
            ("portfolio", (withdrawn_items,)),
            ("invalidated sessions published", (published.get("invalidations", 0),)))),
        Check("active mentor assignments", "<=", (
            ("mentorship", (active_pairs,)), ("activations published", (activations,)))),
    ]
    return Summary(figures, checks)


def _shown(value: tuple[int, ...]) -> str:
    return "/".join(map(str, value))


def render(summary: Summary) -> list[str]:
    lines = ["projections:"]
    lines += [f"  {name:44} {value:>7}" for name, value in summary.figures.items()]
    lines.append("checks (the projections against each other and the published counts):")
    for check in summary.checks:
        sides = f" {check.relation} ".join(f"{who} {_shown(v)}" for who, v in check.sides)
        lines.append(f"  {check.name}: {sides}  {'ok' if check.holds else 'MISMATCH'}")
    return lines
