"""The audit trail of refused reads on the real database: capped rows, the per-principal rate
limit and its count, `hub audit prune`, the migration that caps old rows; and the talent
search's parameters that used to give 500."""

from __future__ import annotations

import asyncio
import os
import uuid

import asyncpg
import httpx
import pytest
from prometheus_client import REGISTRY

from hub.api.app import create_app
from hub.migrate import alembic_config, upgrade_database
from tests.conftest import settings_env
from tests.support import db
from tests.support.procs import run_hub
from toolkit.db import create_engine
from toolkit.web.audit import MAX_PRINCIPAL_CHARS, MAX_RESOURCE_CHARS, DenialRateLimit
from toolkit.web.auth import issue_token

DIFFICULTY = "/api/v1/missions/difficulty"
TALENT = "/api/v1/marketplace/talent-matches/profiler"


def bearer(settings, sub: str, roles: list[str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(settings.jwt_secret, sub, roles)}"}


@pytest.fixture
async def app(settings):
    app = create_app(settings)
    app.state.engine = create_engine(settings, pool_size=10)  # the lifespan is not run here
    yield app
    await app.state.engine.dispose()


@pytest.fixture
async def client(app):
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://hub"
    ) as http:
        yield http


async def rows_of(settings, principal: str, columns: str = "resource, suppressed") -> list:
    return await db.fetch(settings.database_url,
                          f"select {columns} from hub_audit.access_denials "
                          "where principal = $1 order by id", principal)


def suppressed_total() -> float:
    return REGISTRY.get_sample_value("hub_audit_denials_total", {"outcome": "suppressed"}) or 0


async def test_a_refusal_with_junk_parameters_is_stored_capped(client, settings, unique):
    learner = f"{unique}-junk"
    junk = {f"junk{i}": "j" * 1000 for i in range(60)}
    response = await client.get(TALENT, params={"skill": "python:60", "limit": 5, **junk},
                                headers=bearer(settings, learner, ["learner"]))
    assert response.status_code == 403, response.text
    (row,) = await rows_of(settings, learner, "resource")
    assert row["resource"] == f"{TALENT}?skill=python:60&limit=5 [+60 unknown parameters]"


async def test_a_refusal_of_a_long_sub_is_a_403_with_a_capped_principal(
    client, settings, unique
):
    long_sub = f"{unique}-long-" + "s" * 400
    response = await client.get(DIFFICULTY, params={"user_id": f"{unique}-someone"},
                                headers=bearer(settings, long_sub, ["learner"]))
    assert response.status_code == 403, response.text
    assert response.json()["detail"].startswith("forbidden: ")
    rows = await db.fetch(settings.database_url,
                          "select principal from hub_audit.access_denials "
                          "where principal like $1", f"{unique}-long-%")
    assert len(rows) == 1
    assert len(rows[0]["principal"]) == MAX_PRINCIPAL_CHARS


async def test_refusals_past_the_rate_limit_are_answered_and_counted(
    app, client, settings, unique
):
    class Clock:
        now = 0.0

        def __call__(self) -> float:
            return self.now

    clock = Clock()
    app.state.denial_rate_limit = DenialRateLimit(
        settings.audit_max_denials_per_minute, clock=clock)  # the process's limit, on our clock
    per_minute = settings.audit_max_denials_per_minute
    learner = f"{unique}-noisy"
    headers = bearer(settings, learner, ["learner"])
    before = suppressed_total()
    statuses = [
        (await client.get(DIFFICULTY, params={"user_id": f"{unique}-x{i}"}, headers=headers))
        .status_code
        for i in range(per_minute + 7)
    ]
    assert statuses == [403] * (per_minute + 7)
    assert len(await rows_of(settings, learner, "id")) == per_minute
    assert suppressed_total() - before == 7
    metrics = (await client.get("/metrics")).text
    assert 'hub_audit_denials_total{outcome="suppressed"}' in metrics

    clock.now += 60 / per_minute  # room for one more record
    response = await client.get(DIFFICULTY, params={"user_id": f"{unique}-last"},
                                headers=headers)
    assert response.status_code == 403
    last = (await rows_of(settings, learner))[-1]
    assert (last["resource"], last["suppressed"]) == (f"{DIFFICULTY}?user_id={unique}-last", 7)


@pytest.mark.parametrize("params", [
    {"skill": "python", "offset": "9223372036854775808"},
    {"skill": "python", "offset": "10000001"},
    {"skill": "python:1e-999999"},
    {"skill": "python:0.0000000000001"},
])
async def test_talent_parameters_the_database_cannot_take_are_a_400(client, settings, params):
    response = await client.get(TALENT, params=params,
                                headers=bearer(settings, "pa", ["platform_admin"]))
    assert response.status_code == 400, response.text
    assert response.json()["detail"] == "invalid request"


