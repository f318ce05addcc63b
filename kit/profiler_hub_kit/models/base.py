"""Shared pieces of the event models: the typed envelope and common field types."""

from __future__ import annotations

from typing import Annotated, ClassVar, Generic, Literal, TypeVar
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

UserId = Annotated[str, Field(min_length=1, max_length=64)]
Score = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]

DataT = TypeVar("DataT", bound=BaseModel)


class EventData(BaseModel):
    """Payload of one event type at one schema version."""

    model_config = ConfigDict(extra="allow", frozen=True)

    event_type: ClassVar[str]
    schema_version: ClassVar[int]
    # Which envelope key carries the Kafka key (CONTRACT: user_id or mentee_id).
    key_field: ClassVar[str] = "user_id"


class Event(BaseModel, Generic[DataT]):
    """A whole event: envelope fields plus the typed payload under `data`."""

    model_config = ConfigDict(frozen=True)

    event_id: UUID
    event_type: str
    schema_version: int = Field(ge=1)
    occurred_at: AwareDatetime
    producer: str = Field(min_length=1)
    correlation_id: str | None = None
    data: DataT

    @property
    def key(self) -> str:
        data: EventData = self.data  # type: ignore[assignment]
        return str(getattr(data, data.key_field))


Level = Literal["novice", "beginner", "intermediate", "advanced", "expert"]
