"""As a user would: publish a sample with the CLI, run the mentorship and missions workers and
the API, and read mentees' results as their mentors (and as others)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx

from consumers.recipes.catalog_store import active_catalog
from producers.sample import generate_sample
from schemas.mentorship_assignment_changed import MentorshipAssignmentChangedV1
from schemas.registry import new_event
from tests.conftest import settings_env
from tests.support import db
from tests.support.kafka import publish_events
from tests.support.oracles import mentorship as oracle
from tests.support.procs import HubProcess, free_port, run_hub
from toolkit.db import create_engine
from toolkit.web.auth import issue_token

# The same traffic as test_publish_and_read: e2e tests share one database per test session, and
# the missions worker run here writes the same learners' difficulties that test reads.
SAMPLE = {"count": 1500, "users": 120, "cohorts": 6, "seed": 11}


async def test_mentors_read_only_their_active_mentees(settings, unique):
    env = settings_env(settings)
    published = run_hub(["publish-sample", *[f"--{k}={v}" for k, v in SAMPLE.items()]], env)
    assert published.returncode == 0, published.stderr

    sample = generate_sample(**SAMPLE)
    events = sample.profiler_events() + sample.mentorship_events()
    pairs = oracle.assignments(events)
    assert any(active for active, _ in pairs.values())
    assert not all(active for active, _ in pairs.values())
    mentors = sorted({mentor for mentor, _ in pairs})
    profiler_count = len(sample.profiler_messages())
    mentorship_count = len(sample.mentorship_messages())

    port = free_port()
    procs = [
        HubProcess(["worker", "mentorship"], env, f"e2e-mentorship-{unique}"),
        HubProcess(["worker", "missions"], env, f"e2e-mentorship-missions-{unique}"),
        HubProcess(["api", "--port", str(port)], env, f"e2e-mentorship-api-{unique}"),
    ]
    url = settings.database_url
    try:
        async def caught_up():
            return (
                await db.applied_offsets(url, "mentorship", settings.profiler_topic)
                >= profiler_count
                and await db.applied_offsets(url, "mentorship", settings.mentorship_topic)
                >= mentorship_count
                and await db.applied_offsets(url, "missions", settings.profiler_topic)
                >= profiler_count
            )

        await db.wait_until(caught_up, timeout=120, what="workers caught up")
        engine = create_engine(settings)
        async with engine.connect() as conn:
            expected = oracle.mentee_results(events, await active_catalog(conn))
        await engine.dispose()

        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            async def api_ready():
                try:
                    return (await client.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await db.wait_until(api_ready, timeout=60, what="api ready")

            def as_mentor(mentor: str) -> dict[str, str]:
                token = issue_token(settings.jwt_secret, mentor, ["mentor"])
                return {"Authorization": f"Bearer {token}"}

            async def results(mentee: str, headers: dict[str, str]) -> httpx.Response:
                return await client.get(f"/api/v1/profiler/mentees/{mentee}/results",
                                        headers=headers)

            async def difficulty(mentee: str, headers: dict[str, str]) -> httpx.Response:
                return await client.get("/api/v1/missions/difficulty",
                                        params={"user_id": mentee}, headers=headers)

            for (mentor, mentee), (active, _) in sorted(pairs.items()):
                response = await results(mentee, as_mentor(mentor))
                if active:
                    assert response.status_code == 200, response.text
                    assert response.json() == expected[mentee]
                    assert (await difficulty(mentee, as_mentor(mentor))).status_code == 200
                else:
                    assert response.status_code == 403, response.text
                    assert (await difficulty(mentee, as_mentor(mentor))).status_code == 403
                for other in mentors + ["mentor-unknown"]:
                    if not pairs.get((other, mentee), (False,))[0]:
                        assert (await results(mentee, as_mentor(other))).status_code == 403

            # Not on the CONTRACT's list for this endpoint: the mentee; a stranger.
            mentee = next(m for (_, m), (active, _) in pairs.items() if active)
            own = issue_token(settings.jwt_secret, mentee, ["learner"])
            assert (await results(mentee, {"Authorization": f"Bearer {own}"})).status_code == 403
            admin = {"Authorization": "Bearer "
                     + issue_token(settings.jwt_secret, "ops", ["platform_admin"])}
            assert (await results(mentee, admin)).json() == expected[mentee]
            assert (await results(f"{unique}-nobody", admin)).status_code == 404
            assert (await results("x" * 65, admin)).status_code == 400
            assert (await client.get(f"/api/v1/profiler/mentees/{mentee}/results")
                    ).status_code == 401
            denied = await db.fetch(url, "select count(*) as n from hub_audit.access_denials "
                                         "where resource like '/api/v1/profiler/mentees/%'")
            assert denied[0]["n"] > 0

            # A deactivation withdraws the mentor's access to both endpoints.
            mentor, mentee = next(pair for pair, (active, _) in sorted(pairs.items()) if active)
            now = datetime.now(UTC)
            change = MentorshipAssignmentChangedV1(
                mentor_id=mentor, mentee_id=mentee, active=False,
                changed_at=max(now, pairs[(mentor, mentee)][1] + timedelta(seconds=1)))
            await publish_events(settings.kafka_bootstrap, settings.mentorship_topic, [
                new_event(change, event_id=uuid.uuid4(), occurred_at=now, producer="mentorship")])

            async def withdrawn():
                return (await results(mentee, as_mentor(mentor))).status_code == 403

            await db.wait_until(withdrawn, timeout=60, what="deactivation applied")
            assert (await difficulty(mentee, as_mentor(mentor))).status_code == 403
        for proc in procs:
            assert proc.alive(), proc.log_tail()
    finally:
        for proc in procs:
            proc.stop()
