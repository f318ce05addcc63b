"""A second opinion on every table: the same topics applied once, without any fault, by the
bulk path into a database of its own, then compared with the live run table by table through
an order-independent checksum of each table's rows.

The oracle units (`effects`) say the read models are right; this says every table, the
internal ones included (sessions, invalidations, erasures, per-skill sums, positions), is
exactly what an undisturbed run leaves.
"""

from __future__ import annotations

from hub.projections import all_projections
from tests.support import db
from toolkit.db import create_engine
from toolkit.settings import Settings
from toolkit.streaming.applier import BatchApplier
from toolkit.streaming.bulk import replay_to_end
from toolkit.streaming.dead_letters import DeadLetterSink
from toolkit.streaming.runtime import dead_letter_producer

# Wall-clock stamps, and the occurred_at of whichever event ended a batch: they depend on
# when and in which batches records were applied, not on what was applied.
VOLATILE_COLUMNS = {"updated_at", "last_event_at"}


async def apply_everything(settings: Settings, consumers) -> None:
    """Apply every record of these projections' topics into `settings.database_url`."""
    engine = create_engine(settings)
    producer = dead_letter_producer(settings)
    await producer.start()
    try:
        for name in consumers:
            projection = all_projections(settings)[name]
            sink = DeadLetterSink(producer, settings.dead_letter_topic(name), name)
            applier = BatchApplier(projection, engine, sink, settings)
            await replay_to_end(applier, settings.kafka_bootstrap, projection.topics(settings))
    finally:
        await producer.stop()
        await engine.dispose()


async def table_checksums(database_url: str) -> dict[str, str]:
    """`schema.table` -> md5 of its rows (volatile columns left out) in a canonical order."""
    sums = {}
    for projection in all_projections().values():
        for table in projection.metadata.sorted_tables:
            columns = [c.name for c in table.columns if c.name not in VOLATILE_COLUMNS]
            row = "row(" + ", ".join(f't."{c}"' for c in columns) + ")::text"
            name = f"{table.schema}.{table.name}"
            result = await db.fetch(
                database_url,
                f"select md5(coalesce(string_agg({row}, '|' order by {row}), '')) as h, "
                f"count(*) as n from {name} t")
            sums[name] = f"{result[0]['h']} ({result[0]['n']} rows)"
    return sums


def differing(live: dict[str, str], reference: dict[str, str]) -> list[str]:
    return sorted(t for t in set(live) | set(reference) if live.get(t) != reference.get(t))
