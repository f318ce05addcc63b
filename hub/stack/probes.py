"""Protocol-level health checks: does Kafka answer metadata, does PostgreSQL answer ``select 1``.

An open port is not readiness (Kafka accepts connections before it serves requests), so
these speak the real protocols. They are sync for the CLI and fixtures, and run their
coroutine in a private thread when the caller is already inside an event loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar
from urllib.parse import urlsplit

from hub.stack.ports import port_accepts

T = TypeVar("T")


def run_sync(factory: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion whether or not an event loop is running in this thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_as_coro(factory))
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(_as_coro(factory))
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="hub-stack-probe", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


async def _as_coro(factory: Callable[[], Awaitable[T]]) -> T:
    return await factory()


def _first_address(bootstrap: str) -> tuple[str, int]:
    host, _, port = bootstrap.split(",")[0].strip().rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


def asyncpg_dsn(database_url: str) -> str:
    """The SQLAlchemy URL without its ``+driver`` part, as asyncpg wants it."""
    scheme, sep, rest = database_url.partition("://")
    return scheme.split("+")[0] + sep + rest


def check_kafka(bootstrap: str, timeout: float = 5.0) -> str | None:
    """None when a broker answers metadata and lists itself; otherwise why not."""
    host, port = _first_address(bootstrap)
    if not port_accepts(port, host):
        return f"nothing listens on {host}:{port}"

    async def probe() -> str | None:
        from aiokafka.admin import AIOKafkaAdminClient

        admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000)
        )
        try:
            await asyncio.wait_for(admin.start(), timeout)
            cluster = await asyncio.wait_for(admin.describe_cluster(), timeout)
        finally:
            await admin.close()
        return None if cluster.get("brokers") else "metadata lists no broker yet"

    try:
        return run_sync(probe)
    except Exception as exc:  # any failure means "not reachable"
        return f"{type(exc).__name__}: {exc}"


def check_postgres(database_url: str, timeout: float = 5.0) -> str | None:
    """None when the database answers ``select 1``; otherwise why not."""
    parts = urlsplit(asyncpg_dsn(database_url))
    if parts.port and not port_accepts(parts.port, parts.hostname or "127.0.0.1"):
        return f"nothing listens on {parts.hostname}:{parts.port}"

    async def probe() -> str | None:
        import asyncpg

        conn = await asyncpg.connect(asyncpg_dsn(database_url), timeout=timeout)
        try:
            value = await conn.fetchval("select 1", timeout=timeout)
        finally:
            await conn.close()
        return None if value == 1 else f"select 1 returned {value!r}"

    try:
        return run_sync(probe)
    except Exception as exc:  # any failure means "not reachable"
        return f"{type(exc).__name__}: {exc}"
