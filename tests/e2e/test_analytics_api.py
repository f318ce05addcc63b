"""As a user would: publish a sample with the CLI, run the analytics worker and the API, and
read every cohort's and enterprise's analytics (compared with the oracle) under the RBAC."""

from __future__ import annotations

import httpx

from producers.sample import generate_sample
from tests.conftest import settings_env
from tests.support import db
from tests.support.oracles.analytics import analytics as oracle_analytics
from tests.support.procs import HubProcess, free_port, run_hub
from tests.unit.test_analytics_rules import assert_same
from toolkit.web.auth import issue_token

SAMPLE = {"count": 2000, "users": 150, "cohorts": 7, "seed": 23}
COHORTS = "/api/v1/profiler/admin/cohorts/{}/analytics"
ENTERPRISE = "/api/v1/profiler/admin/enterprise/analytics"


async def test_every_group_is_served_as_the_oracle_computes_it(settings, unique):
    env = settings_env(settings)
    published = run_hub(["publish-sample", *[f"--{k}={v}" for k, v in SAMPLE.items()]], env)
    assert published.returncode == 0, published.stderr

    sample = generate_sample(**SAMPLE)
    events = sample.profiler_events()
    cohorts, enterprises = oracle_analytics(events)
    assert len(cohorts) == SAMPLE["cohorts"] and len(enterprises) >= 2

    port = free_port()
    worker = HubProcess(["worker", "analytics"], env, f"e2e-analytics-worker-{unique}")
    api = HubProcess(["api", "--port", str(port)], env, f"e2e-analytics-api-{unique}")
    try:
        async def caught_up():
            return await db.applied_offsets(settings.database_url, "analytics",
                                            settings.profiler_topic) >= len(events)

        await db.wait_until(caught_up, timeout=120, what="analytics worker caught up")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            async def api_ready():
                try:
                    return (await client.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await db.wait_until(api_ready, timeout=60, what="api ready")

            def get(path: str, token: str | None, **params):
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                return client.get(path, params=params, headers=headers)

            def token(roles, *, sub="someone", enterprise=None, cohorts_=None):
                return issue_token(settings.jwt_secret, sub, roles, enterprise_id=enterprise,
                                   cohort_ids=cohorts_)

            platform = token(["platform_admin"])
            newest = max(e.occurred_at for e in events)
            for cohort_id, expected in cohorts.items():
                response = await get(COHORTS.format(cohort_id), platform)
                assert response.status_code == 200, response.text
                body = response.json()
                assert (body.pop("cohort_id"), body.pop("freshness")) == (
                    cohort_id, newest.isoformat().replace("+00:00", "Z"))
                assert_same(body, expected)
            for enterprise_id, expected in enterprises.items():
                response = await get(ENTERPRISE, platform, enterprise_id=enterprise_id)
                assert response.status_code == 200, response.text
                body = response.json()
                assert body.pop("enterprise_id") == enterprise_id
                body.pop("freshness")
                assert_same(body, expected)

            assert (await get(COHORTS.format("no-such-cohort"), platform)).status_code == 404
            assert (await get(ENTERPRISE, platform, enterprise_id="nobody")).status_code == 404
            missing = await get(ENTERPRISE, platform)
            assert missing.status_code == 400
            assert missing.json()["problems"][0]["field"] == "enterprise_id"

            cohort_id, other_cohort = sorted(cohorts)[:2]
            enterprise_id = cohorts[cohort_id]["enterprise_ids"][0]
            other_enterprise = next(e for e in sorted(enterprises) if e != enterprise_id)
            foreign_cohort = next(c for c, body in sorted(cohorts.items())
                                  if enterprise_id not in body["enterprise_ids"])

            own_cohort = token(["cohort_admin"], cohorts_=[cohort_id])
            assert (await get(COHORTS.format(cohort_id), own_cohort)).status_code == 200
            assert (await get(COHORTS.format(other_cohort), own_cohort)).status_code == 403
            assert (await get(ENTERPRISE, own_cohort, enterprise_id=enterprise_id)
                    ).status_code == 403

            own_enterprise = token(["enterprise_admin"], enterprise=enterprise_id)
            assert (await get(COHORTS.format(cohort_id), own_enterprise)).status_code == 200
            assert (await get(COHORTS.format(foreign_cohort), own_enterprise)).status_code == 403
            mine = await get(ENTERPRISE, own_enterprise)
            assert mine.status_code == 200 and mine.json()["enterprise_id"] == enterprise_id
            refused = await get(ENTERPRISE, own_enterprise, enterprise_id=other_enterprise)
            assert refused.status_code == 403
            assert refused.json()["detail"] == (
                f"forbidden: someone is enterprise_admin of {enterprise_id}, "
                f"not of {other_enterprise}")

            learner = token(["learner"], sub=sample.user_ids[0], enterprise=enterprise_id,
                            cohorts_=[cohort_id])
            mentor = token(["mentor"], enterprise=enterprise_id, cohorts_=[cohort_id])
            for caller in (learner, mentor):
                assert (await get(COHORTS.format(cohort_id), caller)).status_code == 403
                assert (await get(ENTERPRISE, caller, enterprise_id=enterprise_id)
                        ).status_code == 403
            assert (await get(COHORTS.format(cohort_id), None)).status_code == 401
            assert (await get(ENTERPRISE, None, enterprise_id=enterprise_id)).status_code == 401
            bad = await get(COHORTS.format("x" * 65), platform)
            assert bad.status_code == 400

        denials = await db.fetch(settings.database_url,
                                 "select resource from hub_audit.access_denials")
        assert len(denials) == 8  # every 403 above
        assert {d["resource"] for d in denials} >= {
            COHORTS.format(other_cohort), f"{ENTERPRISE}?enterprise_id={other_enterprise}"}
    finally:
        worker.stop()
        api.stop()
