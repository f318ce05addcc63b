"""`hub migrate`: database migrations, then the Kafka topics, so publishers can start."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from hub.bootstrap import database_name, run_async
from hub.operations.refusals import Unreachable
from hub.projections import all_projections
from toolkit.settings import PROJECT_ROOT, Settings
from toolkit.topics import ensure_topics, hub_topics


def alembic_config(database_url: str, erasure_key: str | None = None) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["database_url"] = database_url
    if erasure_key is not None:  # 0011 rehashes stored erasures under it
        config.attributes["erasure_key"] = erasure_key
    config.attributes["configure_logging"] = False
    return config


def upgrade_database(database_url: str, erasure_key: str | None = None) -> None:
    # one branch per projection
    command.upgrade(alembic_config(database_url, erasure_key), "heads")


def migrate(settings: Settings) -> list[str]:
    """Apply migrations (alembic runs its own event loop) and create topics; returns the
    topics created."""
    try:
        upgrade_database(settings.database_url, settings.erasure_key)
    except OSError as exc:  # refused, unknown host: before any migration ran
        raise Unreachable(f"cannot reach the database {database_name(settings)}: "
                          f"{type(exc).__name__}: {exc}") from None
    specs = hub_topics(settings, list(all_projections()))
    return run_async(ensure_topics(settings.kafka_bootstrap, specs), settings)
