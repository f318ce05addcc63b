"""Reading projections back in tests."""

from __future__ import annotations

import asyncio
import time

import asyncpg


def plain_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def fetch(url: str, sql: str, *args):
    conn = await asyncpg.connect(plain_dsn(url))
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def difficulties(url: str, user_prefix: str = "") -> dict[str, int]:
    rows = await fetch(url, "select user_id, difficulty from missions.difficulty "
                            "where user_id like $1", user_prefix + "%")
    return {r["user_id"]: r["difficulty"] for r in rows}


async def applied_offsets(url: str, schema: str, topic: str) -> int:
    """Sum of next offsets over the topic's partitions: how many records were handled."""
    rows = await fetch(url, f"select coalesce(sum(next_offset), 0) as n from {schema}.positions "
                            "where topic = $1", topic)
    return int(rows[0]["n"])


async def wait_until(predicate, timeout: float = 60.0, interval: float = 0.2, what: str = ""):
    """Poll an async predicate until true or the deadline (never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = await predicate()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}: {last!r}")
