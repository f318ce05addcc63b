"""The hub's name for the producer kit's `profiler_hub_kit.models.learner_erased`.

The kit (kit/) is the one source of the event models: these are its very objects, re-exported
by name (not by aliasing the module) so that type checkers see them."""

from profiler_hub_kit.models.learner_erased import (
    LearnerErasedV1,
)

__all__ = [
    "LearnerErasedV1",
]
