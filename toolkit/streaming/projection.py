"""The seam every projection implements, and the position table each one keeps.

A projection declares, in its own folder (`consumers/<name>/projection.py`), what it consumes
(`topics`, `event_types`), what it keeps of a completed session (`session_facts`) and the pure
functions from a learner's state to its rows. The two paths call exactly those (DESIGN, "Two
paths, one set of rules"): the live path (`BatchApplier` -> `apply`) folds each batch into the
stored states and writes the change of rows; the bulk path (`toolkit.streaming.bulk_load`) folds
every learner's whole history once and COPYs the rows of the final states (`bulk`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar, Protocol

from sqlalchemy import BigInteger, Column, DateTime, Integer, MetaData, String, Table, func
from sqlalchemy.ext.asyncio import AsyncConnection

from schemas.registry import AnyEvent
from schemas.session_completed import SessionCompletedV1
from toolkit.lifecycle import LearnerState
from toolkit.settings import Settings

LIFECYCLE_EVENT_TYPES = frozenset(
    {"profiler.session.completed", "profiler.session.invalidated", "learner.erased"}
)


def positions_table(metadata: MetaData, schema: str) -> Table:
    """Next offset to read per partition, written in the projection's own transaction."""
    return Table(
        "positions",
        metadata,
        Column("topic", String(255), primary_key=True),
        Column("partition", Integer, primary_key=True),
        Column("next_offset", BigInteger, nullable=False),
        Column("last_event_at", DateTime(timezone=True)),
        Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        schema=schema,
    )


class BulkRows(Protocol):
    """One projection's rows computed from final learner states (the bulk path).

    Made fresh per rebuild by `Projection.bulk`. It only computes: it never touches the
    database and never raises on data the lifecycle accepted. Rows accumulate in `out`
    (`toolkit.streaming.bulk_fold.TableRows`), which the caller drains (`take`) between passes.
    """

    out: Any

    def learner(self, user_id: str, state: LearnerState[Any], note: Any) -> None:
        """Add every row of one learner: lifecycle tables (sessions, invalidations, erasures)
        and read model. `state` is the learner's final state with facts as `session_facts`
        made them; `note` what `bulk_observe` kept (None without). Called once per learner
        (learners never span passes)."""

    def finish(self, others: Sequence[AnyEvent], erased_at: Mapping[str, datetime]) -> None:
        """Add the rows that are not one learner's (aggregates over every learner given to
        `learner`, assignment fronts from `others`, the non-lifecycle events accepted, in
        arrival order, against `erased_at`, every erased person's latest erasure)."""


class Projection(Protocol):
    """One read model, kept by one consumer group in one PostgreSQL schema (its table set).

    - `topics` and `event_types` say what it consumes; `accepts` is true exactly for those
      types. A record it does not accept is refused (dead-lettered live, counted in bulk).
    - `session_facts` is what it keeps of a completed session: pure, total on any validated
      `SessionCompletedV1`, never raises.
    - `apply` receives decoded, accepted events in partition order, inside the caller's
      transaction, and must not commit. It raises only for faults (database errors; the
      applier retries transient ones and isolates a record that fails otherwise). Applying
      an event twice must have the effect of applying it once (positions already filter
      redeliveries; this is the second guard).
    - `bulk` returns the pure row computation of the bulk path (`BulkRows`); the rows it
      gives for final states are exactly the rows `apply` leaves after the same events, in
      any batches (tests/integration/test_bulk_equivalence.py checks it by checksum).
    - `bulk_observe` (or None) keeps, per learner, what the rows need beyond the lifecycle
      state (mentorship: each invalidation's reason): `(note, events, before, after) -> note`,
      pure, called for each batch that changed the learner's state.
    """

    name: str
    metadata: MetaData
    positions: Table
    # The key erasures are remembered under (Settings.erasure_secret); None: the projection
    # serves for its name, topics and tables, and must not apply events.
    erasure_secret: bytes | None

    @property
    def event_types(self) -> frozenset[str]: ...

    @property
    def bulk_observe(self) -> Any: ...

    def topics(self, settings: Settings) -> list[str]: ...

    def accepts(self, event: AnyEvent) -> bool: ...

    def session_facts(self, data: SessionCompletedV1) -> Any: ...

    async def apply(self, conn: AsyncConnection, events: Sequence[AnyEvent]) -> None: ...

    def bulk(self, now: datetime) -> BulkRows: ...


class LearnerProjection:
    """What the profiler-topic projections share: they consume the learner lifecycle's events
    of the profiler topic, and nothing else."""

    event_types: ClassVar[frozenset[str]] = LIFECYCLE_EVENT_TYPES
    bulk_observe: ClassVar[Any] = None

    def topics(self, settings: Settings) -> list[str]:
        return [settings.profiler_topic]

    def accepts(self, event: AnyEvent) -> bool:
        return event.event_type in self.event_types
