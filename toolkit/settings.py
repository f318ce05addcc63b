"""Every setting of the hub, read from the environment (prefix ``HUB_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRET = "change-me-local-only-placeholder-secret"
PLACEHOLDER_ERASURE_KEY = "change-me-local-only-placeholder-erasure-key"
# HS256 keys shorter than its 256-bit output fall to offline guessing (RFC 7518 §3.2 asks for
# at least as many bytes as the hash); `openssl rand -hex 32` gives 64.
MIN_SECRET_BYTES = 32
DEFAULT_JWT_MAX_LIFETIME_SECONDS = 86_400
PROJECT_ROOT = Path(__file__).resolve().parents[1]
# Written by `hub stack up`, removed by `hub stack down`. Real environment variables win over it,
# which is how docker-compose and production point the hub elsewhere.
STACK_ENV_FILE = PROJECT_ROOT / ".stack" / "hub.env"


def refuse_weak_secret(name: str, value: str, environment: str) -> None:
    """Raise ValueError saying why `value` may not serve as secret `name` in `environment`.

    Outside `local` a secret needs MIN_SECRET_BYTES bytes, counted without surrounding
    whitespace (so padding cannot lengthen a weak one); in production the placeholder is refused
    too, however it is padded. `local` accepts anything: it signs tokens for a laptop only.
    """
    if environment == "local":
        return
    stripped = value.strip()
    if environment == "production" and stripped == PLACEHOLDER_SECRET:
        raise ValueError(f"{name} is left at its placeholder; set a real secret "
                         f"(at least {MIN_SECRET_BYTES} random bytes, e.g. `openssl rand -hex 32`)")
    size = len(stripped.encode())
    if size < MIN_SECRET_BYTES:
        raise ValueError(
            f"{name} is {size} bytes (surrounding whitespace not counted); outside local it "
            f"must be at least {MIN_SECRET_BYTES}, as a shorter secret falls to an offline guess "
            "(e.g. `openssl rand -hex 32`)"
        )


class SettingsError(ValueError):
    """The environment holds a setting the hub refuses; the message is one line, no values."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUB_", env_file=STACK_ENV_FILE, extra="ignore")

    environment: Literal["local", "test", "production"] = Field(
        "local",
        description="Where the hub runs; outside local, secrets under 32 bytes are refused, and "
        "in production the placeholder too.",
    )
    kafka_bootstrap: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers, host:port[,host:port]."
    )
    database_url: str = Field(
        "postgresql+asyncpg://hub@127.0.0.1:5432/hub",
        description="SQLAlchemy URL of the projections database (asyncpg driver).",
    )
    profiler_topic: str = Field("profiler.events", description="Topic of profiler facts.")
    mentorship_topic: str = Field(
        "mentorship.assignments", description="Topic of mentor assignment changes."
    )
    # --- upstream outbox and `hub relay` (producers/relay.py) ---
    outbox_database_url: str = Field(
        "",
        description="Database(s) holding the producers' outbox that `hub relay` publishes and "
        "`hub status` reports: a SQLAlchemy or libpq URL, several separated by commas (one per "
        "producer); empty: the hub's own database (HUB_DATABASE_URL).",
    )
    outbox_retention_hours: float = Field(
        168.0,
        ge=0,
        description="The relay deletes outbox rows sent longer ago than this (0: never).",
    )
    outbox_prune_batch: int = Field(
        5000, ge=1, description="Most sent outbox rows one pruning transaction deletes."
    )
    relay_metrics_port: int = Field(
        0, ge=0, description="Prometheus port of `hub relay` (0: none)."
    )
    topic_partitions: int = Field(
        6, ge=1, description="Partitions of topics `hub migrate` creates."
    )
    topic_retention_ms: int = Field(
        -1, description="retention.ms of created topics; -1 keeps events forever (replayable)."
    )
    group_prefix: str = Field(
        "hub", description="Consumer group of a projection is `<prefix>-<consumer>`."
    )
    dead_letter_suffix: str = Field(
        ".dlq", description="A consumer's dead-letter topic is `hub.<consumer>` + this suffix."
    )
    max_event_bytes: int = Field(
        1_048_576, description="Events larger than this are dead-lettered (CONTRACT: 1 MiB)."
    )
    batch_size: int = Field(
        1000, ge=1, description="Most events a worker applies in one transaction."
    )
    batch_interval_ms: float = Field(
        40.0,
        ge=0,
        description="Under load, a live worker starts a batch at most this often, so the "
        "events arriving meanwhile share one transaction; a lone event never waits.",
    )
    session_timeout_seconds: float = Field(
        10.0,
        ge=6,
        description="Kafka group session timeout: how soon a dead worker's "
        "partitions move to a live one.",
    )
    retry_initial_seconds: float = Field(
        0.2, gt=0, description="First backoff of a transient fault."
    )
    retry_max_seconds: float = Field(
        10.0, gt=0, description="Longest backoff of a transient fault."
    )
    jwt_secret: str = Field(
        PLACEHOLDER_SECRET,
        description="HS256 secret that signs read-API bearer tokens; outside local at least "
        "32 bytes, and not the placeholder in production.",
    )
    jwt_max_lifetime_seconds: int = Field(
        DEFAULT_JWT_MAX_LIFETIME_SECONDS,
        ge=1,
        description="Longest a token may live: one whose `exp` lies further than this from now "
        "(or from its `iat`) is refused, so a leaked long-lived token is worthless.",
    )
    erasure_key: str = Field(
        PLACEHOLDER_ERASURE_KEY,
        description="HMAC secret under which erased learners are remembered (at least 32 "
        "bytes outside local); changing it forgets past erasures unless rows are rehashed.",
    )
    api_host: str = Field("127.0.0.1", description="Address `hub api` binds by default.")
    api_port: int = Field(8000, description="Port `hub api` binds by default.")
    api_header_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description="`hub api` closes a connection whose request line and headers have not all "
        "arrived this long after it opened (or after the request's first byte): slow clients "
        "cannot hold connections open.",
    )
    worker_metrics_port: int = Field(
        0,
        ge=0,
        description="Prometheus port of `hub worker NAME` (0: none); `--all` gives the i-th "
        "consumer this port + i.",
    )
    audit_max_denials_per_minute: int = Field(
        60,
        ge=1,
        description="Refused reads recorded per principal and minute by one API process; the "
        "rest are counted (metric hub_audit_denials_total{outcome=\"suppressed\"} and the "
        "`suppressed` column of the principal's next record).",
    )
    audit_retention_days: int = Field(
        90, ge=1, description="`hub audit prune` deletes access denials older than this."
    )
    # --- read API: replica and read-your-writes ---
    read_database_url: str = Field(
        "",
        description="Database the read API reads projections from, e.g. a PostgreSQL streaming "
        "replica (empty: HUB_DATABASE_URL). Positions replicate in the same transaction as "
        "rows, so consistency tokens hold there too; refused requests are still audited on "
        "the primary.",
    )
    api_pool_size: int = Field(
        32,
        ge=1,
        description="Database connections per `hub api` process (no overflow): about the "
        "concurrent requests one process serves; mind PostgreSQL's max_connections × workers.",
    )
    api_max_wait_ms: int = Field(
        5000,
        ge=0,
        description="Longest a read waits for a `Hub-Min-Position` token (`wait_ms` is capped "
        "to this).",
    )
    api_positions_poll_ms: int = Field(
        100,
        ge=10,
        description="On a replica (no NOTIFY there), how often each API process re-reads the "
        "projections' positions to wake waiting reads.",
    )
    log_level: str = Field("INFO", description="Log level of JSON logs.")

    @model_validator(mode="after")
    def _refuse_weak_secrets(self) -> Settings:
        refuse_weak_secret("HUB_JWT_SECRET", self.jwt_secret, self.environment)
        # A known or short erasure key would let anyone recompute erased learners' hashes from
        # guessed ids: its placeholder serves local runs only (the suite sets a test key).
        refuse_weak_secret("HUB_ERASURE_KEY", self.erasure_key, self.environment)
        if self.environment != "local" and self.erasure_key.strip() == PLACEHOLDER_ERASURE_KEY:
            raise ValueError("HUB_ERASURE_KEY is left at its placeholder; set a real secret "
                             "(e.g. `openssl rand -hex 32`)")
        return self

    @property
    def erasure_secret(self) -> bytes:
        """`erasure_key` as the bytes HMAC takes."""
        return self.erasure_key.encode()

    def dead_letter_topic(self, consumer: str) -> str:
        return f"hub.{consumer}{self.dead_letter_suffix}"


def describe_errors(exc: ValidationError) -> str:
    """One line naming each refused variable and why, never its value (it may be a secret)."""
    parts = []
    for error in exc.errors():
        message = error["msg"].removeprefix("Value error, ")
        loc = ".".join(str(p) for p in error["loc"])
        parts.append(f"HUB_{loc.upper()}: {message}" if loc else message)
    return "; ".join(parts)


@lru_cache
def get_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError(describe_errors(exc)) from None
