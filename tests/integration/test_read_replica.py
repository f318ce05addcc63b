"""Reads through a real PostgreSQL streaming replica: `hub.stack.api.standby` copies the stack's
PostgreSQL with pg_basebackup -R onto its own port and starts it as a hot standby; `hub api`
reads there (HUB_READ_DATABASE_URL) while the worker writes to the primary. A consistency token
from the outbox still yields the new value on the replica (positions and rows replicate in one
transaction; no NOTIFY reaches a standby, so the API's poller wakes the read), and a refused
request is still audited on the primary. The standby is stopped and deleted afterwards."""

from __future__ import annotations

import asyncpg
import httpx
from sqlalchemy.ext.asyncio import create_async_engine

from hub.stack.api import standby
from producers.outbox import enqueue, position_of
from tests.conftest import settings_env
from tests.support import db
from tests.support.db import plain_dsn
from tests.support.events import completed
from tests.support.procs import HubProcess, free_port, run_hub
from toolkit.web.auth import issue_token

LEVELS = {"novice": 1, "expert": 5, "beginner": 2, "advanced": 4}


async def test_read_your_writes_through_a_streaming_replica(stack, settings, unique):
    learner = f"replica-{unique}"
    engine = create_async_engine(settings.database_url)
    with standby(stack.database_url) as replica:
        read_url = replica.database_url(settings.database_url)

        async def replica_has_database():
            try:
                conn = await asyncpg.connect(plain_dsn(read_url))
            except (OSError, asyncpg.PostgresError):
                return False
            try:
                return await conn.fetchval("select pg_is_in_recovery()")
            finally:
                await conn.close()

        await db.wait_until(replica_has_database, timeout=60, what="standby serving the db")
        env = settings_env(settings) | {"HUB_READ_DATABASE_URL": read_url,
                                        "HUB_API_MAX_WAIT_MS": "20000"}
        port = free_port()
        api = HubProcess(["api", "--port", str(port)], env, f"replica-api-{unique}")
        worker = HubProcess(["worker", "missions"], env, f"replica-worker-{unique}")
        own = {"Authorization":
               f"Bearer {issue_token(settings.jwt_secret, learner, ['learner'])}"}
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}",
                                         timeout=30) as client:
                async def ready():
                    try:
                        return (await client.get("/readyz")).status_code == 200
                    except httpx.TransportError:
                        return False

                await db.wait_until(ready, timeout=60, what="api ready")
                for minute, (level, difficulty) in enumerate(LEVELS.items(), start=1):
                    event = completed(learner, minute=minute, level=level)
                    async with engine.begin() as conn:
                        await enqueue(conn, event, settings.profiler_topic)
                    relayed = run_hub(["relay", "--once"], env)
                    assert relayed.returncode == 0, relayed.stderr
                    async with engine.connect() as conn:
                        token = await position_of(conn, event.event_id)
                    answer = await client.get(
                        "/api/v1/missions/difficulty", params={"wait_ms": 20000},
                        headers=own | {"Hub-Min-Position": str(token)})
                    assert answer.status_code == 200, answer.text
                    assert answer.headers["Hub-Position-Included"] == "true", str(token)
                    assert answer.json()["difficulty"] == difficulty

                # the API's reads went to the standby: its pool holds connections there
                conn = await asyncpg.connect(plain_dsn(read_url))
                try:
                    held = await conn.fetchval(
                        "select count(*) from pg_stat_activity where datname = current_database()"
                        " and backend_type = 'client backend' and pid <> pg_backend_pid()")
                finally:
                    await conn.close()
                assert held >= 1

                # a refusal cannot be written on the read-only standby: audited on the primary
                other = await client.get("/api/v1/missions/difficulty",
                                         params={"user_id": f"{learner}-other"}, headers=own)
                assert other.status_code == 403

                async def audited():
                    return await db.fetch(
                        settings.database_url,
                        "select 1 from hub_audit.access_denials where principal like $1",
                        f"%{learner}%")

                await db.wait_until(audited, timeout=30, what="refusal audited on the primary")
        finally:
            worker.stop()
            api.stop()
            await engine.dispose()
