"""The dashboard in headless Chromium, as an admin would see it: publish a generated sample
with the CLI, run the analytics and recipes workers and the API as processes, sign in with an
enterprise admin's and a cohort admin's token, and check that every figure and chart shown is
what the API answers for that token (and the API what the oracles compute), that a cohort
admin sees only their cohorts, and that the page refreshes by itself when new events are
applied. Screenshots go to test-artifacts/."""

from __future__ import annotations

import asyncio
import math
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import quote

import httpx

from consumers.recipes.catalog import shipped_catalog
from hub.api.dashboard import CHART_JS
from producers.sample import generate_sample
from tests.conftest import settings_env
from tests.support import db
from tests.support.browser import chromium_context, chromium_path
from tests.support.events import T0, completed
from tests.support.kafka import publish_events
from tests.support.oracles.analytics import analytics as oracle_analytics
from tests.support.oracles.dashboard import group_skill_gaps
from tests.support.procs import ARTIFACTS, HubProcess, free_port, run_hub
from tests.unit.test_analytics_rules import assert_same
from toolkit.web.auth import issue_token

SAMPLE = {"count": 1200, "users": 120, "cohorts": 6, "seed": 41}
ADMIN = "/api/v1/profiler/admin"
WORKERS = ("analytics", "recipes")