@pytest.mark.parametrize("params", [
    {"skill": "python:100", "offset": "10000000"},
    {"skill": "python:0E-999999"},
    {"skill": "python:1e2"},
])
async def test_talent_parameters_at_the_bounds_are_served(client, settings, params):
    response = await client.get(TALENT, params=params,
                                headers=bearer(settings, "pa", ["platform_admin"]))
    assert response.status_code == 200, response.text


async def insert_denials(url: str, principal: str, count: int, days_ago: int) -> None:
    await db.fetch(url, "insert into hub_audit.access_denials (at, principal, roles, resource, "
                        "reason) select now() - make_interval(days => $3), $1, '{learner}', "
                        "'/r', 'test' from generate_series(1, $2)",
                   principal, count, days_ago)


async def count_of(url: str, principal: str) -> int:
    rows = await db.fetch(url, "select count(*) as n from hub_audit.access_denials "
                               "where principal = $1", principal)
    return rows[0]["n"]


async def test_hub_audit_prune_deletes_old_records_in_batches(settings, unique):
    url = settings.database_url
    await insert_denials(url, f"{unique}-old", 5, days_ago=100)
    await insert_denials(url, f"{unique}-recent", 2, days_ago=10)
    env = settings_env(settings)

    pruned = await asyncio.to_thread(
        run_hub, ["audit", "prune", "--older-than-days", "30", "--batch-size", "2"], env)
    assert pruned.returncode == 0, pruned.stderr
    assert pruned.stdout.startswith("pruned 5 access denials older than 30 days (before ")
    assert pruned.stdout.rstrip().endswith(" in 3 batches")
    assert len(pruned.stdout.splitlines()) == 1
    assert (await count_of(url, f"{unique}-old"), await count_of(url, f"{unique}-recent")) == (
        0, 2)

    by_setting = await asyncio.to_thread(
        run_hub, ["audit", "prune"], {**env, "HUB_AUDIT_RETENTION_DAYS": "5"})
    assert by_setting.returncode == 0, by_setting.stderr
    assert by_setting.stdout.startswith("pruned 2 access denials older than 5 days")
    assert await count_of(url, f"{unique}-recent") == 0


@pytest.mark.parametrize(("args", "env_update", "code", "says"), [
    (["--older-than-days", "0"], {}, 2, "--older-than-days must be at least 1"),
    (["--batch-size", "0"], {}, 2, "--batch-size must be at least 1"),
    ([], {"HUB_AUDIT_RETENTION_DAYS": "soon"}, 2, "refused to start: HUB_AUDIT_RETENTION_DAYS"),
    ([], {"HUB_DATABASE_URL": "postgresql+asyncpg://hub@127.0.0.1:1/hub"}, 2,
     "cannot reach the database 127.0.0.1:1/hub"),
])
async def test_hub_audit_prune_refuses_in_one_line(settings, args, env_update, code, says):
    env = {**settings_env(settings), **env_update}
    result = await asyncio.to_thread(run_hub, ["audit", "prune", *args], env)
    assert result.returncode == code, result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert says in result.stderr
    assert result.stdout == ""


async def test_the_migration_caps_records_written_before_it(stack):
    name = f"hub_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = await asyncpg.connect(db.plain_dsn(stack.database_url))
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = f"{stack.database_url.rsplit('/', 1)[0]}/{name}"
    try:
        from alembic import command

        await asyncio.to_thread(command.upgrade, alembic_config(url), "0006_audit")
        await db.fetch(url, "insert into hub_audit.access_denials (principal, roles, resource, "
                            "reason) values ('p', '{learner}', $1, 'r'), ('q', '{learner}', "
                            "'/short', 'r')", "/api?" + "x" * 125_000)
        await asyncio.to_thread(upgrade_database, url)
        rows = await db.fetch(url, "select principal, resource, suppressed "
                                   "from hub_audit.access_denials order by principal")
        assert [(r["principal"], r["suppressed"]) for r in rows] == [("p", 0), ("q", 0)]
        assert len(rows[0]["resource"]) <= MAX_RESOURCE_CHARS
        assert rows[0]["resource"].startswith("/api?xxx")
        assert rows[0]["resource"].endswith(f"…[+{125_005 - (MAX_RESOURCE_CHARS - 32)} chars]")
        assert rows[1]["resource"] == "/short"
    finally:
        admin = await asyncpg.connect(db.plain_dsn(stack.database_url))
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
