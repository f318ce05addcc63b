"""The hub's name for the producer kit's `profiler_hub_kit.models.registry`.

The kit (kit/) is the one source of the event models: these are its very objects, re-exported
by name (not by aliasing the module) so that type checkers see them."""

from profiler_hub_kit.models.registry import (
    CURRENT,
    UPCASTERS,
    AnyEvent,
    LearnerErased,
    MentorshipAssignmentChanged,
    SessionCompleted,
    SessionInvalidated,
    Upcaster,
    decode,
    encode,
    from_document,
    new_event,
)

__all__ = [
    "SessionCompleted",
    "SessionInvalidated",
    "LearnerErased",
    "MentorshipAssignmentChanged",
    "AnyEvent",
    "CURRENT",
    "Upcaster",
    "UPCASTERS",
    "decode",
    "from_document",
    "encode",
    "new_event",
]
