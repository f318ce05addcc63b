"""Groups a batch's events by the learner they concern, keeping each learner's order."""

from __future__ import annotations

from collections.abc import Sequence

from schemas.registry import AnyEvent


def by_learner(events: Sequence[AnyEvent]) -> dict[str, list[AnyEvent]]:
    grouped: dict[str, list[AnyEvent]] = {}
    for event in events:
        grouped.setdefault(event.key, []).append(event)
    return grouped
