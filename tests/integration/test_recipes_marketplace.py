"""The marketplace talent search on the real PostgreSQL: opted-in learners only, enterprise
scoping, inclusive minimums, ranking and pagination, all in one statement."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import event

from consumers.recipes.projection import RecipesProjection
from consumers.recipes.queries import talent_matches
from consumers.recipes.talent import SkillFilter
from tests.integration.test_recipes_applier import session
from tests.support.events import erased, invalidated
from tests.support.oracles.recipes import current_profiles
from tests.support.oracles.recipes import talent_matches as oracle_talent_matches
from toolkit.db import create_engine


@pytest.fixture
async def engine(settings):
    engine = create_engine(settings)
    yield engine
    await engine.dispose()


def population(p: str):
    """Skill names carry the test's prefix, so rows of other tests never match."""
    net, ir = f"{p}_net", f"{p}_ir"
    ea, eb = f"{p}-ea", f"{p}-eb"

    def s(user, minute, scores, **kw):
        return session(f"{p}-{user}", minute, scores, **kw)

    events = [
        s("u1", 0, {net: 80.0, ir: 70.0}, enterprise=ea),
        s("u2", 0, {net: 90.0, ir: 60.0}, enterprise=eb),  # ties u1 (mean 75)
        s("u3", 0, {net: 59.9, ir: 99.0}, enterprise=ea),  # below net:60
        s("u4", 0, {net: 99.0, ir: 99.0}, enterprise=ea, opt_in=True),
        s("u4", 9, {net: 98.0, ir: 98.0}, enterprise=ea, opt_in=False),  # current: opted out
        s("u5", 0, {net: 95.0}, enterprise=ea),  # lacks ir
        s("u6", 0, {net: 60.0, ir: 0.0}, enterprise=ea),  # minimums are inclusive
        s("u7", 0, {net: 61.0, ir: 61.0}, enterprise=None, cohort=None),
        s("u8", 0, {net: 10.0, ir: 10.0}, enterprise=eb, opt_in=False),
        s("u8", 9, {net: 70.0, ir: 70.1}, enterprise=eb, opt_in=True),  # current: opted in
        s("u9", 0, {net: 97.0, ir: 97.0}, enterprise=ea),
        erased(f"{p}-u9", minute=5),
    ]
    old = s("u10", 0, {net: 88.0, ir: 88.0}, enterprise=ea, opt_in=False)
    new = s("u10", 9, {net: 88.0, ir: 88.0}, enterprise=ea, opt_in=True)
    events += [old, new, invalidated(f"{p}-u10", new.data.session_id, minute=10)]
    return events, net, ir, ea, eb


@pytest.fixture
async def loaded(engine, settings, unique):
    events, net, ir, ea, eb = population(unique)
    async with engine.begin() as conn:
        await RecipesProjection(settings.erasure_secret).apply(conn, events)
    return current_profiles(events), net, ir, ea, eb


async def search(engine, filters, enterprise=None, limit=20, offset=0):
    async with engine.connect() as conn:
        page = await talent_matches(conn, filters, enterprise, limit, offset)
    return page.total, [m.user_id for m in page.matches], page.matches


async def test_ranked_matches_of_opted_in_learners_only(engine, loaded, unique):
    profiles, net, ir, _, _ = loaded
    filters = [SkillFilter(net, Decimal(60)), SkillFilter(ir, Decimal(0))]
    total, users, matches = await search(engine, filters)
    assert users == [f"{unique}-{u}" for u in ("u1", "u2", "u8", "u7", "u6")]
    assert total == 5
    first = matches[0]
    assert (first.match_score, first.skill_scores, first.enterprise_id, first.track) == (
        75.0, {net: 80.0, ir: 70.0}, f"{unique}-ea", "defender")

    expected_total, expected = oracle_talent_matches(
        profiles, [(net, Decimal(60)), (ir, Decimal(0))], None, 20, 0)
    assert (total, users) == (expected_total, [e["user_id"] for e in expected])


async def test_an_opted_out_learner_never_appears(engine, loaded, unique):
    _, net, ir, ea, _ = loaded
    for filters in ([SkillFilter(net, Decimal(0))], [SkillFilter(ir, Decimal(0))],
                    [SkillFilter(net, Decimal(0)), SkillFilter(ir, Decimal(0))]):
        for enterprise in (None, ea):
            total, users, _ = await search(engine, filters, enterprise, limit=100)
            assert f"{unique}-u4" not in users and len(users) == total
            assert not {f"{unique}-u9", f"{unique}-u10"} & set(users)  # erased, invalidated


async def test_enterprise_admins_see_their_enterprise_only(engine, loaded, unique):
    _, net, ir, ea, eb = loaded
    filters = [SkillFilter(net, Decimal(60)), SkillFilter(ir, Decimal(0))]
    assert (await search(engine, filters, ea))[:2] == (2, [f"{unique}-u1", f"{unique}-u6"])
    assert (await search(engine, filters, eb))[:2] == (2, [f"{unique}-u2", f"{unique}-u8"])
    assert (await search(engine, filters, f"{unique}-nowhere"))[:2] == (0, [])


async def test_pages_keep_the_order_and_the_total(engine, loaded, unique):
    _, net, _, _, _ = loaded
    filters = [SkillFilter(net, Decimal(0))]
    total, everyone, _ = await search(engine, filters, limit=100)
    assert total == 7 and everyone[0] == f"{unique}-u5"  # 95 alone ranks first
    pages = [await search(engine, filters, limit=3, offset=o) for o in (0, 3, 6, 9)]
    assert [p[0] for p in pages] == [7, 7, 7, 7]  # the total, even past the last page
    assert [len(p[1]) for p in pages] == [3, 3, 1, 0]
    assert pages[0][1] + pages[1][1] + pages[2][1] == everyone


async def test_the_search_is_one_statement_whatever_the_page(engine, loaded):
    _, net, ir, _, _ = loaded
    statements = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        for offset in (0, 100):
            await search(engine, [SkillFilter(net, Decimal(0)), SkillFilter(ir, Decimal(0))],
                         limit=2, offset=offset)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    assert len([s for s in statements if "skill_scores" in s]) == 2
