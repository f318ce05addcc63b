"""`profiler.session.invalidated`, schema_version 1."""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from pydantic import AwareDatetime, Field

from profiler_hub_kit.models.base import EventData, UserId


class SessionInvalidatedV1(EventData):
    event_type: ClassVar[str] = "profiler.session.invalidated"
    schema_version: ClassVar[int] = 1

    session_id: UUID
    user_id: UserId
    reason: str = Field(max_length=500)
    invalidated_at: AwareDatetime
