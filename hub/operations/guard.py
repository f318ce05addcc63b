"""Refuse while a projection's workers run: replay and rebuild rewrite what a running worker
holds in memory (its positions, its table set), so they act only with the workers stopped.
The operations call this themselves, whoever calls them."""

from __future__ import annotations

from collections.abc import Sequence

from hub.operations.refusals import UnknownProjection, WorkersRunning
from hub.projections import all_projections
from toolkit.kafka import group_states
from toolkit.settings import Settings
from toolkit.streaming.faust_app import group_id
from toolkit.streaming.projection import Projection


def projection_named(name: str, settings: Settings | None = None) -> Projection:
    """The registered projection called `name` (with `settings`, ready to apply events)."""
    registry = all_projections(settings)
    if name not in registry:
        raise UnknownProjection(f"unknown consumer {name!r}; known: {', '.join(registry)}")
    return registry[name]


def workers_running_message(running: dict[str, int], example: str) -> str:
    busy = ", ".join(f"{n} worker(s) of {group}" for group, n in running.items())
    return f"refused: {busy} running; stop them first (e.g. stop `hub worker {example}`)"


async def ensure_stopped(settings: Settings, projections: Sequence[Projection]) -> None:
    """Raise `WorkersRunning` if any selected projection's consumer group has members."""
    groups = [group_id(p, settings) for p in projections]
    states = await group_states(settings.kafka_bootstrap, groups)
    running = {g: states.get(g, {}).get("members", 0) for g in groups}
    running = {g: n for g, n in running.items() if n}
    if running:
        raise WorkersRunning(workers_running_message(running, projections[0].name))
