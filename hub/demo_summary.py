"""What `hub demo` prints: each projection's figures beside what the published events imply.

"expected" comes from the `producers.oracle*` modules, simple from-scratch readings of the
CONTRACT that share no code with the incremental projections.
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from consumers.analytics import tables as analytics
from consumers.mentorship import tables as mentorship
from consumers.missions import tables as missions
from consumers.portfolio import tables as portfolio
from consumers.recipes import tables as recipes
from producers import oracle, oracle_analytics, oracle_mentorship, oracle_portfolio, oracle_recipes
from producers.sample import SampleTraffic
from toolkit.db import create_engine
from toolkit.settings import Settings

Figures = dict[str, int]


def expected_figures(sample: SampleTraffic) -> Figures:
    events = sample.profiler_events() + sample.mentorship_events()
    levels = Counter(oracle.difficulties(events).values())
    profiles = oracle_recipes.current_profiles(events)
    items = [i for p in oracle_portfolio.portfolios(events).values() for i in p.items]
    pairs = oracle_mentorship.assignments(events)
    cohorts, enterprises = oracle_analytics.analytics(events)
    return {
        **{f"missions: learners at difficulty {n}": levels.get(n, 0) for n in range(1, 6)},
        "recipes: learners with a skill profile": len(profiles),
        "recipes: opted in to the marketplace": sum(
            p.marketplace_opt_in for p in profiles.values()
        ),
        "portfolio: active value statements": sum(i.status == "active" for i in items),
        "portfolio: withdrawn value statements": sum(i.status == "withdrawn" for i in items),
        "mentorship: active mentor assignments": sum(active for active, _ in pairs.values()),
        "analytics: cohorts": len(cohorts),
        "analytics: learners counted in cohorts": sum(c["learners"] for c in cohorts.values()),
        "analytics: enterprises": len(enterprises),
    }


async def actual_figures(settings: Settings) -> Figures:
    engine = create_engine(settings, pool_size=1)

    async def count(table, *where) -> int:
        return (
            await conn.execute(select(func.count()).select_from(table).where(*where))
        ).scalar_one()

    try:
        async with engine.connect() as conn:
            level = missions.difficulty.c.difficulty
            totals = analytics.group_totals.c
            figures = {
                f"missions: learners at difficulty {n}": await count(
                    missions.difficulty, level == n
                )
                for n in range(1, 6)
            }
            figures["recipes: learners with a skill profile"] = await count(recipes.profiles)
            figures["recipes: opted in to the marketplace"] = await count(
                recipes.profiles, recipes.profiles.c.marketplace_opt_in
            )
            figures["portfolio: active value statements"] = await count(
                portfolio.items, portfolio.items.c.status == "active"
            )
            figures["portfolio: withdrawn value statements"] = await count(
                portfolio.items, portfolio.items.c.status == "withdrawn"
            )
            figures["mentorship: active mentor assignments"] = await count(
                mentorship.assignments, mentorship.assignments.c.active
            )
            figures["analytics: cohorts"] = await count(
                analytics.group_totals, totals.scope == "cohort"
            )
            figures["analytics: learners counted in cohorts"] = int(
                (
                    await conn.execute(
                        select(func.coalesce(func.sum(totals.learners), 0)).where(
                            totals.scope == "cohort"
                        )
                    )
                ).scalar_one()
            )
            figures["analytics: enterprises"] = await count(
                analytics.group_totals, totals.scope == "enterprise"
            )
    finally:
        await engine.dispose()
    return figures


def render(actual: Figures, expected: Figures) -> list[str]:
    lines = []
    for name, want in expected.items():
        got = actual.get(name)
        mark = "ok" if got == want else "MISMATCH"
        lines.append(f"  {name:44} {got!s:>7}   expected {want:>7}  {mark}")
    return lines
