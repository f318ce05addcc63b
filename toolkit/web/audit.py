"""The audit trail of refused reads (CONTRACT: every 403 is logged for audit).

Bounded on every axis a caller controls: each record's text is capped, records are
rate-limited per principal (the refusals beyond the limit are counted, never dropped
silently), and `hub audit prune` deletes records past the retention period.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode

from prometheus_client import Counter
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from toolkit.web.auth import Principal

SCHEMA = "hub_audit"
MAX_PRINCIPAL_CHARS = 200
MAX_RESOURCE_CHARS = 1024
MAX_REASON_CHARS = 500
# "…[+N chars]" never takes more than this: 3 + 20 digits + 7.
_CUT_MARKER_CHARS = 32

metadata = MetaData()

access_denials = Table(
    "access_denials",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("principal", String(MAX_PRINCIPAL_CHARS), nullable=False),
    Column("roles", ARRAY(String(32)), nullable=False),
    Column("resource", String(MAX_RESOURCE_CHARS), nullable=False),
    Column("reason", Text, nullable=False),
    # Refusals of this principal not recorded since its previous record (rate limit).
    Column("suppressed", Integer, nullable=False, server_default="0"),
    Index("ix_access_denials_at", "at"),
    schema=SCHEMA,
)

DENIALS = Counter(
    "hub_audit_denials_total",
    "Refused reads: recorded, suppressed by the per-principal rate limit (counted in the "
    "principal's next record), or failed to record",
    ["outcome"],
)

log = logging.getLogger("hub.audit")


def capped(text: str, limit: int) -> str:
    """`text` when it fits, else its head and how many characters were cut."""
    if len(text) <= limit:
        return text
    keep = limit - _CUT_MARKER_CHARS
    return f"{text[:keep]}…[+{len(text) - keep} chars]"


def principal_label(user_id: str) -> str:
    """The `sub` as stored: capped, with a digest so long subs stay distinct."""
    if len(user_id) <= MAX_PRINCIPAL_CHARS:
        return user_id
    digest = hashlib.sha256(user_id.encode()).hexdigest()[:16]
    suffix = f"…[{len(user_id)} chars, sha256 {digest}]"
    return user_id[: MAX_PRINCIPAL_CHARS - len(suffix)] + suffix


def audit_resource(resource: str, known_parameters: Iterable[str]) -> str:
    """The path and the parameters the endpoint declares, capped. Other parameters mean
    nothing to the endpoint; only their number is kept."""
    path, _, query = resource.partition("?")
    known = set(known_parameters)
    items = parse_qsl(query, keep_blank_values=True)
    kept = [(name, value) for name, value in items if name in known]
    text = f"{path}?{urlencode(kept, safe=':,')}" if kept else path
    dropped = len(items) - len(kept)
    note = f" [+{dropped} unknown parameters]" if dropped else ""
    return capped(text, MAX_RESOURCE_CHARS - len(note)) + note


class DenialRateLimit:
    """At most `per_minute` records a minute per principal (a token bucket, so a burst of
    `per_minute` passes); the refusals beyond are counted and reported with the principal's
    next record. Remembers the `max_principals` most recently refused principals."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic,
                 max_principals: int = 10_000) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self.max_principals = max_principals
        # principal -> (tokens, when they were counted, refusals not recorded yet)
        self._buckets: OrderedDict[str, tuple[float, float, int]] = OrderedDict()

    def admit(self, principal: str) -> int | None:
        """None: do not record this refusal (it is counted). Otherwise record it, with the
        returned number of this principal's refusals suppressed since its previous record."""
        now = self.clock()
        tokens, then, suppressed = self._buckets.pop(principal, (self.per_minute, now, 0))
        tokens = min(self.per_minute, tokens + (now - then) * self.per_minute / 60)
        if tokens < 1:
            self._remember(principal, (tokens, now, suppressed + 1))
            return None
        self._remember(principal, (tokens - 1, now, 0))
        return suppressed

    def unrecorded(self, principal: str, refusals: int) -> None:
        """A record failed: carry its refusals over to the principal's next record."""
        if principal in self._buckets:
            tokens, then, suppressed = self._buckets[principal]
            self._buckets[principal] = (tokens, then, suppressed + refusals)

    def _remember(self, principal: str, bucket: tuple[float, float, int]) -> None:
        self._buckets[principal] = bucket
        while len(self._buckets) > self.max_principals:
            self._buckets.popitem(last=False)  # their counts stay in the metric


@dataclass(frozen=True, slots=True)
class Denial:
    principal: str
    roles: list[str]
    resource: str
    reason: str
    suppressed: int

    @classmethod
    def of(cls, principal: Principal, resource: str, known_parameters: Iterable[str],
           reason: str, suppressed: int) -> Denial:
        return cls(principal_label(principal.user_id), sorted(principal.roles),
                   audit_resource(resource, known_parameters),
                   capped(reason, MAX_REASON_CHARS), suppressed)


async def record_denial(conn: AsyncConnection, denial: Denial) -> bool:
    """Log the refusal and write it in a transaction of its own on `conn`, the refused
    request's connection: a refusal never waits for a second pooled connection while holding
    one. The request's reads so far are rolled back; it is refused, it writes nothing else.
    False when the write failed (logged, counted, never with the statement's parameters)."""
    log.warning("access denied", extra={
        "principal": denial.principal, "roles": denial.roles, "resource": denial.resource,
        "reason": denial.reason, "suppressed": denial.suppressed})
    try:
        if conn.in_transaction():
            await conn.rollback()
        async with conn.begin():
            await conn.execute(insert(access_denials).values(
                principal=denial.principal, roles=denial.roles, resource=denial.resource,
                reason=denial.reason, suppressed=denial.suppressed))
    except SQLAlchemyError as exc:
        DENIALS.labels("failed").inc()
        cause = getattr(exc, "orig", None) or exc
        log.error("access denial not recorded",
                  extra={"principal": denial.principal, "error": type(cause).__name__})
        return False
    DENIALS.labels("recorded").inc()
    return True


@dataclass(frozen=True, slots=True)
class Pruned:
    deleted: int
    batches: int
    cutoff: datetime


async def prune_denials(engine: AsyncEngine, older_than_days: int,
                        batch_size: int = 10_000) -> Pruned:
    """Delete records older than the cutoff (by the database's clock), one transaction per
    batch so neither locks nor the write-ahead log grow with the backlog."""
    async with engine.connect() as conn:
        cutoff = (await conn.execute(
            select(func.now() - timedelta(days=older_than_days)))).scalar_one()
    t = access_denials
    deleted = batches = 0
    while True:
        async with engine.begin() as conn:
            doomed = select(t.c.id).where(t.c.at < cutoff).order_by(t.c.id).limit(batch_size)
            count = (await conn.execute(delete(t).where(t.c.id.in_(doomed)))).rowcount
        batches += 1
        deleted += count
        if count < batch_size:
            return Pruned(deleted, batches, cutoff)
