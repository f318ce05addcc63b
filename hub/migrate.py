"""`hub migrate`: database migrations, then the Kafka topics, so publishers can start."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.config import Config

from hub.projections import all_projections
from hub.settings import PROJECT_ROOT, Settings
from hub.topics import ensure_topics, hub_topics


def alembic_config(database_url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logging"] = False
    return config


def upgrade_database(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "heads")  # one branch per projection


def migrate(settings: Settings) -> list[str]:
    """Apply migrations (alembic runs its own event loop) and create topics; returns the
    topics created."""
    upgrade_database(settings.database_url)
    specs = hub_topics(settings, list(all_projections()))
    return asyncio.run(ensure_topics(settings.kafka_bootstrap, specs))
