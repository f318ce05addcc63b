"""`hub relay`: publishes the outbox to Kafka, marking rows sent only once Kafka has them.

One batch is one database transaction: claim pending rows (`FOR UPDATE SKIP LOCKED`, oldest
first), publish them with the idempotent, acks=all `Publisher`, await every acknowledgement,
set `sent_at` and commit. A failure anywhere rolls the transaction back, so the rows stay
pending and are retried with backoff: a Kafka outage only delays events. A crash after publish
and before commit publishes the batch again; the copies keep their `event_id`, and consumers
apply an event once.

Per-key order with several relays at once: a relay first takes the transaction-scoped advisory
lock of each key it will publish (`pg_try_advisory_xact_lock(hashtext(key))`, tried in id order
over pending rows, skipping keys another relay holds: that is what lets relays work side by
side), and only then selects and locks (`FOR UPDATE`) the pending rows of the keys it holds,
oldest first. So one key is published by one relay at a time; the row select runs after the
lock is held, so it sees the key's oldest pending row whatever the previous holder did (it
released the key only by committing its rows as sent or rolling them back to pending); and
each row of a key is acknowledged before the next is published.

Each row is published in the trace its producer was in when it enqueued it (the row's
`trace_context`): the publish span is a child of it, and the record's `traceparent` names that
span (`toolkit.tracing`). A plain `SKIP LOCKED` on rows
alone would not keep order: a second relay would skip a key's locked older row and publish a
newer one. (Rows are ordered by id, i.e. by insert time: two business transactions writing
the same key concurrently are in order only among the rows committed when a relay looks.)

Where the outbox lives: in the producer's own database (`HUB_OUTBOX_DATABASE_URL`; empty means
the hub's database, as in the demo). Several producers, several outboxes: list their URLs
separated by commas and one `hub relay` serves them all, one loop and one connection pool
each (or run one relay per producer with `--database-url`). Besides relaying, each loop prunes
rows sent longer ago than `HUB_OUTBOX_RETENTION_HOURS`, in batches of `HUB_OUTBOX_PRUNE_BATCH`
on a connection of its own (`SKIP LOCKED`, so it never waits for nor blocks the relay), and
keeps the Prometheus figures below current (`HUB_RELAY_METRICS_PORT`); `hub status` shows the
same figures (`outbox_figures`).
"""

from __future__ import annotations

import asyncio
import logging
import random
import signal
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiokafka.errors import KafkaError
from prometheus_client import Counter, Gauge, start_http_server
from sqlalchemy import Select, TextClause, delete, extract, func, literal_column, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from producers.outbox import outbox
from producers.publisher import EventPublisher, Publisher, PublishError, Token
from toolkit import kafka
from toolkit.db import engine_for_url
from toolkit.settings import Settings
from toolkit.streaming.faults import backoff_seconds, is_transient
from toolkit.tracing import attached, context_from

log = logging.getLogger(__name__)

# First key of the two-key advisory lock, so the relay's locks cannot meet another user's.
LOCK_CLASS = 4_808_001
# How often each outbox's pending figures are refreshed, and sent rows pruned.
STATS_EVERY_SECONDS = 5.0
PRUNE_EVERY_SECONDS = 60.0

PUBLISHED = Counter("hub_outbox_published_total", "Outbox rows published and marked sent",
                    ["outbox"])
PUBLISH_ERRORS = Counter("hub_outbox_publish_errors_total",
                         "Relay batches that failed (rows left pending, retried)", ["outbox"])
PENDING = Gauge("hub_outbox_pending_rows", "Outbox rows not yet published", ["outbox"])
OLDEST_PENDING_AGE = Gauge("hub_outbox_oldest_pending_age_seconds",
                           "Age of the oldest pending outbox row (0: none pending)", ["outbox"])
PRUNED = Counter("hub_outbox_pruned_total", "Sent outbox rows deleted after the retention",
                 ["outbox"])


class OutboxConfigError(Exception):
    """An outbox URL that cannot work, or a database without the outbox table: the operator's
    to fix (one line, exit 2), never retried."""


def async_url(url: str) -> str:
    """A PostgreSQL URL (libpq `postgresql://`, `postgres://`, or SQLAlchemy with any driver)
    as the asyncpg URL the relay uses."""
    try:
        parsed = make_url(url.strip())
    except ArgumentError:
        raise OutboxConfigError(f"not a database URL: {_redacted(url)!r}") from None
    if parsed.get_backend_name() not in ("postgresql", "postgres"):
        raise OutboxConfigError(f"the outbox must be in PostgreSQL, not {parsed.drivername!r}")
    if not parsed.database:
        raise OutboxConfigError(f"no database name in {_redacted(url)!r}")
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def _redacted(url: str) -> str:
    try:
        return make_url(url.strip()).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable>"


