"""Every role × endpoint × relationship of CONTRACT.md's read API, on the real database.

One learner L (cohort c1, enterprise e1, opted in to the marketplace) and another M (c2, e2,
not opted in); mentor-1 actively assigned to L, mentor-2 assigned and then unassigned,
mentor-3 never assigned. Every refusal is answered 403 and recorded in the audit table.
"""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import func, select

from hub.api.app import create_app
from hub.projections import all_projections
from tests.support.events import assignment, completed
from tests.support.kafka import publish_events
from tests.support.oracles import dashboard as oracle_dashboard
from toolkit.db import create_engine
from toolkit.streaming.applier import BatchApplier
from toolkit.streaming.bulk import replay_to_end
from toolkit.streaming.dead_letters import DeadLetterSink
from toolkit.streaming.runtime import dead_letter_producer
from toolkit.web.audit import access_denials
from toolkit.web.auth import issue_token

OK, DENIED = 200, 403


def principals(u: str, secret: str) -> dict[str, str]:
    def token(sub, roles, **claims):
        return issue_token(secret, sub, roles, **claims)

    return {
        "self": token(f"{u}-L", ["learner"]),
        "other_learner": token(f"{u}-M", ["learner"]),
        "mentor_active": token(f"{u}-mentor-1", ["mentor"]),
        "mentor_inactive": token(f"{u}-mentor-2", ["mentor"]),
        "mentor_unassigned": token(f"{u}-mentor-3", ["mentor"]),
        "cohort_admin_own": token(f"{u}-ca1", ["cohort_admin"], cohort_ids=[f"{u}-c1"]),
        "cohort_admin_other": token(f"{u}-ca2", ["cohort_admin"], cohort_ids=[f"{u}-c2"]),
        "enterprise_admin_own": token(f"{u}-ea1", ["enterprise_admin"], enterprise_id=f"{u}-e1"),
        "enterprise_admin_other": token(f"{u}-ea2", ["enterprise_admin"], enterprise_id=f"{u}-e2"),
        "platform_admin": token(f"{u}-pa", ["platform_admin"]),
    }


LEARNER_RULE = {
    "self": OK,
    "other_learner": DENIED,
    "mentor_active": OK,
    "mentor_inactive": DENIED,
    "mentor_unassigned": DENIED,
    "cohort_admin_own": OK,
    "cohort_admin_other": DENIED,
    "enterprise_admin_own": OK,
    "enterprise_admin_other": DENIED,
    "platform_admin": OK,
}
MENTEE_RESULTS_RULE = {**LEARNER_RULE, "self": DENIED}  # CONTRACT: mentors and admins only
TALENT_RULE = {
    **dict.fromkeys(LEARNER_RULE, DENIED),
    "enterprise_admin_own": OK,
    "enterprise_admin_other": OK,
    "platform_admin": OK,
}
COHORT_RULE = {
    **dict.fromkeys(LEARNER_RULE, DENIED),
    "cohort_admin_own": OK,
    "enterprise_admin_own": OK,
    "platform_admin": OK,
}
ENTERPRISE_RULE = {
    **dict.fromkeys(LEARNER_RULE, DENIED),
    "enterprise_admin_own": OK,
    "platform_admin": OK,
}
ADMIN_GROUPS_RULE = {  # every admin lists what they may read (possibly nothing)
    **dict.fromkeys(LEARNER_RULE, DENIED),
    **dict.fromkeys(["cohort_admin_own", "cohort_admin_other", "enterprise_admin_own",
                     "enterprise_admin_other", "platform_admin"], OK),
}


