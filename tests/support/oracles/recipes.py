"""What the recipes projection and its read API must answer for a set of published events,
computed the simplest way from the CONTRACT and the documented rules (profiles from
`sessions.current_sessions` and `missions.difficulty`; gaps, rankings and talent matches by
plain loops), independently of the projection's incremental code, of
`consumers.recipes.catalog.skill_gaps` and of `consumers.recipes.recommend`.

Shared with the hub: the catalog (`Catalog` is its data: track targets, skill map, recipes)
and `Profile`, the read model's shape (a plain dataclass, no rule), so profiles compare equal.
Gaps are exact decimal differences of the numbers as written (75 - 60.1 is 14.9): the hub's
documented choice, not the CONTRACT's."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from consumers.recipes.catalog import Catalog
from consumers.recipes.decide import Profile
from schemas.registry import AnyEvent
from tests.support.oracles.missions import difficulty
from tests.support.oracles.sessions import current_sessions

Gap = tuple[str, float, float, float, list[str]]  # skill, score, target, gap, recipe skill codes
DEFAULT_TARGET = 70.0  # CONTRACT "Skill gaps": the target when the track has none


def current_profiles(events: Iterable[AnyEvent]) -> dict[str, Profile]:
    """Learner -> the profile of their current session (learners without one are absent)."""
    profiles = {}
    for user, event in current_sessions(events).items():
        d = event.data
        profiles[user] = Profile(
            session_id=d.session_id,
            completed_at=d.completed_at,
            track=d.track,
            overall_score=d.overall_score,
            recommended_level=d.recommended_level,
            difficulty=difficulty(d.recommended_level, d.overall_score),
            cohort_id=d.cohort_id,
            enterprise_id=d.enterprise_id,
            marketplace_opt_in=d.marketplace_opt_in,
            skill_scores=dict(d.skill_scores),
        )
    return profiles


def skill_gaps(catalog: Catalog, track: str, scores: Mapping[str, float]) -> list[Gap]:
    """CONTRACT "Skill gaps": per skill of the session, max(0, target - score), the target
    from the track's requirements in the catalog, else 70; largest gap first, then skill."""
    gaps = []
    for skill, score in scores.items():
        target = catalog.track_requirements.get(track, {}).get(skill, DEFAULT_TARGET)
        gap = float(max(Decimal(0), Decimal(repr(target)) - Decimal(repr(score))))
        gaps.append((skill, score, target, gap, list(catalog.skill_map.get(skill, []))))
    gaps.sort(key=lambda g: (-g[3], g[0]))
    return gaps


def recommendations(profile: Profile | None, catalog: Catalog, limit: int) -> dict[str, Any]:
    """`difficulty`, `source`, `gaps` as (skill, score, target, gap, codes) largest gap first,
    and `recipes` as (id, score) best first."""
    if profile is None:
        return {"difficulty": 1, "source": "default", "gaps": [], "recipes": []}
    gaps = skill_gaps(catalog, profile.track, profile.skill_scores)
    candidates = []
    for recipe in catalog.recipes:
        total = Decimal(0)
        covers_any = False
        for _skill, _score, _target, gap, codes in gaps:
            if gap > 0 and set(codes) & set(recipe.skill_codes):
                total += Decimal(repr(gap))
                covers_any = True
        if covers_any:
            candidates.append((-total, abs(recipe.level - profile.difficulty), recipe.id))
    candidates.sort()
    return {
        "difficulty": profile.difficulty,
        "source": "profiler",
        "gaps": gaps,
        "recipes": [(rid, float(-neg)) for neg, _, rid in candidates[:limit]],
    }


def talent_matches(
    profiles: Mapping[str, Profile],
    wanted: list[tuple[str, Decimal]],
    enterprise_id: str | None,
    limit: int,
    offset: int,
) -> tuple[int, list[dict[str, Any]]]:
    """(total, one page of API items): opted-in learners (of the enterprise when given) with
    every wanted skill at or above its minimum, by mean score descending, then user id."""
    hits = []
    for user, p in profiles.items():
        if not p.marketplace_opt_in:
            continue
        if enterprise_id is not None and p.enterprise_id != enterprise_id:
            continue
        scores = {s: Decimal(repr(p.skill_scores[s])) for s, _ in wanted if s in p.skill_scores}
        if len(scores) == len(wanted) and all(scores[s] >= m for s, m in wanted):
            hits.append((-sum(scores.values()), user, p, scores))
    hits.sort(key=lambda h: (h[0], h[1]))
    page = [
        {
            "user_id": user,
            "track": p.track,
            "overall_score": p.overall_score,
            "match_score": float(-neg / len(wanted)),
            "skill_scores": {s: float(v) for s, v in scores.items()},
            "cohort_id": p.cohort_id,
            "enterprise_id": p.enterprise_id,
        }
        for neg, user, p, scores in hits[offset : offset + limit]
    ]
    return len(hits), page
