"""A flood of refused reads against a real `hub api` process: every one is answered 403
promptly and audited, while an admin's read and /readyz are served as usual. Before the fix
each refusal held its pooled connection while waiting for a second one to record the denial:
the pool deadlocked for its 30 s timeout (500s, nothing audited, /readyz 503)."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from tests.conftest import settings_env
from tests.support import db
from tests.support.procs import HubProcess, free_port
from toolkit.web.auth import issue_token

# More than the API's pool holds (10 connections + 10 overflow, hub.api.app).
FLOOD = 40
# The bug answered after the 30 s pool timeout; a healthy API answers in well under a second.
PROMPTLY_SECONDS = 10
DIFFICULTY = "/api/v1/missions/difficulty"
TALENT = "/api/v1/marketplace/talent-matches/profiler"


@pytest.fixture
async def api(settings, unique):
    """`hub api` on the test's own database; yields its base URL and the process."""
    port = free_port()
    process = HubProcess(["api", "--port", str(port)], settings_env(settings),
                         f"audit-flood-{unique}")
    base = f"http://127.0.0.1:{port}"

    async def ready():
        try:
            return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    try:
        await db.wait_until(ready, timeout=60, what="api ready")
        yield base, process
    finally:
        process.stop()


async def audit_rows(settings, principal: str) -> list:
    return await db.fetch(settings.database_url,
                          "select principal, resource, suppressed from hub_audit.access_denials "
                          "where principal = $1", principal)


async def test_a_flood_of_refusals_is_answered_and_audited_without_stalling_others(
    api, settings, unique
):
    base, _ = api
    learner = f"{unique}-flooder"
    refused = {"Authorization": f"Bearer {issue_token(settings.jwt_secret, learner, ['learner'])}"}
    admin = {"Authorization":
             f"Bearer {issue_token(settings.jwt_secret, f'{unique}-pa', ['platform_admin'])}"}
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:

        async def refused_read(i: int) -> tuple[int, float]:
            started = time.monotonic()
            response = await client.get(DIFFICULTY, params={"user_id": f"{unique}-other-{i}"},
                                        headers=refused)
            return response.status_code, time.monotonic() - started

        async def readiness_while(flood: asyncio.Future) -> list[int]:
            answers = [(await client.get("/readyz")).status_code]
            while not flood.done():
                answers.append((await client.get("/readyz")).status_code)
            return answers

        flood = asyncio.gather(*(refused_read(i) for i in range(FLOOD)))
        admin_read = client.get(DIFFICULTY, params={"user_id": f"{unique}-other-0"},
                                headers=admin)
        readiness = readiness_while(flood)
        outcomes, admin_response, ready_answers = await asyncio.gather(
            flood, admin_read, readiness)

    assert [status for status, _ in outcomes] == [403] * FLOOD
    slowest = max(seconds for _, seconds in outcomes)
    assert slowest < PROMPTLY_SECONDS, f"slowest refusal took {slowest:.1f}s"
    assert admin_response.status_code == 200, admin_response.text
    assert set(ready_answers) == {200}, ready_answers

    async def all_audited():
        rows = await audit_rows(settings, learner)
        return rows if len(rows) + sum(r["suppressed"] for r in rows) >= FLOOD else None

    rows = await db.wait_until(all_audited, timeout=30, what="every refusal audited")
    # The default rate limit (60 a minute) records every one of these 40.
    assert sorted(r["resource"] for r in rows) == sorted(
        f"{DIFFICULTY}?user_id={unique}-other-{i}" for i in range(FLOOD))


async def test_a_long_sub_is_refused_with_403_and_audited_capped(api, settings, unique):
    base, process = api
    long_sub = f"{unique}-" + "x" * 300
    headers = {"Authorization": f"Bearer {issue_token(settings.jwt_secret, long_sub, ['learner'])}"}
    junk = {f"junk{i}": "j" * 1000 for i in range(50)}  # 50 KB of unknown parameters
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        response = await client.get(  # talent matches are for admins: refused
            TALENT, params={"skill": "network_security:60", **junk}, headers=headers)
    assert response.status_code == 403, response.text

    async def audited():
        return await db.fetch(settings.database_url,
                              "select principal, resource from hub_audit.access_denials "
                              "where principal like $1", f"{unique}-xxx%")

    (row,) = await db.wait_until(audited, timeout=30, what="the long sub's refusal audited")
    assert len(row["principal"]) <= 200
    assert row["resource"] == f"{TALENT}?skill=network_security:60 [+50 unknown parameters]"
    log = process.log_path.read_text(errors="replace")
    assert "Traceback" not in log
    assert "INSERT INTO" not in log.upper()  # a failed insert logged its SQL and parameters
    (logged,) = [record for record in map(json.loads, log.splitlines())
                 if record.get("logger") == "hub.audit"]
    assert (logged["principal"], logged["resource"]) == (row["principal"], row["resource"])
