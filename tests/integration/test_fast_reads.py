"""The pure ASGI path of the allowed reads (hub/api/fast.py, each projection's `FastRead`)
answers exactly what the FastAPI routes answer: same status, body and freshness headers, for
every principal the CONTRACT allows; a refused or unknown case is left to the routes (the RBAC
matrix, which goes through the same app, checks those answers and their audit)."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest

from hub.api.app import create_app
from hub.projections import REGISTERED, read_apis
from tests.integration.test_rbac_matrix import (  # noqa: F401 (fixtures)
    LEARNER_RULE,
    OK,
    principals,
    world,
)
from toolkit.web.read_api import FastRead, learner_param

# The reads of one learner named by `user_id` (defaulting to the caller)
LEARNER_READS = [r.path for api in read_apis() for r in api.fast_reads
                 if r.path is not None and r.subject is learner_param and r.default_to_caller]


def counting(given: dict[str, list[bool]]):
    """The registry with every fast handler wrapped: `given[handler name]` records, per call,
    whether it answered (True) or left the request to the route (False)."""
    def wrap(read: FastRead) -> FastRead:
        async def handler(caller, subject, conn, mentors):
            model = await read.handler(caller, subject, conn, mentors)
            given.setdefault(read.handler.__name__, []).append(model is not None)
            return model
        return replace(read, handler=handler)

    def wrapped(load):
        def read_api():
            api = load()
            return replace(api, fast_reads=[wrap(r) for r in api.fast_reads])
        return read_api

    return [replace(r, read_api=wrapped(r.read_api)) if r.read_api else r for r in REGISTERED]


@pytest.fixture
async def given():
    return {}


@pytest.fixture
async def client(settings, world, given):  # noqa: F811
    app = create_app(settings, counting(given))
    app.state.engine = world  # the lifespan would make its own; share the test's
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://hub"
    ) as http:
        yield http


def test_every_learner_read_of_the_contract_has_a_fast_path():
    assert sorted(LEARNER_READS) == [
        "/api/v1/leadership/identity", "/api/v1/missions/difficulty",
        "/api/v1/portfolio/items", "/api/v1/profiler/value-statement",
        "/api/v1/recipes/profiler-recommendations"]


async def test_fast_answers_equal_the_routes_for_every_allowed_reader(
        client, settings, unique, given):
    tokens = principals(unique, settings.jwt_secret)
    learner = f"{unique}-L"
    allowed = [who for who, status in LEARNER_RULE.items() if status == OK]
    for path in LEARNER_READS:
        for who in allowed:
            headers = {"Authorization": f"Bearer {tokens[who]}"}
            quick = await client.get(path, params={"user_id": learner}, headers=headers)
            # `wait_ms` is a parameter the fast path leaves to the route
            routed = await client.get(path, params={"user_id": learner, "wait_ms": 0},
                                      headers=headers)
            assert quick.status_code == routed.status_code == 200, (path, who, quick.text)
            assert quick.json() == routed.json(), (path, who)
            assert quick.headers["content-type"] == routed.headers["content-type"]
            for name in ("Hub-Projection", "Hub-Newest-Event-At"):
                assert quick.headers[name] == routed.headers[name], (path, who, name)
    # every learner read answered each allowed reader once on the fast path, never more
    assert len(given) == len(LEARNER_READS)
    assert all(calls == [True] * len(allowed) for calls in given.values()), given


TALENT_SEARCH = ("/api/v1/marketplace/talent-matches/profiler?skill=network_security:50"
                 "&skill=incident_response:10.5&limit=5&offset=0")


@pytest.mark.parametrize(("endpoint", "handler_name", "url"), [
    ("mentee_results", "fast_mentee_results", None),
    ("cohort_analytics", "fast_cohort_analytics", None),
    ("enterprise_analytics", "fast_enterprise_analytics", None),
    ("talent_matches", "fast_talent_matches", None),
    ("talent_matches", "fast_talent_matches", TALENT_SEARCH),
])
async def test_fast_path_routed_reads_equal_the_routes_for_every_allowed_reader(
        client, settings, unique, given, endpoint, handler_name, url):
    from tests.integration.test_rbac_matrix import endpoints

    matrix_url, rule = endpoints(unique)[endpoint]
    url = url or matrix_url
    tokens = principals(unique, settings.jwt_secret)
    allowed = [who for who, status in rule.items() if status == OK]
    assert allowed
    for who in allowed:
        headers = {"Authorization": f"Bearer {tokens[who]}"}
        quick = await client.get(url, headers=headers)
        routed = await client.get(url + ("&" if "?" in url else "?") + "wait_ms=0",
                                  headers=headers)
        assert quick.status_code == routed.status_code == 200, (who, quick.text)
        assert quick.json() == routed.json(), who
        assert quick.headers["Hub-Projection"] == routed.headers["Hub-Projection"]
    # the wait_ms reads were left to the route
    assert given[handler_name].count(True) == len(allowed), given
