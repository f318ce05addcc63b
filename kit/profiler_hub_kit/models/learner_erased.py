"""`learner.erased`, schema_version 1."""

from __future__ import annotations

from typing import ClassVar

from pydantic import AwareDatetime

from profiler_hub_kit.models.base import EventData, UserId


class LearnerErasedV1(EventData):
    event_type: ClassVar[str] = "learner.erased"
    schema_version: ClassVar[int] = 1

    user_id: UserId
    erased_at: AwareDatetime
