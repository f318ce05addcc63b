"""Cohort and enterprise analytics (CONTRACT, "Cohort analytics"): pure rules, no I/O.

A learner contributes to the groups (a cohort, an enterprise) their sessions name: their
current session counts them once as a learner there (overall score, difficulty, skill scores),
and each valid session counts once in `sessions_completed` of its own cohort and enterprise.
The projection keeps each group's sums and applies, per batch, the difference between every
touched learner's contribution after and before. Deltas come from state diffs, so an event
whose application changes no state (a duplicate, a replay) changes no aggregate.

Scores are summed as `Decimal`s of the floats' shortest representation, without rounding
(PostgreSQL `numeric` does the same), so a retraction cancels its addition exactly and an
empty group sums to exactly zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Context, Decimal
from typing import TypeVar

from consumers.missions.decide import difficulty_for
from schemas.session_completed import SessionCompletedV1
from toolkit.decimals import exact
from toolkit.lifecycle import LearnerState

COHORT = "cohort"
ENTERPRISE = "enterprise"
DIFFICULTIES = (1, 2, 3, 4, 5)
ZERO = Decimal(0)
# Scores in [0, 100] have at most 17 significant digits and exponents down to -324, so sums
# of up to 10^40 of them are exact at this precision.
_EXACT = Context(prec=400)

Group = tuple[str, str]  # (COHORT or ENTERPRISE, its id)


@dataclass(frozen=True, slots=True)
class SessionContribution:
    """What the analytics projection keeps of a completed session."""

    cohort_id: str | None
    enterprise_id: str | None
    overall_score: Decimal
    difficulty: int
    skill_scores: tuple[tuple[str, Decimal], ...]

    def groups(self) -> list[Group]:
        return [
            (scope, group_id)
            for scope, group_id in ((COHORT, self.cohort_id), (ENTERPRISE, self.enterprise_id))
            if group_id is not None
        ]


def session_facts(data: SessionCompletedV1) -> SessionContribution:
    return SessionContribution(
        data.cohort_id,
        data.enterprise_id,
        exact(data.overall_score),
        difficulty_for(data.recommended_level, data.overall_score),
        tuple(sorted((skill, exact(score)) for skill, score in data.skill_scores.items())),
    )


@dataclass(frozen=True, slots=True)
class Totals:
    """One group's sums: learners (current sessions), their score sum and difficulties, and
    valid sessions completed."""

    learners: int = 0
    score_sum: Decimal = ZERO
    difficulty: tuple[int, ...] = (0, 0, 0, 0, 0)  # learners at difficulty 1 … 5
    sessions_completed: int = 0

    def __add__(self, other: Totals) -> Totals:
        return Totals(
            self.learners + other.learners,
            _EXACT.add(self.score_sum, other.score_sum),
            tuple(a + b for a, b in zip(self.difficulty, other.difficulty, strict=True)),
            self.sessions_completed + other.sessions_completed,
        )

    def __bool__(self) -> bool:
        return bool(self.learners or self.score_sum or any(self.difficulty)
                    or self.sessions_completed)


@dataclass(frozen=True, slots=True)
class SkillTotals:
    """One group's sum of one skill's scores over the current sessions that have it."""

    score_sum: Decimal = ZERO
    scores: int = 0

    def __add__(self, other: SkillTotals) -> SkillTotals:
        return SkillTotals(_EXACT.add(self.score_sum, other.score_sum), self.scores + other.scores)

    def __bool__(self) -> bool:
        return bool(self.score_sum or self.scores)


K = TypeVar("K")
V = TypeVar("V", Totals, SkillTotals, int)


def _accumulate(target: dict[K, V], key: K, value: V) -> None:
    """Add `value` under `key`, dropping the entry when it sums to nothing."""
    total = target[key] + value if key in target else value
    if total:
        target[key] = total
    else:
        target.pop(key, None)


@dataclass
class Aggregates:
    """Sums per group, per (group, skill) and per current placement (cohort, enterprise);
    either absolute (a learner's contribution, a from-scratch total) or a change."""

    totals: dict[Group, Totals] = field(default_factory=dict)
    skills: dict[tuple[Group, str], SkillTotals] = field(default_factory=dict)
    placements: dict[tuple[str, str], int] = field(default_factory=dict)

    def add(self, other: Aggregates) -> None:
        for group, totals in other.totals.items():
            _accumulate(self.totals, group, totals)
        for group_skill, skill in other.skills.items():
            _accumulate(self.skills, group_skill, skill)
        for placement, count in other.placements.items():
            _accumulate(self.placements, placement, count)


@dataclass(slots=True)
class _GroupSums:
    """One group's running sums in `_Change`, changed in place (`Totals` is the frozen form)."""

    learners: int = 0
    score_sum: Decimal = ZERO
    difficulty: list[int] = field(default_factory=lambda: [0, 0, 0, 0, 0])  # at 1 … 5
    sessions_completed: int = 0


@dataclass(slots=True)
class _SkillSums:
    """One group's running sum of one skill in `_Change` (`SkillTotals` is the frozen form)."""

    score_sum: Decimal
    scores: int


class _Change:
    """A batch's change as mutable sums (the replay hot path: no object per addition);
    `aggregates()` drops what sums to nothing, as `_accumulate` does step by step."""

    def __init__(self) -> None:
        self.totals: dict[Group, _GroupSums] = {}
        self.skills: dict[tuple[Group, str], _SkillSums] = {}
        self.placements: dict[tuple[str, str], int] = {}

    def _totals(self, group: Group) -> _GroupSums:
        sums = self.totals.get(group)
        if sums is None:
            sums = self.totals[group] = _GroupSums()
        return sums

    def contribute(self, state: LearnerState[SessionContribution], sign: int) -> None:
        """Add (sign 1) or retract (sign -1) what one learner contributes."""
        invalidated = state.invalidated
        for session in state.sessions.values():
            if session.session_id not in invalidated:
                for group in session.facts.groups():
                    self._totals(group).sessions_completed += sign
        current = state.current()
        if current is None:
            return
        facts = current.facts
        add = _EXACT.add
        score = facts.overall_score if sign > 0 else facts.overall_score.copy_negate()
        skills = [
            (skill, value if sign > 0 else value.copy_negate())
            for skill, value in facts.skill_scores
        ]
        for group in facts.groups():
            sums = self._totals(group)
            sums.learners += sign
            sums.score_sum = add(sums.score_sum, score)
            sums.difficulty[facts.difficulty - 1] += sign
            for skill, value in skills:
                key = (group, skill)
                skill_sums = self.skills.get(key)
                if skill_sums is None:
                    self.skills[key] = _SkillSums(value, sign)
                else:
                    skill_sums.score_sum = add(skill_sums.score_sum, value)
                    skill_sums.scores += sign
        if facts.cohort_id is not None and facts.enterprise_id is not None:
            placement = (facts.cohort_id, facts.enterprise_id)
            self.placements[placement] = self.placements.get(placement, 0) + sign

    def aggregates(self) -> Aggregates:
        totals = {
            group: Totals(t.learners, t.score_sum, tuple(t.difficulty), t.sessions_completed)
            for group, t in self.totals.items()
        }
        skills = {key: SkillTotals(s.score_sum, s.scores) for key, s in self.skills.items()}
        return Aggregates(
            totals={k: v for k, v in totals.items() if v},
            skills={k: v for k, v in skills.items() if v},
            placements={k: n for k, n in self.placements.items() if n},
        )


# Sums of contributions, public for the bulk path (absolute sums of every learner's final state).
Contributions = _Change


def batch_change(
    transitions: Iterable[
        tuple[LearnerState[SessionContribution], LearnerState[SessionContribution]]
    ],
) -> Aggregates:
    """The aggregates' change when each learner's state goes from `before` to `after`."""
    change = _Change()
    for before, after in transitions:
        if after is not before:
            change.contribute(after, 1)
            change.contribute(before, -1)
    return change.aggregates()


@dataclass(frozen=True, slots=True)
class Report:
    """A group's analytics as the read API shows them."""

    learners: int
    sessions_completed: int
    average_overall_score: float | None
    difficulty_distribution: dict[str, int]
    skill_averages: dict[str, float]


def report(totals: Totals, skills: Mapping[str, SkillTotals]) -> Report:
    return Report(
        learners=totals.learners,
        sessions_completed=totals.sessions_completed,
        average_overall_score=(
            float(totals.score_sum / totals.learners) if totals.learners else None
        ),
        difficulty_distribution={
            str(d): n for d, n in zip(DIFFICULTIES, totals.difficulty, strict=True)
        },
        skill_averages={
            skill: float(s.score_sum / s.scores) for skill, s in sorted(skills.items()) if s.scores
        },
    )
