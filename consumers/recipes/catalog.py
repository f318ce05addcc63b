"""The recipe catalog: track requirements, the skill map and recipes; and skill gaps.

The catalog ships as `catalog.json` beside this module and can be replaced at run time with
`hub catalog load FILE` (validated first; a bad file changes nothing). Pure: no I/O here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from toolkit.decimals import exact

DEFAULT_TARGET = 70.0
SHIPPED_CATALOG = Path(__file__).with_name("catalog.json")

Target = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
Code = Annotated[str, Field(min_length=1, max_length=64)]


class Recipe(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Code
    title: str = Field(min_length=1, max_length=200)
    skill_codes: list[Code] = Field(min_length=1)
    level: Literal[1, 2, 3, 4, 5] = Field(description="Mission difficulty the recipe suits.")


class Catalog(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(min_length=1, max_length=64)
    # track -> profiler skill category -> target score
    track_requirements: dict[Code, dict[Code, Target]]
    # profiler skill category -> recipe skill codes
    skill_map: dict[Code, list[Code]]
    recipes: list[Recipe]

    @model_validator(mode="after")
    def _consistent(self) -> Catalog:
        ids = [r.id for r in self.recipes]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate recipe ids: {duplicates}")
        return self

    def target(self, track: str, skill: str) -> float:
        return self.track_requirements.get(track, {}).get(skill, DEFAULT_TARGET)


@dataclass(frozen=True, slots=True)
class Gap:
    skill: str
    score: float
    target: float
    gap: float
    recipe_skill_codes: tuple[str, ...]


def skill_gaps(catalog: Catalog, track: str, skill_scores: Mapping[str, float]) -> list[Gap]:
    """CONTRACT: for each skill of the session, gap = max(0, target - score); target from the
    track's requirements when the catalog has one, else 70. Ordered by gap, largest first.

    The difference is taken in decimal, so 75 - 60.1 is 14.9 rather than 14.899999999999999."""
    gaps = []
    for skill, score in skill_scores.items():
        target = catalog.target(track, skill)
        gap = float(max(Decimal(0), exact(target) - exact(score)))
        gaps.append(Gap(skill, score, target, gap, tuple(catalog.skill_map.get(skill, ()))))
    return sorted(gaps, key=lambda g: (-g.gap, g.skill))


def parse_catalog(text: str | bytes) -> Catalog:
    """Validate a catalog document; raises pydantic.ValidationError or ValueError."""
    return Catalog.model_validate(json.loads(text))


def shipped_catalog() -> Catalog:
    return parse_catalog(SHIPPED_CATALOG.read_bytes())
