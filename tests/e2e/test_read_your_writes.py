"""Read-your-writes, as a user would: the profiler writes an event to its outbox, `hub relay`
publishes it and stores where it landed, and a read of the missions page carrying that
consistency token gets the new difficulty every time, with no pause in between; with the
worker stopped, the same read answers after its wait with what it has and says the token is
not included."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import create_async_engine

from producers.outbox import enqueue, position_of
from tests.conftest import settings_env
from tests.support import db
from tests.support.events import completed
from tests.support.procs import HubProcess, free_port, run_hub
from toolkit.web.auth import issue_token

LEVELS = ["novice", "expert", "beginner", "advanced", "intermediate", "expert", "novice",
          "advanced"]
DIFFICULTY = {"novice": 1, "beginner": 2, "intermediate": 3, "advanced": 4, "expert": 5}


async def test_a_token_from_the_outbox_reads_the_new_value_and_says_when_it_cannot(
        settings, unique):
    env = settings_env(settings) | {"HUB_API_MAX_WAIT_MS": "20000"}
    learner = f"ryw-{unique}"
    engine = create_async_engine(settings.database_url)

    async def write_through_outbox(level: str, minute: int) -> tuple[str, str]:
        event = completed(learner, minute=minute, level=level)
        async with engine.begin() as conn:  # the profiler's business transaction
            await enqueue(conn, event, settings.profiler_topic)
        relayed = run_hub(["relay", "--once"], env)
        assert relayed.returncode == 0, relayed.stderr
        async with engine.connect() as conn:
            token = await position_of(conn, event.event_id)
        assert token is not None and token.topic == settings.profiler_topic
        return str(token), level

    port = free_port()
    api = HubProcess(["api", "--port", str(port)], env, f"e2e-ryw-api-{unique}")
    worker = HubProcess(["worker", "missions"], env, f"e2e-ryw-worker-{unique}")
    own = issue_token(settings.jwt_secret, learner, ["learner"])
    token_header = {"Authorization": f"Bearer {own}"}
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            async def ready():
                try:
                    return (await client.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await db.wait_until(ready, timeout=60, what="api ready")

            async def read(token: str, wait_ms: int) -> httpx.Response:
                answer = await client.get(
                    "/api/v1/missions/difficulty", params={"wait_ms": wait_ms},
                    headers=token_header | {"Hub-Min-Position": token})
                assert answer.status_code == 200, answer.text
                return answer

            # The worker's group join takes a few seconds; the first read waits through it.
            for minute, level in enumerate(LEVELS, start=1):
                token, level = await write_through_outbox(level, minute)
                answer = await read(token, 20000)
                assert answer.headers["Hub-Position-Included"] == "true", (token, answer.headers)
                assert answer.json()["difficulty"] == DIFFICULTY[level], (token, answer.json())
                assert answer.headers["Hub-Projection"] == "missions"
                assert answer.headers["Hub-Newest-Event-At"] != "none"
                assert float(answer.headers["Hub-Lag-Seconds"]) >= 0

            worker.stop()
            before = DIFFICULTY[LEVELS[-1]]
            token, level = await write_through_outbox("beginner", len(LEVELS) + 1)
            stale = await read(token, 1000)
            assert stale.headers["Hub-Position-Included"] == "false"
            assert stale.json()["difficulty"] == before != DIFFICULTY[level]
            plain = await client.get("/api/v1/missions/difficulty", headers=token_header)
            assert "Hub-Position-Included" not in plain.headers
            assert plain.headers["Hub-Projection"] == "missions"
            bad = await client.get("/api/v1/missions/difficulty",
                                   headers=token_header | {"Hub-Min-Position": "nope"})
            assert bad.status_code == 400
            assert bad.json()["problems"][0]["field"] == "Hub-Min-Position"
    finally:
        worker.stop()
        api.stop()
        await engine.dispose()
