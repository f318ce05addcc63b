"""The hub's name for the producer kit's `profiler_hub_kit.models.base`.

The kit (kit/) is the one source of the event models: these are its very objects, re-exported
by name (not by aliasing the module) so that type checkers see them."""

from profiler_hub_kit.models.base import (
    DataT,
    Event,
    EventData,
    Level,
    Score,
    UserId,
)

__all__ = [
    "UserId",
    "Score",
    "DataT",
    "EventData",
    "Event",
    "Level",
]