def endpoints(u: str) -> dict[str, tuple[str, dict[str, int]]]:
    learner = f"?user_id={u}-L"
    return {
        "difficulty": (f"/api/v1/missions/difficulty{learner}", LEARNER_RULE),
        "recommendations": (f"/api/v1/recipes/profiler-recommendations{learner}", LEARNER_RULE),
        "value_statement": (f"/api/v1/profiler/value-statement{learner}", LEARNER_RULE),
        "portfolio_items": (f"/api/v1/portfolio/items{learner}", LEARNER_RULE),
        "leadership_identity": (f"/api/v1/leadership/identity{learner}", LEARNER_RULE),
        "mentee_results": (f"/api/v1/profiler/mentees/{u}-L/results", MENTEE_RESULTS_RULE),
        "talent_matches": (
            "/api/v1/marketplace/talent-matches/profiler?skill=network_security",
            TALENT_RULE,
        ),
        "cohort_analytics": (f"/api/v1/profiler/admin/cohorts/{u}-c1/analytics", COHORT_RULE),
        "enterprise_analytics": (
            f"/api/v1/profiler/admin/enterprise/analytics?enterprise_id={u}-e1",
            ENTERPRISE_RULE,
        ),
        "admin_groups": ("/api/v1/profiler/admin/groups", ADMIN_GROUPS_RULE),
        "cohort_skill_gaps": (f"/api/v1/profiler/admin/cohorts/{u}-c1/skill-gaps", COHORT_RULE),
        "enterprise_skill_gaps": (
            f"/api/v1/profiler/admin/enterprise/skill-gaps?enterprise_id={u}-e1",
            ENTERPRISE_RULE,
        ),
    }


async def apply_everywhere(settings, profiler: list, mentorship: list):
    """Publish the facts and apply them to every projection; returns an engine (dispose it)."""
    await publish_events(settings.kafka_bootstrap, settings.profiler_topic, profiler)
    await publish_events(settings.kafka_bootstrap, settings.mentorship_topic, mentorship)
    engine = create_engine(settings)
    producer = dead_letter_producer(settings)
    await producer.start()
    try:
        for name, projection in all_projections(settings).items():
            sink = DeadLetterSink(producer, settings.dead_letter_topic(name), name)
            applier = BatchApplier(projection, engine, sink, settings)
            stats = await replay_to_end(
                applier, settings.kafka_bootstrap, projection.topics(settings)
            )
            assert stats.dead_lettered == 0, name
    except BaseException:
        await engine.dispose()
        raise
    finally:
        await producer.stop()
    return engine


@pytest.fixture
async def world(settings, unique):
    """Publish L's and M's facts and apply them to every projection."""
    u = unique
    profiler = [
        completed(
            f"{u}-L",
            minute=1,
            level="advanced",
            score=72,
            cohort_id=f"{u}-c1",
            enterprise_id=f"{u}-e1",
            opt_in=True,
        ),
        completed(
            f"{u}-M",
            minute=2,
            level="beginner",
            score=35,
            cohort_id=f"{u}-c2",
            enterprise_id=f"{u}-e2",
            opt_in=False,
        ),
    ]
    mentorship = [
        assignment(f"{u}-mentor-1", f"{u}-L", active=True, minute=3),
        assignment(f"{u}-mentor-2", f"{u}-L", active=True, minute=3),
        assignment(f"{u}-mentor-2", f"{u}-L", active=False, minute=4),
    ]
    engine = await apply_everywhere(settings, profiler, mentorship)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
async def client(settings, world):
    app = create_app(settings)
    app.state.engine = world  # the lifespan would make its own; share the test's
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://hub"
    ) as http:
        yield http


async def denials(engine) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(access_denials))).scalar()


async def test_every_role_on_every_endpoint(client, world, settings, unique):
    tokens = principals(unique, settings.jwt_secret)
    mismatches = []
    for endpoint, (url, rule) in endpoints(unique).items():
        for who, token in tokens.items():
            before = await denials(world)
            response = await client.get(url, headers={"Authorization": f"Bearer {token}"})
            if response.status_code != rule[who]:
                mismatches.append((endpoint, who, response.status_code, response.text[:200]))
                continue
            audited = await denials(world) - before
            if audited != (1 if rule[who] == DENIED else 0):
                mismatches.append((endpoint, who, "audit rows", audited))
            if rule[who] == DENIED:
                assert response.json()["detail"].startswith("forbidden: "), response.text
        anonymous = await client.get(url)
        if anonymous.status_code != 401:
            mismatches.append((endpoint, "no token", anonymous.status_code, anonymous.text[:200]))
    assert mismatches == []


