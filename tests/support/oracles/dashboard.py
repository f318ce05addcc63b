"""What the dashboard's endpoints must answer, computed the simplest way from the events:

- which groups an admin may read (CONTRACT, "Read API": a cohort is an enterprise admin's
  only when the admin is "over" every one of its current learners), written from the
  CONTRACT's words, sharing no code with `hub.api` (the RBAC matrix checks the API with it);
- each group's skill gaps: each learner's current session (`sessions.current_sessions`), each
  skill's gap by the CONTRACT's rule, plain means per skill over a group's learners. Shares no
  code with the endpoint's SQL; the catalog (its data) is the hub's."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from statistics import fmean
from typing import Any

from consumers.recipes.catalog import Catalog  # the catalog data (shared), no rule used
from schemas.registry import AnyEvent
from tests.support.oracles.analytics import valid_sessions
from tests.support.oracles.recipes import DEFAULT_TARGET
from tests.support.oracles.sessions import current_sessions


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
            target = catalog.track_requirements.get(d.track, {}).get(skill, DEFAULT_TARGET)
            per_skill[skill].append((score, target))
    if not learners:
        return None
    gaps: list[dict[str, Any]] = [
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


def may_read_cohort(
    events: Iterable[AnyEvent], cohort_id: str, roles: Iterable[str],
    enterprise_id: str | None, cohort_ids: Iterable[str],
) -> bool:
    """May an admin with these claims read the cohort's analytics and skill gaps?"""
    roles = set(roles)
    if "platform_admin" in roles:
        return True
    if "cohort_admin" in roles and cohort_id in set(cohort_ids):
        return True
    if "enterprise_admin" not in roles or enterprise_id is None:
        return False
    learners_enterprises = [
        e.data.enterprise_id for e in current_sessions(events).values()
        if e.data.cohort_id == cohort_id
    ]
    # Over every current learner: none may be another enterprise's or in no enterprise.
    return bool(learners_enterprises) and all(
        e == enterprise_id for e in learners_enterprises)


def readable_groups(
    events: Iterable[AnyEvent], roles: Iterable[str], enterprise_id: str | None,
    cohort_ids: Iterable[str],
) -> tuple[list[str], list[str]]:
    """(enterprises, cohorts) that `GET …/admin/groups` must list for these claims: every
    group with a current learner or a valid session that the admin may read, sorted."""
    events = list(events)
    roles = set(roles)
    sessions = [s for valid in valid_sessions(events).values() for s in valid]
    enterprises = {s.data.enterprise_id for s in sessions if s.data.enterprise_id is not None}
    cohorts = {s.data.cohort_id for s in sessions if s.data.cohort_id is not None}
    if "platform_admin" not in roles:
        enterprises = {e for e in enterprises
                       if "enterprise_admin" in roles and e == enterprise_id}
    cohorts = {c for c in cohorts
               if may_read_cohort(events, c, roles, enterprise_id, cohort_ids)}
    return sorted(enterprises), sorted(cohorts)
