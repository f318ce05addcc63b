"""Marketplace talent search terms: `skill=name[:min_score]` parameters. Pure, no I/O.

A learner matches when their current session has every requested skill with a score at
least its minimum (default 0); matches rank by the mean of the requested skills' scores,
highest first, then by user id. Only learners whose current session opted in to the
marketplace are ever searched (see `queries.talent_matches`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

MAX_SKILLS = 20  # bounds the search's OR of (skill, min) terms
MAX_SKILL_LENGTH = 64


@dataclass(frozen=True, slots=True)
class SkillFilter:
    skill: str
    min_score: Decimal


def parse_skill_filter(text: str) -> SkillFilter:
    """`network_security:60` or `incident_response` (minimum 0). The minimum follows the last
    colon, so a skill name containing a colon is written with an explicit minimum."""
    name, colon, minimum = text.rpartition(":") if ":" in text else (text, "", "")
    if not 1 <= len(name) <= MAX_SKILL_LENGTH:
        raise ValueError(f"skill name must be 1-{MAX_SKILL_LENGTH} characters, in {text!r}")
    if not colon:
        return SkillFilter(name, Decimal(0))
    try:
        value = Decimal(minimum)
    except InvalidOperation:
        raise ValueError(f"minimum score {minimum!r} is not a number, in {text!r}") from None
    if not value.is_finite() or not 0 <= value <= 100:
        raise ValueError(f"minimum score must be within 0-100, in {text!r}")
    return SkillFilter(name, value)


def distinct_skills(filters: list[SkillFilter]) -> list[SkillFilter]:
    """Refuses a skill named twice: its two minimums would contradict or repeat each other."""
    names = [f.skill for f in filters]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"skills named more than once: {repeated}")
    return filters