async def test_talent_matches_show_only_opted_in_learners_of_the_callers_enterprise(
    client, settings, unique
):
    tokens = principals(unique, settings.jwt_secret)
    url = "/api/v1/marketplace/talent-matches/profiler?skill=network_security&limit=100"

    def users(response):
        return {item["user_id"] for item in response.json()["items"]}

    own = await client.get(
        url, headers={"Authorization": f"Bearer {tokens['enterprise_admin_own']}"}
    )
    other = await client.get(
        url, headers={"Authorization": f"Bearer {tokens['enterprise_admin_other']}"}
    )
    platform = await client.get(
        url, headers={"Authorization": f"Bearer {tokens['platform_admin']}"}
    )
    assert f"{unique}-L" in users(own)
    assert f"{unique}-L" not in users(other)  # another enterprise's learner
    assert f"{unique}-M" not in users(other) | users(platform)  # never opted in
    assert f"{unique}-L" in users(platform)


async def test_admin_groups_list_what_each_admin_may_read(client, settings, unique):
    tokens = principals(unique, settings.jwt_secret)
    u = unique

    async def groups(who: str) -> tuple[list[str], list[str]]:
        response = await client.get("/api/v1/profiler/admin/groups",
                                    headers={"Authorization": f"Bearer {tokens[who]}"})
        body = response.json()
        return ([e["enterprise_id"] for e in body["enterprises"]],
                [c["cohort_id"] for c in body["cohorts"]])

    assert await groups("cohort_admin_own") == ([], [f"{u}-c1"])
    assert await groups("enterprise_admin_own") == ([f"{u}-e1"], [f"{u}-c1"])
    assert await groups("enterprise_admin_other") == ([f"{u}-e2"], [f"{u}-c2"])
    enterprises, cohorts = await groups("platform_admin")
    assert {f"{u}-e1", f"{u}-e2"} <= set(enterprises)
    assert {f"{u}-c1", f"{u}-c2"} <= set(cohorts)


