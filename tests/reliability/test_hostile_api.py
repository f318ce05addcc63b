"""Hostile callers of the read API on the real stack.

- schemathesis fuzzes every operation of the OpenAPI document against a `hub api` process
  serving an applied sample: no 5xx, and every response conforms to the documented schema,
  status codes and content types (as a platform admin, pinned to real ids, and as a learner);
- forged tokens on every endpoint get 401 with the reason, and genuine tokens without the
  right get 403 (the RBAC matrix in tests/integration covers the legitimate relationships).
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import jwt
import pytest

from hub.api.app import create_app
from hub.projections import all_projections
from producers.sample import generate_sample
from tests.conftest import migrated_database, settings_env
from tests.integration.test_rbac_matrix import client, endpoints, world  # noqa: F401 - fixtures
from tests.support import db
from tests.support.kafka import publish_raw
from tests.support.procs import ARTIFACTS, HubProcess, free_port
from toolkit.streaming.bulk import replay_to_end
from toolkit.streaming.runtime import WorkerRuntime
from toolkit.web.auth import issue_token

SAMPLE = {"count": 800, "users": 60, "cohorts": 4, "seed": 41}
CHECKS = "not_a_server_error,response_schema_conformance,status_code_conformance," \
         "content_type_conformance"
EXAMPLES = 25  # per operation and phase: ~10 s a run here; raise locally for a deeper search
SCHEMATHESIS = Path(sys.executable).with_name("st")


@pytest.fixture
async def database_url(stack):
    """A database of its own: the sample's learner ids are the same in every generated sample."""
    async for url in migrated_database(stack):
        yield url


@pytest.fixture
async def api(settings, unique):
    """`hub api` over every projection with a generated sample applied; yields its base URL."""
    sample = generate_sample(**SAMPLE)
    topics = {"profiler": settings.profiler_topic, "mentorship": settings.mentorship_topic}
    for kind, topic in topics.items():
        await publish_raw(settings.kafka_bootstrap, topic,
                          [(m.key, m.value) for m in sample.messages if m.topic_kind == kind])
    for projection in all_projections(settings).values():
        runtime = WorkerRuntime(projection, settings)
        try:
            stats = await replay_to_end(await runtime.applier(), settings.kafka_bootstrap,
                                        projection.topics(settings))
            assert stats.dead_lettered == 0, projection.name
        finally:
            await runtime.close()
    port = free_port()
    process = HubProcess(["api", "--port", str(port)], settings_env(settings),
                         f"hostile-api-{unique}")
    base = f"http://127.0.0.1:{port}"

    async def ready():
        try:
            return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    try:
        await db.wait_until(ready, timeout=60, what="api ready")
        yield base, sample
    finally:
        process.stop()


def schemathesis(base: str, token: str, name: str, parameters: dict[str, str] | None = None):
    config = ARTIFACTS / f"schemathesis-{name}.toml"
    ARTIFACTS.mkdir(exist_ok=True)
    lines = ["[parameters]"] + [f'"{k}" = "{v}"' for k, v in (parameters or {}).items()]
    config.write_text("\n".join(lines) + "\n")
    return subprocess.run(
        [str(SCHEMATHESIS), "--no-color", "--config-file", str(config), "run",
         f"{base}/openapi.json", "-H", f"Authorization: Bearer {token}", "--checks", CHECKS,
         "--max-examples", str(EXAMPLES), "--seed", "20261125", "--request-timeout", "30"],
        capture_output=True, text=True, timeout=600, cwd=ARTIFACTS,  # its cache goes there
    )


async def test_schemathesis_finds_no_server_error_and_no_schema_violation(api, settings):
    base, sample = api
    learner = sample.user_ids[0]
    runs = {
        "platform-admin": (issue_token(settings.jwt_secret, "ops", ["platform_admin"]), None),
        # Real ids, so that the 200 answers (not only 404s) are checked against their schemas.
        "platform-admin-real-ids": (
            issue_token(settings.jwt_secret, "ops", ["platform_admin"]),
            {"query.user_id": learner, "path.mentee_id": learner, "path.cohort_id": "cohort-01",
             "query.enterprise_id": "enterprise-a"},
        ),
        "learner": (issue_token(settings.jwt_secret, learner, ["learner"]), None),
    }
    for name, (token, parameters) in runs.items():
        result = schemathesis(base, token, name, parameters)
        (ARTIFACTS / f"schemathesis-{name}.out").write_text(result.stdout + result.stderr)
        summary = result.stdout[result.stdout.rfind("SUMMARY"):]
        assert result.returncode == 0, f"{name}:\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}"
        assert "passed" in summary and "generated" in summary, summary


def test_metrics_are_documented_as_plain_text(settings):
    """schemathesis found /metrics documented as JSON while it answers Prometheus text."""
    document = create_app(settings).openapi()
    assert list(document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]) == [
        "text/plain"]


# ----- forged and insufficient tokens on every endpoint --------------------------------------


def forge(secret: str, claims: dict, *, key: str | None = None, algorithm: str = "HS256") -> str:
    now = int(time.time())
    body = {"sub": "intruder", "roles": ["platform_admin"], "iat": now, "exp": now + 600, **claims}
    body = {k: v for k, v in body.items() if v is not DROP}
    return jwt.encode(body, secret if key is None else key, algorithm=algorithm)


DROP = object()


def tampered(secret: str) -> str:
    """A genuine learner token whose payload was swapped for a platform admin's."""
    header, _, signature = issue_token(secret, "intruder", ["learner"]).split(".")
    payload = base64.urlsafe_b64encode(json.dumps(
        {"sub": "intruder", "roles": ["platform_admin"], "exp": int(time.time()) + 600}
    ).encode()).rstrip(b"=").decode()
    return f"{header}.{payload}.{signature}"


