"""What the dashboard's skill-gap endpoints must answer, computed the simplest way: each
learner's current session (`producers.oracle.current_sessions`), each skill's gap by the
CONTRACT's rule, plain means per skill over a group's learners. Shares no code with the
endpoint's SQL."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from statistics import fmean
from typing import Any

from consumers.recipes.catalog import Catalog
from producers.oracle import current_sessions
from schemas.registry import AnyEvent


def group_skill_gaps(
    events: Iterable[AnyEvent], catalog: Catalog, scope: str, group_id: str
) -> dict[str, Any] | None:
    """`learners` and every skill's gaps (largest mean gap first, then skill) of the group's
    current learners; `scope` is `cohort` or `enterprise`; None when the group has none."""
    per_skill: dict[str, list[tuple[float, float]]] = defaultdict(list)  # (score, target)
    learners = 0
    for event in current_sessions(events).values():
        d = event.data
        if (d.cohort_id if scope == "cohort" else d.enterprise_id) != group_id:
            continue
        learners += 1
        for skill, score in d.skill_scores.items():
            target = catalog.track_requirements.get(d.track, {}).get(skill, 70.0)
            per_skill[skill].append((score, target))
    if not learners:
        return None
    gaps = [
        {
            "skill": skill,
            "learners": len(pairs),
            "learners_below_target": sum(1 for score, target in pairs if score < target),
            "average_score": fmean(score for score, _ in pairs),
            "average_target": fmean(target for _, target in pairs),
            "average_gap": fmean(max(0.0, target - score) for score, target in pairs),
        }
        for skill, pairs in per_skill.items()
    ]
    gaps.sort(key=lambda g: (-g["average_gap"], g["skill"]))
    return {"learners": learners, "gaps": gaps}
