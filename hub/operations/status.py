"""`hub status`: per consumer its group state, lag per partition, freshness, dead letters; per
producer outbox its pending rows and their oldest age."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, text

from hub.bootstrap import Hub
from hub.projections import all_projections
from toolkit.kafka import group_states
from toolkit.lag import EndOffsets, lag_by_partition, stored_positions
from toolkit.settings import Settings
from toolkit.streaming.faust_app import group_id


async def collect(hub: Hub) -> dict[str, Any]:
    settings, engine = hub.settings, hub.engine
    projections = all_projections()
    groups = {name: group_id(p, settings) for name, p in projections.items()}
    states = await group_states(settings.kafka_bootstrap, list(groups.values()))
    consumers: dict[str, Any] = {}
    kafka = EndOffsets(settings.kafka_bootstrap)  # one client for every topic
    try:
        for name, projection in projections.items():
            ends = await kafka.read(projection.topics(settings))
            done = await stored_positions(engine, projection)
            lag = lag_by_partition(ends, done)
            async with engine.connect() as conn:
                positions = projection.positions
                newest = (
                    await conn.execute(
                        select(func.max(positions.c.last_event_at)).where(
                            positions.c.topic.in_(projection.topics(settings))
                        )
                    )
                ).scalar()
                rebuilding = (
                    await conn.execute(
                        select(func.count())
                        .select_from(text("information_schema.schemata"))
                        .where(text("schema_name = :s"))
                        .params(s=f"{positions.schema}_rebuild")
                    )
                ).scalar_one() > 0
            dead_topic = settings.dead_letter_topic(name)
            dead = await kafka.read([dead_topic])
            consumers[name] = {
                "group": groups[name],
                "group_state": states.get(groups[name], {}).get("state", "Unknown"),
                "members": states.get(groups[name], {}).get("members", 0),
                "lag_total": sum(lag.values()),
                "lag": {f"{t}:{p}": n for (t, p), n in sorted(lag.items())},
                "newest_event_applied": newest.isoformat() if newest else None,
                "dead_letter_topic": dead_topic,
                "dead_letters": sum(dead.values()),
                "rebuild_in_progress": rebuilding,
            }
    finally:
        await kafka.close()
    return {"at": hub.clock().isoformat(), "consumers": consumers,
            "outboxes": await outbox_status(settings)}


async def outbox_status(settings: Settings) -> dict[str, Any]:
    """Per outbox database (`HUB_OUTBOX_DATABASE_URL`): pending rows, the oldest pending row's
    age, the newest send (the relay's figures, `producers.relay.outbox_figures`), or why they
    could not be read."""
    from producers.relay import (
        OutboxConfigError,
        outbox_engine,
        outbox_figures,
        outbox_name,
        outbox_urls,
    )

    result: dict[str, Any] = {}
    try:
        urls = outbox_urls(settings)
    except OutboxConfigError as exc:
        return {"HUB_OUTBOX_DATABASE_URL": {"error": str(exc)}}
    for url in urls:
        engine = outbox_engine(url, pool_size=1)
        try:
            async with engine.connect() as conn:
                result[outbox_name(url)] = await outbox_figures(conn)
        except Exception as exc:  # status reports; it does not fail on one unreachable outbox
            result[outbox_name(url)] = {"error": " ".join(str(exc).split())[:200]}
        finally:
            await engine.dispose()
    return result


def render(status: dict[str, Any]) -> str:
    lines = [f"status at {status['at']}"]
    header = (
        f"{'consumer':12} {'group state':12} {'members':>7} {'lag':>8} {'dead':>6}  newest event"
    )
    lines.append(header)
    for name, c in status["consumers"].items():
        lines.append(
            f"{name:12} {c['group_state']:12} {c['members']:>7} {c['lag_total']:>8} "
            f"{c['dead_letters']:>6}  {c['newest_event_applied'] or '-'}"
            + ("  REBUILDING" if c["rebuild_in_progress"] else "")
        )
        behind = {tp: n for tp, n in c["lag"].items() if n}
        if behind:
            lines.append(
                "             lag by partition: "
                + ", ".join(f"{tp}={n}" for tp, n in behind.items())
            )
    outboxes = status.get("outboxes") or {}
    if outboxes:
        lines.append(f"{'outbox':40} {'pending':>8} {'oldest pending':>15}  last sent")
        for name, o in outboxes.items():
            if "error" in o:
                lines.append(f"{name:40} unavailable: {o['error']}")
                continue
            age = o["oldest_pending_age_seconds"]
            lines.append(f"{name:40} {o['pending']:>8} {_age(age):>15}  {o['last_sent_at'] or '-'}")
    return "\n".join(lines)


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"
