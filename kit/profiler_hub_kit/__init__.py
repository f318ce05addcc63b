"""The producer kit of the Profiler Integration Hub.

Everything an upstream producer needs and nothing of the hub's server side (pydantic is the
only required dependency): the CONTRACT's event models, a builder per event type that fills the
envelope, `encode` (the wire bytes), `decode`, and the outbox row with its table's DDL.
Django: add `"profiler_hub_kit.django"` to `INSTALLED_APPS` and call
`profiler_hub_kit.django.publish(event)` inside `transaction.atomic()`.
"""

from profiler_hub_kit.builders import (
    learner_erased,
    mentorship_assignment_changed,
    session_completed,
    session_invalidated,
)
from profiler_hub_kit.models.registry import (
    AnyEvent,
    LearnerErased,
    MentorshipAssignmentChanged,
    SessionCompleted,
    SessionInvalidated,
    decode,
    encode,
)
from profiler_hub_kit.models.session_completed import AntiCheat, ValueAnswers
from profiler_hub_kit.outbox import MAX_EVENT_BYTES, ddl, default_topic, outbox_row

__all__ = [
    "MAX_EVENT_BYTES",
    "AnyEvent",
    "AntiCheat",
    "LearnerErased",
    "MentorshipAssignmentChanged",
    "SessionCompleted",
    "SessionInvalidated",
    "ValueAnswers",
    "ddl",
    "decode",
    "default_topic",
    "encode",
    "learner_erased",
    "mentorship_assignment_changed",
    "outbox_row",
    "session_completed",
    "session_invalidated",
]
