"""`mentorship.assignment.changed`, schema_version 1."""

from __future__ import annotations

from typing import ClassVar

from pydantic import AwareDatetime

from profiler_hub_kit.models.base import EventData, UserId


class MentorshipAssignmentChangedV1(EventData):
    event_type: ClassVar[str] = "mentorship.assignment.changed"
    schema_version: ClassVar[int] = 1
    key_field: ClassVar[str] = "mentee_id"

    mentor_id: UserId
    mentee_id: UserId
    active: bool
    changed_at: AwareDatetime
