"""As a user would: publish with the CLI, run the worker, read through the HTTP API."""

from __future__ import annotations

import httpx

from producers.sample import generate_sample
from tests.conftest import settings_env
from tests.support import db
from tests.support.oracles.missions import difficulties as oracle_difficulties
from tests.support.procs import HubProcess, free_port, run_hub
from toolkit.web.auth import issue_token

SAMPLE = {"count": 1500, "users": 120, "cohorts": 6, "seed": 11}


async def test_cli_published_sample_is_served_by_the_api(settings, unique):
    env = settings_env(settings)
    published = run_hub(["publish-sample", *[f"--{k}={v}" for k, v in SAMPLE.items()]], env)
    assert published.returncode == 0, published.stderr
    assert f"published {SAMPLE['count']} messages" in published.stdout

    sample = generate_sample(**SAMPLE)
    expected = oracle_difficulties(sample.profiler_events())
    profiler_messages = len(sample.profiler_messages())

    port, metrics_port = free_port(), free_port()
    worker = HubProcess(
        ["worker", "missions"],
        {**env, "HUB_WORKER_METRICS_PORT": str(metrics_port)},
        f"e2e-worker-{unique}",
    )
    api = HubProcess(["api", "--port", str(port)], env, f"e2e-api-{unique}")
    try:

        async def caught_up():
            return (
                await db.applied_offsets(settings.database_url, "missions", settings.profiler_topic)
                >= profiler_messages
            )

        await db.wait_until(caught_up, timeout=120, what="worker caught up")
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:

            async def api_ready():
                try:
                    return (await client.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await db.wait_until(api_ready, timeout=60, what="api ready")
            admin = issue_token(settings.jwt_secret, "ops", ["platform_admin"])
            for user in sample.user_ids:
                response = await client.get(
                    "/api/v1/missions/difficulty",
                    params={"user_id": user},
                    headers={"Authorization": f"Bearer {admin}"},
                )
                assert response.status_code == 200, response.text
                body = response.json()
                if user in expected:
                    assert (body["difficulty"], body["source"]) == (expected[user], "profiler")
                else:
                    assert (body["difficulty"], body["source"], body["fallback"]) == (
                        1,
                        "default",
                        True,
                    )

            someone = sample.user_ids[0]
            own = issue_token(settings.jwt_secret, someone, ["learner"])
            response = await client.get(
                "/api/v1/missions/difficulty", headers={"Authorization": f"Bearer {own}"}
            )
            assert response.status_code == 200 and response.json()["user_id"] == someone
            other = await client.get(
                "/api/v1/missions/difficulty",
                params={"user_id": sample.user_ids[1]},
                headers={"Authorization": f"Bearer {own}"},
            )
            assert other.status_code == 403
            assert (await client.get("/api/v1/missions/difficulty")).status_code == 401
            assert (await client.get("/metrics")).status_code == 200

        worker_metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
        applied = _sample_value(worker_metrics, 'hub_events_applied_total{consumer="missions"}')
        assert applied == profiler_messages  # each delivery once; duplicates change nothing

        async def lag_exported_as_zero():
            text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
            lags = [float(line.split()[1]) for line in text.splitlines()
                    if line.startswith('hub_consumer_lag_records{consumer="missions"')]
            return len(lags) == settings.topic_partitions and sum(lags) == 0

        await db.wait_until(lag_exported_as_zero, timeout=30, what="lag gauge")
    finally:
        worker.stop()
        api.stop()


def _sample_value(exposition: str, name: str) -> float:
    for line in exposition.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not exposed")
