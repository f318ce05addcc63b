"""The pure ASGI path of the allowed single-learner reads (hub/api/fast.py) answers exactly what
the FastAPI routes answer: same status, body and freshness headers, for every principal the
CONTRACT allows; a refused or unknown case is left to the routes (the RBAC matrix, which goes
through the same app, checks those answers and their audit)."""

from __future__ import annotations

import pytest

from hub.api import fast
from tests.integration.test_rbac_matrix import (  # noqa: F401 (fixtures)
    LEARNER_RULE,
    OK,
    client,
    principals,
    world,
)


@pytest.fixture
def served(monkeypatch):
    """How many answers each fast handler gave (None: it left the request to the route)."""
    counts: dict[str, int] = {}
    wrapped = {}
    for path, (projection, handler) in fast.ROUTES.items():
        async def counting(caller, learner, conn, _handler=handler, _path=path):
            model = await _handler(caller, learner, conn)
            if model is not None:
                counts[_path] = counts.get(_path, 0) + 1
            return model
        wrapped[path] = (projection, counting)
    monkeypatch.setattr(fast, "ROUTES", wrapped)
    return counts


async def test_fast_answers_equal_the_routes_for_every_allowed_reader(
        client, settings, unique, served):  # noqa: F811
    tokens = principals(unique, settings.jwt_secret)
    learner = f"{unique}-L"
    allowed = [who for who, status in LEARNER_RULE.items() if status == OK]
    for path in fast.ROUTES:
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
    assert served == {path: len(allowed) for path in fast.ROUTES}


TALENT_SEARCH = ("/api/v1/marketplace/talent-matches/profiler?skill=network_security:50"
                 "&skill=incident_response:10.5&limit=5&offset=0")


@pytest.mark.parametrize(("endpoint", "handler_name", "url"), [
    ("mentee_results", "mentee_results", None),
    ("cohort_analytics", "cohort_analytics", None),
    ("enterprise_analytics", "enterprise_analytics", None),
    ("talent_matches", "talent_matches", None),
    ("talent_matches", "talent_matches", TALENT_SEARCH),
])
async def test_fast_path_routed_reads_equal_the_routes_for_every_allowed_reader(
        client, settings, unique, monkeypatch, endpoint, handler_name, url):  # noqa: F811
    from tests.integration.test_rbac_matrix import endpoints

    matrix_url, rule = endpoints(unique)[endpoint]
    url = url or matrix_url
    tokens = principals(unique, settings.jwt_secret)
    given = []
    handler = getattr(fast, handler_name)

    async def counting(caller, subject, conn):
        model = await handler(caller, subject, conn)
        given.append(model is not None)
        return model

    monkeypatch.setattr(fast, handler_name, counting)
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
    assert given.count(True) == len(allowed)  # the wait_ms reads were left to the route
