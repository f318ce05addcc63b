"""The registry of projections the hub runs: one line each (docs/adding-a-projection.md).

A projection is one folder, `consumers/<name>/`: its tables, rules, projection (the applier's
seam, `toolkit/streaming/projection.py`) and read API (`api.py`: routes, access rule, the fast
path's SQL and handlers, `READ_API`). Everything that runs projections — workers, replay,
rebuild, status, migrations, the API app — takes them from here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import import_module

from sqlalchemy import MetaData

from consumers.analytics.projection import AnalyticsProjection
from consumers.mentorship.projection import MentorshipProjection
from consumers.missions.projection import MissionsProjection
from consumers.portfolio.projection import PortfolioProjection
from consumers.recipes.projection import RecipesProjection
from toolkit.settings import Settings
from toolkit.streaming.projection import Projection
from toolkit.web.read_api import ReadApi


def read_api_of(module: str) -> Callable[[], ReadApi]:
    """The `READ_API` of `module`, imported only when asked: workers never import the API."""

    def load() -> ReadApi:
        api = getattr(import_module(module), "READ_API", None)
        if not isinstance(api, ReadApi):
            raise TypeError(f"{module}.READ_API is not a toolkit.web.read_api.ReadApi")
        return api

    return load


@dataclass(frozen=True)
class Registration:
    """One projection: its class (built with the erasure key, or None for names, topics and
    tables only), and its read API (None: it serves no endpoint)."""

    projection: Callable[[bytes | None], Projection]
    read_api: Callable[[], ReadApi] | None = None


REGISTERED: tuple[Registration, ...] = (
    Registration(MissionsProjection, read_api_of("consumers.missions.api")),
    Registration(PortfolioProjection, read_api_of("consumers.portfolio.api")),
    Registration(AnalyticsProjection, read_api_of("consumers.analytics.api")),
    Registration(RecipesProjection, read_api_of("consumers.recipes.api")),
    Registration(MentorshipProjection, read_api_of("consumers.mentorship.api")),
)


def all_projections(settings: Settings | None = None,
                    registered: Sequence[Registration] = REGISTERED) -> dict[str, Projection]:
    """Every projection by name. Applying events needs `settings` (its erasure key); without
    them the projections serve for names, topics and tables only."""
    secret = settings.erasure_secret if settings is not None else None
    projections = [r.projection(secret) for r in registered]
    return {p.name: p for p in projections}


def read_apis(registered: Sequence[Registration] = REGISTERED) -> list[ReadApi]:
    """The read API of every projection that serves one, in registry order (the order of the
    OpenAPI document's paths)."""
    return [r.read_api() for r in registered if r.read_api is not None]


def all_metadata() -> list[MetaData]:
    """Every table the migrations own: each projection's table set, and the audit trail."""
    from consumers.recipes.catalog_store import metadata as catalog_metadata
    from hub.operations.dead_letters import metadata as dlq_metadata
    from producers.outbox import metadata as outbox_metadata
    from toolkit.web.audit import metadata as audit_metadata

    owned = [audit_metadata, catalog_metadata, dlq_metadata, outbox_metadata]
    return [p.metadata for p in all_projections().values()] + owned
