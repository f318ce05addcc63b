"""`profiler.session.completed`, schema_version 1."""

from __future__ import annotations

from typing import Annotated, ClassVar
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from profiler_hub_kit.models.base import EventData, Level, Score, UserId

ShortText = Annotated[str, Field(min_length=1, max_length=64)]
SkillName = Annotated[str, Field(min_length=1, max_length=64)]


class ValueAnswers(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    core_values: list[str] = Field(min_length=1, max_length=10)
    motivation: str = Field(max_length=2000)
    impact_goal: str = Field(max_length=2000)


class AntiCheat(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    duration_seconds: int = Field(ge=0)
    flags: list[str]
    suspicion_score: float = Field(ge=0, le=1, allow_inf_nan=False)


class SessionCompletedV1(EventData):
    event_type: ClassVar[str] = "profiler.session.completed"
    schema_version: ClassVar[int] = 1

    session_id: UUID
    user_id: UserId
    cohort_id: ShortText | None = None
    enterprise_id: ShortText | None = None
    track: ShortText
    completed_at: AwareDatetime
    overall_score: Score
    recommended_level: Level | None = None
    skill_scores: dict[SkillName, Score] = Field(min_length=1, max_length=200)
    value_answers: ValueAnswers
    anti_cheat: AntiCheat
    marketplace_opt_in: bool = False
