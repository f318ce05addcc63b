"""As a user would: publish a sample with the CLI, run `hub worker recipes` and `hub api`,
and read recommendations and talent matches over HTTP, compared with the oracle."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest

from consumers.recipes.catalog import Catalog, shipped_catalog
from producers.sample import generate_sample
from tests.conftest import settings_env
from tests.support import db
from tests.support.oracles.recipes import current_profiles, recommendations, talent_matches
from tests.support.procs import HubProcess, free_port, run_hub
from toolkit.web.auth import issue_token

SAMPLE = {"count": 1500, "users": 120, "cohorts": 6, "seed": 23}
RECS = "/api/v1/recipes/profiler-recommendations"
TALENT = "/api/v1/marketplace/talent-matches/profiler"


def bearer(settings, sub, roles, **claims) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(settings.jwt_secret, sub, roles, **claims)}"}


async def check_every_learner(client, headers, sample, profiles, catalog: Catalog) -> None:
    for user in sample.user_ids:
        response = await client.get(RECS, params={"user_id": user, "limit": 7}, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        expected = recommendations(profiles.get(user), catalog, 7)
        assert (body["difficulty"], body["source"]) == (expected["difficulty"],
                                                         expected["source"]), user
        assert body["fallback"] is (user not in profiles)
        assert body["catalog_version"] == catalog.version
        assert [(g["skill"], g["score"], g["target"], g["gap"], g["recipe_skill_codes"])
                for g in body["gaps"]] == expected["gaps"], user
        assert [(r["id"], r["score"]) for r in body["recipes"]] == expected["recipes"], user
        if user in profiles:
            assert (body["track"], body["session_id"]) == (
                profiles[user].track, str(profiles[user].session_id))


def as_wanted(terms: list[str]) -> list[tuple[str, Decimal]]:
    wanted = []
    for term in terms:
        name, _, minimum = term.partition(":")
        wanted.append((name, Decimal(minimum or 0)))
    return wanted


async def test_recommendations_and_talent_matches_over_http(settings, unique, tmp_path):
    env = settings_env(settings)
    published = run_hub(["publish-sample", *[f"--{k}={v}" for k, v in SAMPLE.items()]], env)
    assert published.returncode == 0, published.stderr

    sample = generate_sample(**SAMPLE)
    profiles = current_profiles(sample.profiler_events())
    profiler_messages = len(sample.profiler_messages())

    port = free_port()
    worker = HubProcess(["worker", "recipes"], env, f"e2e-recipes-worker-{unique}")
    api = HubProcess(["api", "--port", str(port)], env, f"e2e-recipes-api-{unique}")
    try:
        async def caught_up():
            return await db.applied_offsets(settings.database_url, "recipes",
                                            settings.profiler_topic) >= profiler_messages

        await db.wait_until(caught_up, timeout=120, what="recipes worker caught up")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            async def api_ready():
                try:
                    return (await client.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await db.wait_until(api_ready, timeout=60, what="api ready")
            ops = bearer(settings, "ops", ["platform_admin"])

            await check_every_learner(client, ops, sample, profiles, shipped_catalog())

            # A new catalog applies to the next read, without touching the projection.
            document = shipped_catalog().model_dump(mode="json")
            document["version"] = f"e2e-{unique}"
            for track in document["track_requirements"].values():
                for skill in track:
                    track[skill] = min(100, track[skill] + 10)
            path = tmp_path / "catalog.json"
            path.write_text(json.dumps(document))
            loaded = run_hub(["catalog", "load", str(path)], env)
            assert loaded.returncode == 0, loaded.stderr
            await check_every_learner(client, ops, sample, profiles,
                                      Catalog.model_validate(document))

            await check_talent(client, settings, profiles)
            await check_refusals(client, settings, sample)
    finally:
        worker.stop()
        api.stop()


async def check_talent(client, settings, profiles) -> None:
    ops = bearer(settings, "ops", ["platform_admin"])
    queries = [
        (ops, None, ["network_security:60", "incident_response"], 20, 0),
        (ops, None, ["network_security:60", "incident_response"], 20, 20),
        (ops, None, ["risk_management:50"], 100, 0),
        (ops, None, ["secure_coding:55.5", "cloud_security:40", "devsecops"], 5, 0),
        (bearer(settings, "boss-a", ["enterprise_admin"], enterprise_id="enterprise-a"),
         "enterprise-a", ["network_security"], 10, 0),
        (bearer(settings, "boss-a", ["enterprise_admin"], enterprise_id="enterprise-a"),
         "enterprise-a", ["network_security"], 10, 10),
        (bearer(settings, "boss-b", ["enterprise_admin"], enterprise_id="enterprise-b"),
         "enterprise-b", ["communication:40", "decision_making:40"], 50, 0),
    ]
    found = 0
    for headers, enterprise, terms, limit, offset in queries:
        response = await client.get(
            TALENT, params={"skill": terms, "limit": limit, "offset": offset}, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        total, expected = talent_matches(profiles, as_wanted(terms), enterprise, limit, offset)
        assert (body["total"], body["scope_enterprise_id"]) == (total, enterprise), terms
        items = body["items"]
        assert [i["match_score"] for i in items] == pytest.approx(
            [e["match_score"] for e in expected])
        for item in items + expected:
            item.pop("match_score")
        assert items == expected, terms
        assert all(profiles[i["user_id"]].marketplace_opt_in for i in items)
        found += len(items)
    assert found > 20  # the sample gives every query something to compare
    opted_out = [u for u, p in profiles.items() if not p.marketplace_opt_in]
    everyone = await client.get(TALENT, params={"skill": "network_security", "limit": 100},
                                headers=ops)
    assert opted_out and not {i["user_id"] for i in everyone.json()["items"]} & set(opted_out)


async def check_refusals(client, settings, sample) -> None:
    someone, other = sample.user_ids[0], sample.user_ids[1]
    own = bearer(settings, someone, ["learner"])
    response = await client.get(RECS, headers=own)
    assert response.status_code == 200 and response.json()["user_id"] == someone
    assert (await client.get(RECS, params={"user_id": other}, headers=own)).status_code == 403

    for path, params in ((RECS, {}), (TALENT, {"skill": "audit"})):
        assert (await client.get(path, params=params)).status_code == 401
        bad = {"Authorization": "Bearer not-a-token"}
        assert (await client.get(path, params=params, headers=bad)).status_code == 401

    refused = [
        bearer(settings, someone, ["learner"]),
        bearer(settings, "mentor-01", ["mentor"]),
        bearer(settings, "ca", ["cohort_admin"], cohort_ids=["cohort-01"]),
        bearer(settings, "ea", ["enterprise_admin"]),  # no enterprise_id claim
    ]
    for headers in refused:
        response = await client.get(TALENT, params={"skill": "audit"}, headers=headers)
        assert response.status_code == 403, response.text
    denials = await db.fetch(settings.database_url,
                             "select count(*) as n from hub_audit.access_denials "
                             "where resource like '/api/v1/marketplace/%'")
    assert denials[0]["n"] == len(refused)

    ops = bearer(settings, "ops", ["platform_admin"])
    bad_requests = [
        (TALENT, {}, "skill"),
        (TALENT, {"skill": "audit:high"}, "skill.0"),
        (TALENT, {"skill": ["audit", "privacy:101"]}, "skill.1"),
        (TALENT, {"skill": ["audit:10", "audit:20"]}, "skill"),
        (TALENT, {"skill": "audit", "limit": 0}, "limit"),
        (TALENT, {"skill": "audit", "limit": 101}, "limit"),
        (TALENT, {"skill": "audit", "offset": -1}, "offset"),
        (RECS, {"limit": 0}, "limit"),
        (RECS, {"user_id": "x" * 65}, "user_id"),
    ]
    for path, params, field in bad_requests:
        response = await client.get(path, params=params, headers=ops)
        assert response.status_code == 400, (params, response.text)
        assert field in [p["field"] for p in response.json()["problems"]], response.text