async def test_skill_gaps_of_a_group_follow_the_track_targets(client, settings, unique):
    """L (defender, score 72): network_security 72 against 75, incident_response 77 against 80."""
    token = principals(unique, settings.jwt_secret)["cohort_admin_own"]
    response = await client.get(f"/api/v1/profiler/admin/cohorts/{unique}-c1/skill-gaps",
                                headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["learners"] == 1
    assert [(g["skill"], g["average_target"], g["average_gap"], g["learners_below_target"])
            for g in body["gaps"]] == [("incident_response", 80.0, 3.0, 1),
                                       ("network_security", 75.0, 3.0, 1)]
    missing = await client.get("/api/v1/profiler/admin/cohorts/no-such-cohort/skill-gaps",
                               headers={"Authorization": f"Bearer {tokens_platform(settings)}"})
    assert missing.status_code == 404


def tokens_platform(settings) -> str:
    return issue_token(settings.jwt_secret, "pa", ["platform_admin"])


async def test_a_cohort_is_an_enterprise_admins_only_when_all_its_learners_are_theirs(
    settings, unique
):
    """A cohort partly in e1 and partly in no enterprise (or in e2) is not e1's: its totals and
    skill gaps would show the others' scores (with two learners, the other's exactly). The
    expected answers come from the independent oracle; one cohort id holds a `/`."""
    u = unique
    e1, e2 = f"{u}-e1", f"{u}-e2"
    cohorts = {
        "with_nobody": f"{u}-mixed-null",   # one learner of e1, one in no enterprise
        "with_e2": f"{u}-mixed-e2",         # one of e1, one of e2
        "all_e1": f"{u}/team-e1",           # two of e1 (and a `/` in its id)
        "no_enterprise": f"{u}-none",       # one learner in no enterprise
    }
    events = [
        completed(f"{u}-a", minute=1, score=80, cohort_id=cohorts["with_nobody"],
                  enterprise_id=e1),
        completed(f"{u}-b", minute=2, score=41, cohort_id=cohorts["with_nobody"],
                  enterprise_id=None),
        completed(f"{u}-c", minute=3, score=60, cohort_id=cohorts["with_e2"], enterprise_id=e1),
        completed(f"{u}-d", minute=4, score=52, cohort_id=cohorts["with_e2"], enterprise_id=e2),
        completed(f"{u}-e", minute=5, score=70, cohort_id=cohorts["all_e1"], enterprise_id=e1),
        completed(f"{u}-f", minute=6, score=66, cohort_id=cohorts["all_e1"], enterprise_id=e1),
        completed(f"{u}-g", minute=7, score=30, cohort_id=cohorts["no_enterprise"],
                  enterprise_id=None),
        # b once was e1's: only the current session counts
        completed(f"{u}-b", minute=0, score=10, cohort_id=cohorts["all_e1"], enterprise_id=e1),
    ]
    claims = {
        "enterprise_admin_e1": (["enterprise_admin"], e1, []),
        "enterprise_admin_e2": (["enterprise_admin"], e2, []),
        "enterprise_admin_no_enterprise": (["enterprise_admin"], None, []),
        "cohort_admin_mixed": (["cohort_admin"], None, [cohorts["with_nobody"]]),
        "platform_admin": (["platform_admin"], None, []),
    }
    expected_e1 = {"with_nobody": False, "with_e2": False, "all_e1": True,
                   "no_enterprise": False}
    assert {k: oracle_dashboard.may_read_cohort(events, c, *claims["enterprise_admin_e1"])
            for k, c in cohorts.items()} == expected_e1  # the oracle reads the CONTRACT so

    engine = await apply_everywhere(settings, events, [])
    app = create_app(settings)
    app.state.engine = engine
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://hub") as client:
            mismatches = []
            for who, (roles, enterprise, cohort_ids) in claims.items():
                headers = {"Authorization": "Bearer " + issue_token(
                    settings.jwt_secret, f"{u}-{who}", roles, enterprise_id=enterprise,
                    cohort_ids=cohort_ids)}
                for cohort in cohorts.values():
                    allowed = oracle_dashboard.may_read_cohort(events, cohort, roles,
                                                               enterprise, cohort_ids)
                    for kind in ("analytics", "skill-gaps"):
                        before = await denials(engine)
                        response = await client.get(
                            f"/api/v1/profiler/admin/cohorts/{quote(cohort, safe='')}/{kind}",
                            headers=headers)
                        audited = await denials(engine) - before
                        if (response.status_code, audited) != ((OK, 0) if allowed
                                                               else (DENIED, 1)):
                            mismatches.append((who, cohort, kind, response.status_code,
                                               audited, response.text[:200]))
                        elif not allowed:
                            detail = response.json()["detail"]
                            leaked = {e1, e2} - {enterprise}
                            if not detail.startswith("forbidden: ") or any(
                                    e in detail for e in leaked):
                                mismatches.append((who, cohort, kind, detail))
                        elif kind == "analytics":
                            body = response.json()
                            if body["cohort_id"] != cohort:
                                mismatches.append((who, cohort, body["cohort_id"]))
                listed = (await client.get("/api/v1/profiler/admin/groups",
                                           headers=headers)).json()
                mine = (sorted(e["enterprise_id"] for e in listed["enterprises"]
                               if e["enterprise_id"].startswith(u)),
                        sorted(c["cohort_id"] for c in listed["cohorts"]
                               if c["cohort_id"].startswith(u)))
                oracle = oracle_dashboard.readable_groups(events, roles, enterprise, cohort_ids)
                if mine != oracle:
                    mismatches.append((who, "groups", mine, oracle))
            assert mismatches == []

            # The `/` in a cohort id needs no escaping: the route takes any id.
            platform = {"Authorization": "Bearer " + issue_token(
                settings.jwt_secret, "pa", ["platform_admin"])}
            plain = await client.get(f"/api/v1/profiler/admin/cohorts/{u}/team-e1/analytics",
                                     headers=platform)
            assert plain.status_code == 200, plain.text
            assert (plain.json()["cohort_id"], plain.json()["learners"]) == (cohorts["all_e1"], 2)
            gaps = await client.get(f"/api/v1/profiler/admin/cohorts/{u}/team-e1/skill-gaps",
                                    headers=platform)
            assert (gaps.status_code, gaps.json()["cohort_id"]) == (200, cohorts["all_e1"])
    finally:
        await engine.dispose()
