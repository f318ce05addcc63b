"""The pure ASGI path of the allowed reads (hub/api/fast.py, each projection's `FastRead`)
answers exactly what the FastAPI routes answer: same status, body and freshness headers, for
every principal the CONTRACT allows; a refused or unknown case is left to the routes (the RBAC
matrix, which goes through the same app, checks those answers and their audit)."""

from __future__ import annotations

import uuid
from dataclasses import replace

import httpx
import pytest

from hub.api.app import create_app
from hub.projections import REGISTERED, read_apis
from tests.integration.test_rbac_matrix import (  # noqa: F401 (fixtures)
    LEARNER_RULE,
    OK,
    apply_everywhere,
    principals,
    world,
)
from tests.support.events import assignment, completed, invalidated
from toolkit.web.auth import issue_token
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
            assert quick.content == routed.content, (path, who)
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
        # the same bytes, not only the same JSON: a fast path may serialize by itself
        assert quick.content == routed.content, who
        assert quick.headers["Hub-Projection"] == routed.headers["Hub-Projection"]
    # the wait_ms reads were left to the route
    assert given[handler_name].count(True) == len(allowed), given


@pytest.fixture
async def mentees(settings, unique):
    """Mentee A: three sessions, the newest invalidated (the current one is the second);
    mentee B: assigned, no session yet. mentor-1 actively assigned to both."""
    u = unique
    first, second, newest = (uuid.uuid4() for _ in range(3))
    profiler = [
        completed(f"{u}-A", minute=1, score=40, session_id=first, cohort_id=f"{u}-c1"),
        completed(f"{u}-A", minute=2, score=61.3, session_id=second, cohort_id=f"{u}-c2",
                  enterprise_id=f"{u}-e2"),
        completed(f"{u}-A", minute=3, score=99.9, session_id=newest, cohort_id=f"{u}-c3"),
        invalidated(f"{u}-A", newest, minute=4),
    ]
    mentorship = [assignment(f"{u}-mentor-1", f"{u}-A", active=True, minute=1),
                  assignment(f"{u}-mentor-1", f"{u}-B", active=True, minute=1)]
    engine = await apply_everywhere(settings, profiler, mentorship)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
async def mentee_client(settings, mentees, given):
    app = create_app(settings, counting(given))
    app.state.engine = mentees
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://hub"
    ) as http:
        yield http


async def test_mentee_results_fast_bytes_equal_the_routes_with_history_and_without_sessions(
        mentee_client, settings, unique, given):
    u = unique
    readers = {
        "mentor": issue_token(settings.jwt_secret, f"{u}-mentor-1", ["mentor"]),
        # over the current session's placement (second session), not the newest one's
        "enterprise_admin": issue_token(settings.jwt_secret, f"{u}-ea", ["enterprise_admin"],
                                        enterprise_id=f"{u}-e2"),
        "cohort_admin": issue_token(settings.jwt_secret, f"{u}-ca", ["cohort_admin"],
                                    cohort_ids=[f"{u}-c2"]),
    }
    answered = []
    for mentee, who in [("A", "mentor"), ("A", "mentor"), ("A", "enterprise_admin"),
                        ("A", "cohort_admin"), ("B", "mentor")]:
        url = f"/api/v1/profiler/mentees/{u}-{mentee}/results"
        headers = {"Authorization": f"Bearer {readers[who]}"}
        quick = await mentee_client.get(url, headers=headers)
        routed = await mentee_client.get(url + "?wait_ms=0", headers=headers)
        assert quick.status_code == routed.status_code == 200, (mentee, who, quick.text)
        assert quick.content == routed.content, (mentee, who)
        answered.append(quick.json())
    a, b = answered[0], answered[-1]
    assert [s["overall_score"] for s in a["sessions"]] == [99.9, 61.3, 40]
    assert a["sessions"][0]["invalidated"]["reason"] == "anti-cheat review"
    assert a["current_session"] == a["sessions"][1]
    assert b == {"mentee_id": f"{u}-B", "current_session": None, "sessions": []}
    assert given["fast_mentee_results"] == [True] * 5

    # an admin over the newest (invalidated) session's cohort only is refused: by the route
    stale_admin = issue_token(settings.jwt_secret, f"{u}-ca3", ["cohort_admin"],
                              cohort_ids=[f"{u}-c3"])
    refused = await mentee_client.get(f"/api/v1/profiler/mentees/{u}-A/results",
                                      headers={"Authorization": f"Bearer {stale_admin}"})
    assert refused.status_code == 403
    assert given["fast_mentee_results"][-1] is False
