"""As a user would: publish a sample with the CLI, run the portfolio worker and the API, and
read every learner's value statement, portfolio items and leadership identity over HTTP."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import httpx

from producers.sample import generate_sample
from tests.conftest import settings_env
from tests.support import db
from tests.support.oracles.portfolio import ExpectedItem, ExpectedStatement, portfolios
from tests.support.procs import HubProcess, free_port, run_hub
from toolkit.web.auth import issue_token

SAMPLE = {"count": 1500, "users": 120, "cohorts": 6, "seed": 23}
STATEMENT = "/api/v1/profiler/value-statement"
ITEMS = "/api/v1/portfolio/items"
IDENTITY = "/api/v1/leadership/identity"


def item_from(body: dict) -> ExpectedItem:
    withdrawn = body["withdrawn_at"]
    return ExpectedItem(
        UUID(body["item_id"]), UUID(body["profiler_session_id"]), body["title"],
        body["statement"], body["status"], datetime.fromisoformat(body["created_at"]),
        datetime.fromisoformat(withdrawn) if withdrawn else None,
    )


def statement_from(body: dict) -> ExpectedStatement:
    return ExpectedStatement(
        UUID(body["profiler_session_id"]), body["statement"], tuple(body["core_values"]),
        body["motivation"], body["impact_goal"], body["track"],
        datetime.fromisoformat(body["completed_at"]),
    )


def identity_as_statement(body: dict) -> ExpectedStatement:
    seed = body["value_statement"]
    return ExpectedStatement(
        UUID(seed["profiler_session_id"]), seed["statement"], tuple(body["core_values"]),
        body["motivation"], body["impact_goal"], body["track"],
        datetime.fromisoformat(seed["completed_at"]),
    )


async def test_every_learner_reads_what_the_oracle_expects(settings, unique):
    env = settings_env(settings)
    published = run_hub(["publish-sample", *[f"--{k}={v}" for k, v in SAMPLE.items()]], env)
    assert published.returncode == 0, published.stderr

    sample = generate_sample(**SAMPLE)
    expected = portfolios(sample.profiler_events())
    current = {u: p.current for u, p in expected.items() if p.current is not None}
    # The sample meets every case: withdrawn items, learners without a statement.
    assert any(i.status == "withdrawn" for p in expected.values() for i in p.items)
    assert len(current) < len(sample.user_ids)

    port = free_port()
    worker = HubProcess(["worker", "portfolio"], env, f"e2e-portfolio-worker-{unique}")
    api = HubProcess(["api", "--port", str(port)], env, f"e2e-portfolio-api-{unique}")
    try:
        profiler_messages = len(sample.profiler_messages())

        async def caught_up():
            return await db.applied_offsets(settings.database_url, "portfolio",
                                            settings.profiler_topic) >= profiler_messages

        await db.wait_until(caught_up, timeout=120, what="portfolio worker caught up")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            async def api_ready():
                try:
                    return (await client.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await db.wait_until(api_ready, timeout=60, what="api ready")
            admin = {"Authorization": "Bearer "
                     + issue_token(settings.jwt_secret, "ops", ["platform_admin"])}
            for user in sample.user_ids:
                await check_learner(client, admin, user, expected.get(user))
            await check_access(client, settings, sample, current)
    finally:
        worker.stop()
        api.stop()


async def check_learner(client, admin, user, expected) -> None:
    params = {"user_id": user}
    everything = await client.get(ITEMS, params={**params, "include_withdrawn": "true"},
                                  headers=admin)
    visible = await client.get(ITEMS, params=params, headers=admin)
    assert everything.status_code == visible.status_code == 200, everything.text
    all_items = [item_from(i) for i in everything.json()["items"]]
    assert all_items == (list(expected.items) if expected else []), user
    assert [item_from(i) for i in visible.json()["items"]] == [
        i for i in all_items if i.status == "active"]

    statement = await client.get(STATEMENT, params=params, headers=admin)
    identity = await client.get(IDENTITY, params=params, headers=admin)
    if expected is None or expected.current is None:
        assert statement.status_code == identity.status_code == 404, user
        assert "no value statement yet" in statement.json()["detail"]
        return
    assert statement.status_code == identity.status_code == 200, statement.text
    assert statement.json()["user_id"] == identity.json()["user_id"] == user
    assert statement_from(statement.json()) == expected.current
    assert identity_as_statement(identity.json()) == expected.current


async def check_access(client, settings, sample, current) -> None:
    secret = settings.jwt_secret
    cohorts = {e.data.session_id: e.data.cohort_id for e in sample.profiler_events()
               if e.event_type == "profiler.session.completed"}
    placed, cohort = next((u, cohorts[s.profiler_session_id]) for u, s in current.items()
                          if cohorts[s.profiler_session_id] is not None)
    without = next(u for u in sample.user_ids if u not in current)

    def bearer(sub, roles, **claims):
        return {"Authorization": f"Bearer {issue_token(secret, sub, roles, **claims)}"}

    own = bearer(placed, ["learner"])
    for path in (STATEMENT, ITEMS, IDENTITY):
        assert (await client.get(path)).status_code == 401
        bad = {"Authorization": "Bearer " + issue_token("another-secret-entirely-32-bytes!",
                                                        placed, ["learner"])}
        assert (await client.get(path, headers=bad)).status_code == 401
        mine = await client.get(path, headers=own)
        assert mine.status_code == 200 and mine.json()["user_id"] == placed
        assert (await client.get(path, params={"user_id": without},
                                 headers=own)).status_code == 403
        admin = bearer("cadmin", ["cohort_admin"], cohort_ids=[cohort])
        stranger = bearer("cadmin2", ["cohort_admin"], cohort_ids=["no-such-cohort"])
        assert (await client.get(path, params={"user_id": placed},
                                 headers=admin)).status_code == 200
        assert (await client.get(path, params={"user_id": placed},
                                 headers=stranger)).status_code == 403
    alone = bearer(without, ["learner"])
    assert (await client.get(STATEMENT, headers=alone)).status_code == 404
    empty = await client.get(ITEMS, headers=alone)
    assert empty.status_code == 200
    bad_flag = await client.get(ITEMS, params={"include_withdrawn": "maybe"}, headers=own)
    assert bad_flag.status_code == 400
    assert bad_flag.json()["problems"][0]["field"] == "include_withdrawn"
    denials = await db.fetch(settings.database_url,
                             "select count(*) as n from hub_audit.access_denials "
                             "where resource like '%user_id=' || $1", without)
    assert denials[0]["n"] >= 3

