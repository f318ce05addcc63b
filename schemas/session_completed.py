"""The hub's name for the producer kit's `profiler_hub_kit.models.session_completed`.

The kit (kit/) is the one source of the event models: these are its very objects, re-exported
by name (not by aliasing the module) so that type checkers see them."""

from profiler_hub_kit.models.session_completed import (
    AntiCheat,
    SessionCompletedV1,
    ShortText,
    SkillName,
    ValueAnswers,
)

__all__ = [
    "ShortText",
    "SkillName",
    "ValueAnswers",
    "AntiCheat",
    "SessionCompletedV1",
]