def shown(value: float | None) -> str:
    """How the page writes a score: JavaScript's toFixed(1) on the exact binary value."""
    if value is None:
        return "—"
    return str(Decimal(value).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


async def page_figures(page) -> dict:
    """Everything the page shows that comes from the API, read from the DOM and the charts."""
    return await page.evaluate("""() => {
        const text = (id) => document.getElementById(id).textContent;
        const chart = (id) => {
            const c = Chart.getChart(id);
            return {labels: c.data.labels, values: c.data.datasets[0].data};
        };
        return {
            scope: document.body.dataset.scope,
            freshness: text("freshness"),
            learners: text("learners"), sessions: text("sessions"),
            average: text("average-score"),
            options: [...document.querySelectorAll("#scope option")].map(o => o.value),
            rows: [...document.querySelectorAll("#cohorts tbody tr")].map(r => ({
                cohort: r.dataset.cohort,
                cells: [...r.cells].map(c => c.textContent)})),
            difficulty: chart("difficulty-chart"),
            skills: chart("skills-chart"),
            gaps: chart("gaps-chart"),
        };
    }""")


def expected_figures(groups: dict, analytics: dict, gaps: dict, cohorts: list[dict]) -> dict:
    skills = sorted(analytics["skill_averages"].items(), key=lambda kv: -kv[1])
    return {
        "freshness": groups["freshness"],
        "learners": str(analytics["learners"]),
        "sessions": str(analytics["sessions_completed"]),
        "average": shown(analytics["average_overall_score"]),
        "options": [f"enterprise:{e['enterprise_id']}" for e in groups["enterprises"]]
                   + [f"cohort:{c['cohort_id']}" for c in groups["cohorts"]],
        "rows": [{"cohort": c["cohort_id"],
                  "cells": [c["cohort_id"], ", ".join(c["enterprise_ids"]) or "—",
                            str(c["learners"]), str(c["sessions_completed"]),
                            shown(c["average_overall_score"])]}
                 for c in cohorts],
        "difficulty": {"labels": [f"Level {d}" for d in "12345"],
                       "values": [analytics["difficulty_distribution"][d] for d in "12345"]},
        "skills": {"labels": [s for s, _ in skills], "values": [v for _, v in skills]},
        "gaps": {"labels": [g["skill"] for g in gaps["gaps"]],
                 "values": [g["average_gap"] for g in gaps["gaps"]]},
    }


async def get(client: httpx.AsyncClient, path: str, token: str) -> dict:
    response = await client.get(path, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, (path, response.text)
    return response.json()


def cohort_path(cohort_id: str) -> str:
    return f"{ADMIN}/cohorts/{quote(cohort_id, safe='')}"


async def api_view(client: httpx.AsyncClient, token: str, scope: str) -> dict:
    """What the API answers this token for the page's scope, as the page shows it."""
    groups = await get(client, f"{ADMIN}/groups", token)
    kind, group_id = scope.split(":", 1)
    if kind == "enterprise":
        analytics = await get(client, f"{ADMIN}/enterprise/analytics"
                                      f"?enterprise_id={group_id}", token)
        gaps = await get(client, f"{ADMIN}/enterprise/skill-gaps"
                                 f"?enterprise_id={group_id}&limit=10", token)
    else:
        analytics = await get(client, f"{cohort_path(group_id)}/analytics", token)
        gaps = await get(client, f"{cohort_path(group_id)}/skill-gaps?limit=10", token)
    cohorts = [await get(client, f"{cohort_path(c['cohort_id'])}/analytics", token)
               for c in groups["cohorts"]]
    return expected_figures(groups, analytics, gaps, cohorts)


async def wait_applied(settings, count: int) -> None:
    async def caught_up():
        offsets = [await db.applied_offsets(settings.database_url, name,
                                            settings.profiler_topic)
                   for name in WORKERS]
        return min(offsets) >= count

    await db.wait_until(caught_up, timeout=180, what=f"{count} events applied")


async def wait_ready(client: httpx.AsyncClient) -> None:
    async def api_ready():
        try:
            return (await client.get("/readyz")).status_code == 200
        except httpx.TransportError:
            return False

    await db.wait_until(api_ready, timeout=60, what="api ready")


def serve(env: dict[str, str], unique: str, name: str) -> tuple[list[HubProcess], str]:
    """The analytics and recipes workers and the API as processes; (processes, base URL)."""
    port = free_port()
    procs = [HubProcess(["worker", worker], env, f"e2e-{name}-{worker}-{unique}")
             for worker in WORKERS]
    procs.append(HubProcess(["api", "--port", str(port)], env, f"e2e-{name}-api-{unique}"))
    return procs, f"http://127.0.0.1:{port}"


async def test_dashboard_shows_what_the_api_answers(settings, unique, tmp_path):
    chromium_path()  # skip (or, under CI, fail) before any work when there is no browser
    assert CHART_JS.is_file(), "Chart.js is not vendored: run `make setup`"
    env = settings_env(settings)
    published = run_hub(["publish-sample", *[f"--{k}={v}" for k, v in SAMPLE.items()]], env)
    assert published.returncode == 0, published.stderr
    events = generate_sample(**SAMPLE).profiler_events()
    cohorts_expected, enterprises_expected = oracle_analytics(events)

    procs, base = serve(env, unique, "dashboard")
    try:
        await wait_applied(settings, len(events))
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            await wait_ready(client)

            # The enterprise with the most cohorts, and one of its cohorts.
            enterprise = max(sorted(enterprises_expected),
                             key=lambda e: len(enterprises_expected[e]["cohorts"]))
            own_cohorts = [c["cohort_id"] for c in enterprises_expected[enterprise]["cohorts"]
                           if cohorts_expected[c["cohort_id"]]["enterprise_ids"] == [enterprise]]
            assert len(own_cohorts) >= 2, enterprises_expected[enterprise]
            cohort = own_cohorts[0]
            enterprise_admin = issue_token(settings.jwt_secret, f"{unique}-ea",
                                           ["enterprise_admin"], enterprise_id=enterprise)
            cohort_admin = issue_token(settings.jwt_secret, f"{unique}-ca", ["cohort_admin"],
                                       cohort_ids=[cohort])

            # The API itself agrees with the oracles on what the page is built from.
            body = await get(client, f"{ADMIN}/enterprise/analytics?enterprise_id={enterprise}",
                             enterprise_admin)
            for key in ("enterprise_id", "freshness"):
                body.pop(key)
            assert_same(body, enterprises_expected[enterprise])
            catalog = shipped_catalog()
            for scope, group_id, path in (
                ("enterprise", enterprise, f"enterprise/skill-gaps?enterprise_id={enterprise}"),
                ("cohort", cohort, f"cohorts/{cohort}/skill-gaps"),
            ):
                answer = await get(client, f"{ADMIN}/{path}{'&' if '?' in path else '?'}limit=200",
                                   enterprise_admin)
                oracle = group_skill_gaps(events, catalog, scope, group_id)
                assert oracle is not None and answer["learners"] == oracle["learners"]
                assert {g["skill"] for g in answer["gaps"]} == {
                    g["skill"] for g in oracle["gaps"]}
                by_skill = {g["skill"]: g for g in oracle["gaps"]}
                for gap in answer["gaps"]:
                    assert_same(gap, by_skill[gap["skill"]])
                ranked = [(-g["average_gap"], g["skill"]) for g in answer["gaps"]]
                assert ranked == sorted(ranked)

            ARTIFACTS.mkdir(exist_ok=True)
            async with chromium_context(tmp_path / "chromium") as (browser, errors):
                page = await browser.new_page()
                response = await page.goto(f"{base}/dashboard?refresh=1#token={enterprise_admin}")
                assert response.status == 200
                assert "script-src 'self'" in response.headers["content-security-policy"]
                await page.wait_for_selector("body[data-state=ready]")
                assert "token=" not in page.url  # the token is taken from the URL at once

                # The enterprise's own view: totals, charts and its cohorts, as the API says.
                figures = await page_figures(page)
                assert figures.pop("scope") == f"enterprise:{enterprise}"
                expected = await api_view(client, enterprise_admin, f"enterprise:{enterprise}")
                assert figures == expected
                assert {r["cohort"] for r in figures["rows"]} == set(own_cohorts)
                await page.screenshot(path=ARTIFACTS / "dashboard-enterprise-admin.png",
                                      full_page=True)

                # Choosing one of its cohorts shows that cohort's figures.
                loads = await page.get_attribute("body", "data-loads")
                await page.select_option("#scope", f"cohort:{cohort}")
                await page.wait_for_function(
                    "([loads, scope]) => document.body.dataset.loads !== loads "
                    "&& document.body.dataset.scope === scope", arg=[loads, f"cohort:{cohort}"])
                figures = await page_figures(page)
                figures.pop("scope")
                assert figures == await api_view(client, enterprise_admin, f"cohort:{cohort}")

                # A cohort admin sees their cohort and nothing else.
                other = await browser.new_page()
                await other.goto(f"{base}/dashboard?refresh=1#token={cohort_admin}")
                await other.wait_for_selector("body[data-state=ready]")
                figures = await page_figures(other)
                assert figures["options"] == [f"cohort:{cohort}"]
                assert [r["cohort"] for r in figures["rows"]] == [cohort]
                figures.pop("scope")
                assert figures == await api_view(client, cohort_admin, f"cohort:{cohort}")
                await other.screenshot(path=ARTIFACTS / "dashboard-cohort-admin.png",
                                       full_page=True)
                await other.close()

                # New events applied: the page refreshes by itself (no reload).
                await page.select_option("#scope", f"enterprise:{enterprise}")
                await page.wait_for_function(
                    "scope => document.body.dataset.scope === scope",
                    arg=f"enterprise:{enterprise}")
                before = await page_figures(page)
                newest = max(e.occurred_at for e in events)
                minute = (newest - T0) / timedelta(minutes=1) + 1
                newcomer = completed(f"{unique}-newcomer", minute=minute, score=88.0,
                                     level="expert", cohort_id=cohort, enterprise_id=enterprise)
                await publish_events(settings.kafka_bootstrap, settings.profiler_topic,
                                     [newcomer])
                await wait_applied(settings, len(events) + 1)
                now = await get(client, f"{ADMIN}/groups", enterprise_admin)
                assert now["freshness"] != before["freshness"]
                await page.wait_for_function(
                    "([f, g]) => document.body.dataset.freshness === f "
                    "&& document.body.dataset.gapsFreshness === g",
                    arg=[now["freshness"], now["skill_gaps_freshness"]], timeout=60_000)
                after = await page_figures(page)
                after.pop("scope")
                assert after == await api_view(client, enterprise_admin, f"enterprise:{enterprise}")
                assert int(after["learners"]) == int(before["learners"]) + 1
                assert after["difficulty"]["values"][4] == before["difficulty"]["values"][4] + 1
                assert errors == []  # no CSP refusal, no script error, no failed request
    finally:
        for proc in procs:
            proc.stop()


# `?refresh=` as typed -> the polling interval the page uses (seconds): clamped to 2-300 s,
# the default 10 s for anything that is not a finite number.
REFRESH_CASES = {"3000000": 300, "301": 300, "Infinity": 10, "-Infinity": 10, "abc": 10,
                 "": 10, " ": 10, "NaN": 10, "0": 2, "-5": 2, "1": 2, "45": 45, "2.5": 2.5}


async def test_dashboard_survives_awkward_ids_failures_and_links(settings, unique, tmp_path):
    """A cohort id with `/` works end to end; one group failing leaves the rest of the page
    working; `?refresh=` is clamped; a malformed `#token=` is explained, not thrown."""
    chromium_path()
    assert CHART_JS.is_file(), "Chart.js is not vendored: run `make setup`"
    u = unique
    enterprise = f"{u}-ent"
    slash, plain, mixed = f"{u}/team/one", f"{u}-plain", f"{u}-mixed"
    events = [
        completed(f"{u}-a", minute=1, score=72.0, cohort_id=slash, enterprise_id=enterprise),
        completed(f"{u}-b", minute=2, score=48.0, level="beginner", cohort_id=slash,
                  enterprise_id=enterprise),
        completed(f"{u}-c", minute=3, score=63.0, cohort_id=plain, enterprise_id=enterprise),
        # partly in no enterprise: not the enterprise admin's, so not listed for them
        completed(f"{u}-d", minute=4, score=81.0, cohort_id=mixed, enterprise_id=enterprise),
        completed(f"{u}-e", minute=5, score=35.0, cohort_id=mixed, enterprise_id=None),
    ]
    await publish_events(settings.kafka_bootstrap, settings.profiler_topic, events)
    token = issue_token(settings.jwt_secret, f"{u}-ea", ["enterprise_admin"],
                        enterprise_id=enterprise)
    procs, base = serve(settings_env(settings), unique, "dashboard-awkward")
    try:
        await wait_applied(settings, len(events))
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            await wait_ready(client)
            groups = await get(client, f"{ADMIN}/groups", token)
            assert {c["cohort_id"] for c in groups["cohorts"]} == {slash, plain}

            ARTIFACTS.mkdir(exist_ok=True)
            async with chromium_context(tmp_path / "chromium") as (browser, errors):
                # A huge ?refresh= is clamped, so the page does not poll in a loop.
                page = await browser.new_page()
                polls: list[str] = []
                page.on("request", lambda r: polls.append(r.url)
                        if r.url.endswith(f"{ADMIN}/groups") else None)
                await page.goto(f"{base}/dashboard?refresh=3000000#token={token}")
                await page.wait_for_selector("body[data-state=ready]")
                assert await page.get_attribute("body", "data-refresh-seconds") == "300"
                shown_refresh = await page.evaluate(
                    "cases => Object.fromEntries(cases.map(c => [c, refreshSeconds(c)]))",
                    list(REFRESH_CASES))
                assert shown_refresh == REFRESH_CASES
                assert await page.evaluate("refreshSeconds(null)") == 10
                await asyncio.sleep(3)  # an overflowed timer polls ~50 times a second
                assert len(polls) == 1, len(polls)

                # The enterprise's cohorts, the one with a `/` included, are shown.
                figures = await page_figures(page)
                assert figures.pop("scope") == f"enterprise:{enterprise}"
                assert figures == await api_view(client, token, f"enterprise:{enterprise}")
                assert {r["cohort"] for r in figures["rows"]} == {slash, plain}
                assert await page.is_hidden("#error")

                # Choosing the cohort with a `/` shows its own figures.
                loads = await page.get_attribute("body", "data-loads")
                await page.select_option("#scope", f"cohort:{slash}")
                await page.wait_for_function(
                    "([loads, scope]) => document.body.dataset.loads !== loads "
                    "&& document.body.dataset.scope === scope", arg=[loads, f"cohort:{slash}"])
                figures = await page_figures(page)
                figures.pop("scope")
                assert figures == await api_view(client, token, f"cohort:{slash}")
                assert figures["learners"] == "2"
                await page.screenshot(path=ARTIFACTS / "dashboard-cohort-with-slash.png",
                                      full_page=True)
                await page.close()
                assert errors == []

                # One group failing (here: made to answer 500) leaves the others shown.
                page = await browser.new_page()
                failing = f"**{cohort_path(plain)}/analytics"
                await page.route(failing, lambda route: route.fulfill(
                    status=500, content_type="application/json",
                    body='{"detail": "injected failure"}'))
                await page.goto(f"{base}/dashboard#token={token}")
                await page.wait_for_selector("body[data-state=ready]")
                figures = await page_figures(page)
                assert figures["learners"] == str(
                    (await api_view(client, token, f"enterprise:{enterprise}"))["learners"])
                rows = {r["cohort"]: r["cells"] for r in figures["rows"]}
                assert rows[slash][2] == "2"  # the readable cohort's learners
                assert rows[plain][0] == plain and "injected failure" in rows[plain][1]
                assert await page.get_attribute(f"tr[data-cohort='{plain}']",
                                                "data-error") == "500"
                assert f"cohort {plain}: 500: injected failure" in await page.text_content(
                    "#error")
                await page.screenshot(path=ARTIFACTS / "dashboard-one-group-failing.png",
                                      full_page=True)
                await page.close()
                injected = [e for e in errors if "500" in e]
                assert injected and injected == errors  # only the injected failure
                errors.clear()

                # A malformed #token= is explained; nothing throws.
                page = await browser.new_page()
                await page.goto(f"{base}/dashboard#token=%E0%A4%A")
                await page.wait_for_selector("#error:not([hidden])")
                assert "malformed" in await page.text_content("#error")
                assert await page.get_attribute("body", "data-state") == "signed-out"
                assert await page.is_visible("#sign-in")
                assert "token=" not in page.url
                await page.close()
                assert errors == []
    finally:
        for proc in procs:
            proc.stop()