def outbox_name(url: str) -> str:
    """How metrics and `hub status` name an outbox: host:port/database (no credentials)."""
    parsed = make_url(url)
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database}"


def outbox_urls(settings: Settings, override: Sequence[str] = ()) -> list[str]:
    """The outbox databases to relay: `override` (the command line), else
    `HUB_OUTBOX_DATABASE_URL` (comma-separated), else the hub's own database."""
    raw = [u for u in override if u.strip()] or [
        u for u in settings.outbox_database_url.split(",") if u.strip()
    ]
    urls = [async_url(u) for u in raw] or [async_url(settings.database_url)]
    return list(dict.fromkeys(urls))


def outbox_engine(url: str, pool_size: int = 2) -> AsyncEngine:
    return engine_for_url(url, pool_size=pool_size, max_overflow=0, pre_ping=True)


async def outbox_figures(conn: AsyncConnection) -> dict[str, Any]:
    """Pending rows, the oldest pending row's age and the newest send, from both partial
    indexes; raises `OutboxConfigError` when the database has no outbox table."""
    installed = (await conn.execute(text("SELECT to_regclass('hub_outbox.outbox')"))).scalar()
    if installed is None:
        raise OutboxConfigError(
            "no hub_outbox.outbox table in this database: run `hub outbox install "
            "--database-url …` or, in the Django project, `manage.py migrate` with "
            "profiler_hub_kit.django installed"
        )
    pending, age = (await conn.execute(
        select(func.count(),
               extract("epoch", func.now() - func.min(outbox.c.created_at)))
        .where(outbox.c.sent_at.is_(None))
    )).one()
    last_sent = (await conn.execute(select(func.max(outbox.c.sent_at)))).scalar()
    return {
        "pending": int(pending),
        "oldest_pending_age_seconds": round(float(age), 3) if age is not None else None,
        "last_sent_at": last_sent.isoformat() if last_sent else None,
    }


