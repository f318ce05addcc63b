"""As the profiler's team would: a real Django project with its own PostgreSQL database, the
producer kit's Django app in INSTALLED_APPS, `migrate`, a result saved and its event published
in one `transaction.atomic()`, another rolled back; `hub relay` reads that database's outbox,
and the hub's API serves the new difficulty. The rolled-back one never appears."""

from __future__ import annotations

import asyncio
import json

import httpx

from tests.conftest import settings_env
from tests.support import db
from tests.support.catalog import producer_database, schemas_of
from tests.support.django_project import manage, run_python, write_project
from tests.support.procs import HubProcess, free_port, run_hub
from toolkit.lag import end_offsets
from toolkit.web.auth import issue_token

# The profiler's own code: its model, the kit's builder and `publish`, Django's transaction.
PROFILER = """
import json, sys, uuid
from datetime import datetime, timedelta, timezone

from django.db import transaction
from profiler_hub_kit import session_completed
from profiler_hub_kit.django import TransactionRequired, publish
from results.models import ProfilerResult

user, topic = sys.argv[1], sys.argv[2]  # the deployment's topic (a test's own here)
finished = datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc)


def finish(level, score, completed_at):
    result = ProfilerResult.objects.create(
        session_id=uuid.uuid4(), user_id=user, overall_score=score,
        recommended_level=level, completed_at=completed_at)
    event = session_completed(
        session_id=result.session_id, user_id=user, track="defender",
        completed_at=completed_at, overall_score=score, recommended_level=level,
        skill_scores={"network_security": score}, correlation_id="req-django-1",
        value_answers={"core_values": ["curiosity"], "motivation": "m", "impact_goal": "i"},
        anti_cheat={"duration_seconds": 900, "flags": [], "suspicion_score": 0.0})
    return result, event


out = {}
with transaction.atomic():
    result, event = finish("expert", 91.0, finished)
    out["outbox_id"] = publish(event, topic=topic)
    out["committed"] = str(event.event_id)

try:
    with transaction.atomic():
        result, event = finish("novice", 10.0, finished + timedelta(hours=1))
        publish(event, topic=topic)
        out["rolled_back"] = str(event.event_id)
        raise RuntimeError("the profiler's request failed after publishing")
except RuntimeError:
    pass

try:
    _, event = finish("novice", 12.0, finished + timedelta(hours=2))  # autocommit
    publish(event, topic=topic)
    out["autocommit"] = "accepted"
except TransactionRequired as exc:
    out["autocommit"] = "refused: " + str(exc)

out["results"] = ProfilerResult.objects.filter(user_id=user).count()
print(json.dumps(out))
"""


async def test_django_profiler_publishes_through_its_own_outbox(stack, settings, unique, tmp_path):
    user = f"{unique}-django-learner"
    env = settings_env(settings)
    async with producer_database(stack.database_url) as profiler_url:
        project = write_project(tmp_path, profiler_url)
        migrated = await asyncio.to_thread(manage, project, "migrate", "--no-input")
        assert migrated.returncode == 0, migrated.stderr
        # The profiler's database holds its own tables and the outbox, nothing of the hub's.
        assert await schemas_of(profiler_url) == {"public", "hub_outbox"}

        ran = await asyncio.to_thread(run_python, project, PROFILER, user,
                                    settings.profiler_topic)
        assert ran.returncode == 0, ran.stderr
        out = json.loads(ran.stdout)
        assert out["autocommit"].startswith("refused: "), out
        assert out["results"] == 2  # the committed result, and the one saved in autocommit
        rows = await db.fetch(profiler_url, "select id, headers, sent_at from hub_outbox.outbox")
        assert [(r["id"], json.loads(r["headers"])["event_id"]) for r in rows] == [
            (out["outbox_id"], out["committed"])]

        relay_env = {**env, "HUB_OUTBOX_DATABASE_URL":
                     profiler_url.replace("postgresql+asyncpg://", "postgresql://")}
        relayed = await asyncio.to_thread(run_hub, ["relay", "--once"], relay_env,
                                        timeout=120)
        assert relayed.returncode == 0, relayed.stderr
        assert "published 1 outbox rows" in relayed.stdout
        [row] = await db.fetch(profiler_url, "select sent_at from hub_outbox.outbox")
        assert row["sent_at"] is not None

        ends = await end_offsets(settings.kafka_bootstrap, [settings.profiler_topic])
        assert sum(ends.values()) == 1  # the rolled-back event never reached Kafka

        port = free_port()
        worker = HubProcess(["worker", "missions"], env, f"e2e-django-worker-{unique}")
        api = HubProcess(["api", "--port", str(port)], env, f"e2e-django-api-{unique}")
        try:
            async def applied():
                return await db.applied_offsets(
                    settings.database_url, "missions", settings.profiler_topic) >= 1

            await db.wait_until(applied, timeout=120, what="missions applied the event")
            token = issue_token(settings.jwt_secret, user, ["learner"])
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as c:
                async def api_ready():
                    try:
                        return (await c.get("/readyz")).status_code == 200
                    except httpx.TransportError:
                        return False

                await db.wait_until(api_ready, timeout=60, what="api ready")
                response = await c.get("/api/v1/missions/difficulty",
                                       headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200, response.text
            body = response.json()
            # expert -> 5; the rolled-back (later, novice) session would have made it 1.
            assert (body["user_id"], body["difficulty"], body["source"]) == (user, 5, "profiler")
        finally:
            worker.stop()
            api.stop()
