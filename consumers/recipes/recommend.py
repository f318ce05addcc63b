"""Recipe recommendations from a learner's profile and the active catalog. Pure, no I/O.

Computed at read time, so a catalog loaded with `hub catalog load` applies at once.

Ranking rule (deterministic; the read API's OpenAPI description repeats it):
1. Gaps are the CONTRACT's skill gaps of the current session (`catalog.skill_gaps`): for each
   skill, gap = max(0, target - score), the target from the track's requirements, else 70.
2. A recipe is a candidate when its skill codes include at least one recipe skill code that a
   skill with gap > 0 maps to.
3. Its score is the sum of the gaps of the learner's skills it covers (each skill once, summed
   exactly in decimal, so equal sums tie).
4. Candidates are ordered by score descending, then |recipe level - learner difficulty|
   ascending (the recipe nearest the learner's level first), then recipe id ascending; the
   first `limit` are returned.
A learner with no current session has no profiler data: difficulty 1 with source `default`
(as for missions), `fallback` true, no gaps and therefore no recipes. A learner whose skills
all meet their targets likewise gets no recipes.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from consumers.missions.decide import DEFAULT_DIFFICULTY
from consumers.recipes.catalog import Catalog, Gap, Recipe, skill_gaps
from consumers.recipes.decide import Profile
from toolkit.decimals import exact

RANKING_RULE = (
    "Gaps: for each skill of the learner's current session, gap = max(0, target - score), "
    "target from the catalog's track requirements, else 70. A recipe is a candidate when it "
    "covers at least one recipe skill code of a skill with gap > 0; its score is the sum of "
    "the gaps of the learner's skills it covers. Order: score descending, then |recipe level "
    "- learner difficulty| ascending, then recipe id ascending. With no current session: "
    "difficulty 1, source `default`, fallback true, no gaps, no recipes. The catalog is the "
    "active one at request time (`hub catalog load` applies immediately)."
)


@dataclass(frozen=True, slots=True)
class RankedRecipe:
    recipe: Recipe
    score: float
    covers: tuple[str, ...]  # the learner's skills with a gap that this recipe works on


@dataclass(frozen=True, slots=True)
class Recommendations:
    difficulty: int
    source: Literal["profiler", "default"]
    catalog_version: str
    gaps: list[Gap]
    recipes: list[RankedRecipe]


def rank_recipes(recipes: list[Recipe], gaps: list[Gap], difficulty: int) -> list[RankedRecipe]:
    """Every candidate recipe, best first (rules 2-4 of the module docstring)."""
    open_gaps = [g for g in gaps if g.gap > 0]
    scored: list[tuple[Decimal, RankedRecipe]] = []
    for recipe in recipes:
        codes = set(recipe.skill_codes)
        covered = [g for g in open_gaps if codes.intersection(g.recipe_skill_codes)]
        if covered:
            total = sum((exact(g.gap) for g in covered), Decimal(0))
            covers = tuple(sorted(g.skill for g in covered))
            scored.append((total, RankedRecipe(recipe, float(total), covers)))
    scored.sort(key=lambda s: (-s[0], abs(s[1].recipe.level - difficulty), s[1].recipe.id))
    return [ranked for _, ranked in scored]


def recommend(catalog: Catalog, profile: Profile | None, limit: int) -> Recommendations:
    if profile is None:
        return Recommendations(DEFAULT_DIFFICULTY, "default", catalog.version, [], [])
    gaps = skill_gaps(catalog, profile.track, profile.skill_scores)
    ranked = rank_recipes(catalog.recipes, gaps, profile.difficulty)
    return Recommendations(profile.difficulty, "profiler", catalog.version, gaps, ranked[:limit])