async def prune_sent(engine: AsyncEngine, retention: timedelta, batch: int) -> int:
    """Deletes rows sent more than `retention` ago, oldest first, `batch` rows per short
    transaction (`SKIP LOCKED`: never waits on a row another transaction holds); returns how
    many it deleted."""
    total = 0
    while True:
        doomed = (
            select(outbox.c.id)
            .where(outbox.c.sent_at.is_not(None), outbox.c.sent_at < func.now() - retention)
            .order_by(outbox.c.sent_at)
            .limit(batch)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        async with engine.begin() as conn:
            deleted = (await conn.execute(delete(outbox).where(outbox.c.id.in_(doomed)))).rowcount
        total += deleted
        if deleted < batch:
            return total
        await asyncio.sleep(0)  # let the relay's own work interleave


@dataclass(frozen=True)
class Pending:
    id: int
    topic: str
    key: str
    value: bytes
    headers: dict[str, str]
    trace_context: dict[str, str] | None = None


def lock_keys(limit: int) -> Select[Any]:
    """Keys of the oldest pending rows, up to `limit` rows, whose advisory lock this transaction
    took. The sort sits behind `OFFSET 0` (a planner fence), so the lock is tried row by row in
    id order and only until `limit` rows qualified, whatever plan PostgreSQL picks."""
    ordered = (
        select(outbox.c.id, outbox.c.key)
        .where(outbox.c.sent_at.is_(None))
        .order_by(outbox.c.id)
        .offset(literal_column("0"))
        .subquery("ordered")
    )
    return (
        select(ordered.c.key)
        .where(func.pg_try_advisory_xact_lock(LOCK_CLASS, func.hashtext(ordered.c.key)))
        .limit(limit)
    )


def claim(keys: set[str], limit: int) -> Select[Any]:
    """The oldest pending rows of keys this transaction holds, locked until commit."""
    return (
        select(outbox.c.id, outbox.c.topic, outbox.c.key, outbox.c.value, outbox.c.headers,
               outbox.c.trace_context)
        .where(outbox.c.sent_at.is_(None), outbox.c.key.in_(keys))
        .order_by(outbox.c.id)
        .limit(limit)
        .with_for_update()
    )


def in_key_order(rows: Iterable[Pending]) -> dict[str, list[Pending]]:
    """The claimed rows per key, in id order."""
    by_key: dict[str, list[Pending]] = {}
    for row in sorted(rows, key=lambda r: r.id):
        by_key.setdefault(row.key, []).append(row)
    return by_key


async def publish_in_order(publisher: EventPublisher,
                           by_key: dict[str, list[Pending]]) -> dict[int, Token]:
    """Publishes each key's rows one after another (each acknowledged before the next), keys
    side by side; returns each published row's consistency token by row id; raises
    `PublishError` once every key has settled if any publish failed."""
    tokens: dict[int, Token] = {}

    async def one_key(rows: Sequence[Pending]) -> None:
        for row in rows:
            headers = [(name, value.encode()) for name, value in row.headers.items()]
            with attached(context_from(row.trace_context)):
                metadata = await publisher.publish(row.topic, row.key, row.value, headers)
            if metadata is not None:  # a test double may acknowledge without a position
                tokens[row.id] = Token.of(metadata)

    outcomes = await asyncio.gather(*(one_key(rs) for rs in by_key.values()),
                                    return_exceptions=True)
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    if errors:
        raise PublishError(errors, len(by_key)) from errors[0]
    return tokens


async def relay_batch(engine: AsyncEngine, publisher: EventPublisher, limit: int) -> int:
    """One transaction: lock keys, claim up to `limit` of their rows, publish, mark them sent
    with where each landed (its consistency token, `producers.outbox.position_of`); returns
    how many rows it published."""
    async with engine.begin() as conn:
        keys = set((await conn.execute(lock_keys(limit))).scalars())
        if not keys:
            return 0
        rows = [Pending(*r) for r in (await conn.execute(claim(keys, limit))).all()]
        tokens = await publish_in_order(publisher, in_key_order(rows))
        if rows:
            await conn.execute(mark_sent(), {
                "ids": [row.id for row in rows],
                "partitions": [getattr(tokens.get(row.id), "partition", None) for row in rows],
                "offsets": [getattr(tokens.get(row.id), "offset", None) for row in rows]})
        return len(rows)


def mark_sent() -> TextClause:
    """Every claimed row sent, with its partition and offset: one statement for the batch."""
    return text(
        f"UPDATE {outbox.fullname} AS o SET sent_at = now(), sent_partition = s.sent_partition, "
        "sent_offset = s.sent_offset FROM unnest(CAST(:ids AS bigint[]), CAST(:partitions AS "
        "integer[]), CAST(:offsets AS bigint[])) AS s(row_id, sent_partition, sent_offset) "
        "WHERE o.id = s.row_id")


async def _refresh_figures(engine: AsyncEngine, name: str) -> None:
    try:
        async with engine.connect() as conn:
            figures = await outbox_figures(conn)
    except Exception as exc:  # figures are best effort; the relay loop reports real faults
        log.debug("outbox figures of %s unavailable: %r", name, exc)
        return
    PENDING.labels(name).set(figures["pending"])
    OLDEST_PENDING_AGE.labels(name).set(figures["oldest_pending_age_seconds"] or 0)


async def _prune(engine: AsyncEngine, settings: Settings, name: str) -> None:
    if settings.outbox_retention_hours <= 0:
        return
    try:
        pruned = await prune_sent(engine, timedelta(hours=settings.outbox_retention_hours),
                                  settings.outbox_prune_batch)
    except Exception as exc:  # pruning retries next round; it never stops the relay
        log.warning("pruning sent outbox rows of %s failed; retrying later: %r", name, exc)
        return
    if pruned:
        PRUNED.labels(name).inc(pruned)
        log.info("pruned %d sent outbox rows of %s", pruned, name)


async def _housekeeping(engine: AsyncEngine, settings: Settings, name: str,
                        stop: asyncio.Event) -> None:
    """Figures every few seconds and pruning every minute, beside the relay loop (its own
    connection), until `stop`."""
    loop = asyncio.get_running_loop()
    next_prune = loop.time()
    while not stop.is_set():
        await _refresh_figures(engine, name)
        if loop.time() >= next_prune:
            await _prune(engine, settings, name)
            next_prune = loop.time() + PRUNE_EVERY_SECONDS
        await _wait(stop, STATS_EVERY_SECONDS)


async def run_relay(
    settings: Settings,
    stop: asyncio.Event,
    *,
    batch: int = 500,
    once: bool = False,
    interval: float = 1.0,
    request_timeout_ms: int = 10_000,
    database_url: str | None = None,
) -> int:
    """Relays one outbox (`database_url`, default the first of `outbox_urls`) until `stop` is
    set (or, with `once`, until nothing is left to claim, then prunes once); returns how many
    rows it published. Kafka and database faults are retried with backoff; a database without
    the outbox table raises `OutboxConfigError`."""
    url = async_url(database_url) if database_url else outbox_urls(settings)[0]
    name = outbox_name(url)
    engine = outbox_engine(url)
    publisher: Publisher | None = None
    rng = random.Random()
    attempt = sent = 0
    checked = False
    housekeeping: asyncio.Task[None] | None = None
    if not once:
        housekeeping = asyncio.create_task(_housekeeping(engine, settings, name, stop))
    try:
        while not stop.is_set():
            try:
                if not checked:
                    async with engine.connect() as conn:
                        try:
                            await outbox_figures(conn)
                        except OutboxConfigError as exc:
                            raise OutboxConfigError(f"{name}: {exc}") from None
                    if once:  # a drain that cannot finish says so now, not after timeouts
                        _refuse_missing(name, settings, await _missing_topics(engine, settings))
                    checked = True
                if publisher is None:
                    publisher = Publisher(settings.kafka_bootstrap, client_id="profiler-hub-relay",
                                          request_timeout_ms=request_timeout_ms)
                    await publisher.start()
                published = await relay_batch(engine, publisher, batch)
            except Exception as exc:
                if not (isinstance(exc, (KafkaError, PublishError)) or is_transient(exc)):
                    raise
                kafka_fault = isinstance(exc, (KafkaError, PublishError))
                missing = await _missing_topics(engine, settings) if kafka_fault else []
                if once:  # nothing would change by retrying: say so and stop
                    _refuse_missing(name, settings, missing)
                PUBLISH_ERRORS.labels(name).inc()
                delay = backoff_seconds(attempt, settings.retry_initial_seconds,
                                        settings.retry_max_seconds, rng)
                attempt += 1
                log.warning("relay batch of %s failed, rows stay pending; retrying in %.1fs: %r%s",
                            name, delay, exc,
                            f" (no such topic: {', '.join(missing)})" if missing else "")
                # A fresh producer after a failure: no half-failed idempotence state carried on.
                await _discard(publisher)
                publisher = None
                await _wait(stop, delay)
                continue
            attempt = 0
            sent += published
            if published:
                PUBLISHED.labels(name).inc(published)
            if published == 0 and once:
                await _prune(engine, settings, name)
                await _refresh_figures(engine, name)
                break
            if published < batch and not once:
                await _wait(stop, interval)
    finally:
        if housekeeping is not None:
            housekeeping.cancel()
            await asyncio.gather(housekeeping, return_exceptions=True)
        await _discard(publisher)
        await engine.dispose()
    return sent


def _refuse_missing(name: str, settings: Settings, missing: list[str]) -> None:
    if missing:
        raise OutboxConfigError(
            f"{name}: pending rows are for {', '.join(missing)}, which the broker at "
            f"{settings.kafka_bootstrap} does not have: create the topic (`hub migrate` "
            "creates the hub's); the rows stay pending")


async def _missing_topics(engine: AsyncEngine, settings: Settings) -> list[str]:
    """Topics of pending rows that the broker does not have (empty if it cannot tell)."""
    try:
        async with engine.connect() as conn:
            wanted = set((await conn.execute(text(
                f"SELECT DISTINCT topic FROM {outbox.fullname} WHERE sent_at IS NULL"))).scalars())
        client = kafka.admin(settings.kafka_bootstrap)
        try:
            await client.start()
            existing = set(await client.list_topics())
        finally:
            await client.close()
    except Exception as exc:  # the broker or database being away is the other failure
        log.debug("cannot tell whether the outbox's topics exist: %r", exc)
        return []
    return sorted(wanted - existing)


async def run_relays(settings: Settings, stop: asyncio.Event, urls: Sequence[str],
                     **options: Any) -> int:
    """One relay loop per outbox database, side by side; returns the rows published. A loop
    that fails for good (`OutboxConfigError`) stops the others and is raised."""
    tasks = [asyncio.create_task(run_relay(settings, stop, database_url=url, **options))
             for url in urls]
    try:
        return sum(await asyncio.gather(*tasks))
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _discard(publisher: Publisher | None) -> None:
    if publisher is not None:
        try:
            await publisher.stop()
        except Exception as exc:  # the broker being away is why we discard it
            log.warning("closing the relay's producer failed: %r", exc)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass


def serve(settings: Settings, *, batch: int, once: bool, interval: float,
          database_urls: Sequence[str] = ()) -> int:
    """Runs the relay of every outbox (`outbox_urls`) in this process until SIGTERM/SIGINT (or
    drained, with `once`), with its Prometheus endpoint when `HUB_RELAY_METRICS_PORT` is set."""
    urls = outbox_urls(settings, database_urls)
    if settings.relay_metrics_port and not once:
        start_http_server(settings.relay_metrics_port, addr=settings.api_host)

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        return await run_relays(settings, stop, urls, batch=batch, once=once, interval=interval)

    return asyncio.run(main())
