"""Typed reasons an event is refused. Each becomes a dead-letter reason, never a crash."""

from __future__ import annotations


class EventRejected(Exception):
    """An event the hub will not apply. `reason` is a stable code, `field` the offending path."""

    reason = "invalid"

    def __init__(self, detail: str, field: str | None = None) -> None:
        self.detail = detail
        self.field = field
        where = f" at {field}" if field else ""
        super().__init__(f"{self.reason}{where}: {detail}")


class MalformedEvent(EventRejected):
    reason = "malformed"


class OversizedEvent(EventRejected):
    reason = "oversized"


class UnknownEventType(EventRejected):
    reason = "unknown_event_type"


class UnknownSchemaVersion(EventRejected):
    reason = "unknown_schema_version"


class InvalidEvent(EventRejected):
    reason = "invalid"
