"""Turns wire bytes into typed events, and typed events into wire bytes.

Newer schema versions than the hub knows are refused with a reason; older ones are upcast
step by step through `UPCASTERS` before validation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from profiler_hub_kit.models.base import Event, EventData
from profiler_hub_kit.models.errors import (
    InvalidEvent,
    MalformedEvent,
    OversizedEvent,
    UnknownEventType,
    UnknownSchemaVersion,
)
from profiler_hub_kit.models.learner_erased import LearnerErasedV1
from profiler_hub_kit.models.mentorship_assignment_changed import MentorshipAssignmentChangedV1
from profiler_hub_kit.models.session_completed import SessionCompletedV1
from profiler_hub_kit.models.session_invalidated import SessionInvalidatedV1


# Named classes rather than aliases of `Event[...]`: `isinstance(event, SessionCompleted)` then
# narrows the event (and its `data`) for type checkers, which refuse parameterized generics there.
class SessionCompleted(Event[SessionCompletedV1]):
    """A whole `profiler.session.completed` event."""


class SessionInvalidated(Event[SessionInvalidatedV1]):
    """A whole `profiler.session.invalidated` event."""


class LearnerErased(Event[LearnerErasedV1]):
    """A whole `learner.erased` event."""


class MentorshipAssignmentChanged(Event[MentorshipAssignmentChangedV1]):
    """A whole `mentorship.assignment.changed` event."""


AnyEvent = SessionCompleted | SessionInvalidated | LearnerErased | MentorshipAssignmentChanged

# event_type -> the newest schema version's payload model and its whole-event model.
CURRENT: dict[str, tuple[type[EventData], type[Event[Any]]]] = {
    SessionCompletedV1.event_type: (SessionCompletedV1, SessionCompleted),
    SessionInvalidatedV1.event_type: (SessionInvalidatedV1, SessionInvalidated),
    LearnerErasedV1.event_type: (LearnerErasedV1, LearnerErased),
    MentorshipAssignmentChangedV1.event_type: (
        MentorshipAssignmentChangedV1,
        MentorshipAssignmentChanged,
    ),
}

# Finds which model to try first, so a valid event costs one JSON parse (the model's own)
# instead of `json.loads` and then the model's. Only a hint: the event is accepted on this
# path only if the validated event says the same type and the current version.
_EVENT_TYPE_HINT = re.compile(rb'"event_type"\s*:\s*"([a-z.]{1,100})"')

# (event_type, version) -> function turning that version's `data` into version + 1's. A new
# schema_version needs the step from the one before it; the hub's `hub schemas check` refuses a
# version without it, and one not BACKWARD compatible with the released schema before it
# (README of the hub, "Schema compatibility").
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
UPCASTERS: dict[tuple[str, int], Upcaster] = {}


def decode(raw: bytes | None, max_bytes: int = 1_048_576) -> AnyEvent:
    """Parse and validate one event; raises an `EventRejected` subclass naming the problem."""
    if raw is None:
        raise MalformedEvent("the message has no value")
    if len(raw) > max_bytes:
        raise OversizedEvent(f"{len(raw)} bytes exceeds the limit of {max_bytes}")
    hint = _EVENT_TYPE_HINT.search(raw)
    known = CURRENT.get(hint.group(1).decode()) if hint else None
    if b"\\u0000" in raw:
        known = None  # the checked path finds and names the NUL the models would let by
    if known is not None:
        payload_model, event_model = known
        try:
            event = event_model.model_validate_json(raw, strict=True)
        except ValidationError:
            event = None
        if (
            event is not None
            and event.event_type == payload_model.event_type
            and event.schema_version == payload_model.schema_version
        ):
            return event  # type: ignore[return-value]
    # Refused, or an older version to upcast: the step-by-step path names the problem.
    return _decode_checked(raw)


def _decode_checked(raw: bytes) -> AnyEvent:
    try:
        # Decoding first refuses UTF-16/32, which json.loads would otherwise guess at.
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedEvent(f"not UTF-8 JSON: {exc}") from None
    except RecursionError:  # `[[[[…` nested deeper than the parser's stack
        raise MalformedEvent("JSON nested too deeply") from None
    if not isinstance(document, dict):
        raise MalformedEvent(f"expected a JSON object, got {type(document).__name__}")
    # PostgreSQL text and jsonb cannot hold U+0000, so such an event could never be stored.
    # The byte search keeps the exact walk off the hot path.
    if b"\\u0000" in raw and (path := _nul_path(document)) is not None:
        raise InvalidEvent("contains a NUL character (U+0000)", field=path)
    return from_document(document, raw)


def _nul_path(document: dict[str, Any]) -> str | None:
    """Dotted path of the first string (or key) holding U+0000, walked without recursion."""
    stack: list[tuple[str, Any]] = [("", document)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, str):
            if "\x00" in node:
                return path
        elif isinstance(node, dict):
            for key, value in node.items():
                child = f"{path}.{key}" if path else key
                if "\x00" in key:
                    return child.replace("\x00", "\\u0000")
                stack.append((child, value))
        elif isinstance(node, list):
            stack.extend((f"{path}.{i}", item) for i, item in enumerate(node))
    return None


def from_document(document: dict[str, Any], raw: bytes | None = None) -> AnyEvent:
    """Validate a parsed event. Types are strict, as on the wire (JSON): no "50" for 50."""
    event_type = document.get("event_type")
    version = document.get("schema_version")
    if not isinstance(event_type, str):
        raise InvalidEvent("missing or not a string", field="event_type")
    if isinstance(version, bool) or not isinstance(version, int):
        raise InvalidEvent("missing or not an integer", field="schema_version")
    known = CURRENT.get(event_type)
    if known is None:
        raise UnknownEventType(f"{event_type!r} is not an event type this hub knows")
    payload_model, event_model = known
    if version > payload_model.schema_version:
        raise UnknownSchemaVersion(
            f"{event_type} v{version} is newer than the v{payload_model.schema_version} "
            "this hub knows"
        )
    if version < 1:
        raise InvalidEvent("must be >= 1", field="schema_version")
    if version < payload_model.schema_version or raw is None:
        document = _upcast(document, event_type, version, payload_model.schema_version)
        raw = json.dumps(document).encode()
    try:
        return event_model.model_validate_json(raw, strict=True)  # type: ignore[return-value]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise InvalidEvent(first["msg"], field=field) from None


def _upcast(document: dict[str, Any], event_type: str, version: int, target: int) -> dict[str, Any]:
    data = document.get("data")
    if not isinstance(data, dict):
        raise InvalidEvent("missing or not an object", field="data")
    while version < target:
        step = UPCASTERS.get((event_type, version))
        if step is None:
            raise UnknownSchemaVersion(f"no upcaster from {event_type} v{version}")
        data = step(data)
        version += 1
    return {**document, "schema_version": target, "data": data}


def encode(event: BaseModel) -> bytes:
    return event.model_dump_json(exclude_none=False).encode()


def new_event(data: EventData, *, event_id, occurred_at, producer: str = "profiler",
              correlation_id: str | None = None) -> AnyEvent:
    """Wrap a payload in its envelope (used by publishers and tests)."""
    _, event_model = CURRENT[data.event_type]
    return event_model(  # type: ignore[return-value]
        event_id=event_id,
        event_type=data.event_type,
        schema_version=data.schema_version,
        occurred_at=occurred_at,
        producer=producer,
        correlation_id=correlation_id,
        data=data,
    )