def forged_tokens(secret: str) -> dict[str, tuple[str, str]]:
    """name -> (Authorization header, what the 401's detail must say)."""
    now = int(time.time())
    wrong_key = "not-the-hub-secret-but-long-enough-for-hs256!"
    bearer = {
        "bad signature": (forge(secret, {}, key=wrong_key), "signature"),
        "tampered payload": (tampered(secret), "signature"),
        "alg none": (jwt.encode({"sub": "intruder", "roles": ["platform_admin"],
                                 "exp": now + 600}, None, algorithm="none"), "algorithm"),
        "alg HS512": (forge(secret, {}, algorithm="HS512"), "algorithm"),
        "expired": (forge(secret, {"exp": now - 30}), "expired"),
        "not yet valid": (forge(secret, {"nbf": now + 3600}), "not yet valid"),
        "issued in the future": (forge(secret, {"iat": now + 3600}), "not yet valid"),
        "no exp": (forge(secret, {"exp": DROP}), "'exp'"),
        "no sub": (forge(secret, {"sub": DROP}), "'sub'"),
        "empty sub": (forge(secret, {"sub": ""}), "'sub'"),
        "NUL in sub": (forge(secret, {"sub": "intruder\x00"}), "'sub'"),
        "invented role": (forge(secret, {"roles": ["root"]}), "unknown roles"),
        "invented role beside a real one": (forge(secret, {"roles": ["learner", "superuser"]}),
                                            "unknown roles"),
        "roles not a list": (forge(secret, {"roles": "platform_admin"}), "list of strings"),
        "cohort_ids not a list": (forge(secret, {"cohort_ids": "c1"}), "cohort_ids"),
        "enterprise_id not a string": (forge(secret, {"enterprise_id": 7}), "enterprise_id"),
        "audience of another service": (forge(secret, {"aud": "billing"}), "audience"),
        "garbage": ("garbage", "malformed"),
        "three empty parts": ("..", "malformed"),
        "huge garbage": ("A" * 20_000, "malformed"),
    }
    headers = {name: (f"Bearer {token}", why) for name, (token, why) in bearer.items()}
    headers["empty bearer"] = ("Bearer ", "missing bearer token")
    headers["basic scheme"] = ("Basic aW50cnVkZXI6cGFzcw==", "missing bearer token")
    headers["token without scheme"] = (issue_token(secret, "i", ["platform_admin"]),
                                       "missing bearer token")
    return headers


@pytest.mark.filterwarnings("ignore:The HMAC key is")  # the HS512 forgery, on purpose
async def test_forged_tokens_get_401_with_the_reason_on_every_endpoint(
    client, settings, unique  # noqa: F811 - the RBAC matrix's fixture
):
    wrong = []
    for endpoint, (url, _rule) in endpoints(unique).items():
        for name, (authorization, why) in forged_tokens(settings.jwt_secret).items():
            response = await client.get(url, headers={"Authorization": authorization})
            detail = response.json().get("detail", "")
            if (response.status_code, why in detail) != (401, True) or \
                    response.headers.get("www-authenticate") != "Bearer":
                wrong.append((endpoint, name, response.status_code, detail[:120]))
    assert wrong == []


async def test_genuine_tokens_without_the_right_get_403_on_every_endpoint(
    client, settings, unique  # noqa: F811 - the RBAC matrix's fixture
):
    """Authenticated, but not permitted: L's data read by someone the token does not relate to
    L (claims without the role that gives them meaning grant nothing)."""
    secret, u = settings.jwt_secret, unique
    tokens = {
        "no roles claim": forge(secret, {"sub": f"{u}-M", "roles": DROP}),
        "empty roles": issue_token(secret, f"{u}-M", []),
        "a token for another learner": issue_token(secret, f"{u}-M", ["learner"]),
        "admin claims without the admin role": issue_token(
            secret, f"{u}-M", ["learner"], enterprise_id=f"{u}-e1", cohort_ids=[f"{u}-c1"]),
        "mentor never assigned": issue_token(secret, f"{u}-mentor-9", ["mentor"]),
    }
    wrong = []
    for endpoint, (url, _rule) in endpoints(u).items():
        for name, token in tokens.items():
            response = await client.get(url, headers={"Authorization": f"Bearer {token}"})
            detail = response.json().get("detail", "")
            if response.status_code != 403 or not detail.startswith("forbidden: "):
                wrong.append((endpoint, name, response.status_code, detail[:120]))
    assert wrong == []


async def test_a_nul_in_any_parameter_is_a_400_not_a_500(client, settings, unique):  # noqa: F811
    """schemathesis found `?skill=a%00b` answered 500 (asyncpg cannot send U+0000); so did
    every id parameter of every endpoint."""
    admin = issue_token(settings.jwt_secret, "ops", ["platform_admin"])
    wrong, checked = [], 0
    for endpoint, (url, _rule) in endpoints(unique).items():
        hostile = url.replace(f"{unique}-", f"{unique}-%00").replace("network_", "network%00_")
        if hostile == url:
            continue  # no parameter to put a NUL in (e.g. admin/groups)
        checked += 1
        response = await client.get(hostile, headers={"Authorization": f"Bearer {admin}"})
        body = response.json()
        if response.status_code != 400 or "NUL" not in body["problems"][0]["error"]:
            wrong.append((endpoint, response.status_code, body))
    assert wrong == []
    assert checked >= 9  # every CONTRACT endpoint has an id or a skill to poison
