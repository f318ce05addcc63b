"""The registry of projections the hub runs: one consumer group and table set each."""

from __future__ import annotations

from sqlalchemy import MetaData

from consumers.analytics.projection import AnalyticsProjection
from consumers.mentorship.projection import MentorshipProjection
from consumers.missions.projection import MissionsProjection
from consumers.portfolio.projection import PortfolioProjection
from consumers.recipes.projection import RecipesProjection
from toolkit.settings import Settings
from toolkit.streaming.projection import Projection


def all_projections(settings: Settings | None = None) -> dict[str, Projection]:
    """Every projection by name. Applying events needs `settings` (its erasure key); without
    them the projections serve for names, topics and tables only."""
    secret = settings.erasure_secret if settings is not None else None
    projections: list[Projection] = [
        MissionsProjection(secret), PortfolioProjection(secret), AnalyticsProjection(secret),
        RecipesProjection(secret), MentorshipProjection(secret),
    ]
    return {p.name: p for p in projections}


def all_metadata() -> list[MetaData]:
    """Every table the migrations own: each projection's table set, and the audit trail."""
    from hub.api.audit import metadata as audit_metadata
    from hub.catalog_store import metadata as catalog_metadata
    from hub.operations.dead_letters import metadata as dlq_metadata
    from producers.outbox import metadata as outbox_metadata

    owned = [audit_metadata, catalog_metadata, dlq_metadata, outbox_metadata]
    return [p.metadata for p in all_projections().values()] + owned
