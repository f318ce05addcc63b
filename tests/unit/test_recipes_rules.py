"""Recipe ranking, gap mapping and the shipped catalog, without I/O."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from consumers.recipes.catalog import Catalog, shipped_catalog, skill_gaps
from consumers.recipes.decide import Profile
from consumers.recipes.recommend import rank_recipes, recommend
from producers.sample import TRACKS
from tests.support.oracles.recipes import recommendations as oracle_recommendations

CATALOG = Catalog.model_validate({
    "version": "t-1",
    "track_requirements": {"defender": {"network_security": 75, "incident_response": 80}},
    "skill_map": {"network_security": ["NETSEC"], "incident_response": ["IR", "CRISIS"],
                  "log_analysis": ["LOGS"]},
    "recipes": [
        {"id": "r-a", "title": "a", "skill_codes": ["NETSEC"], "level": 1},
        {"id": "r-b", "title": "b", "skill_codes": ["NETSEC"], "level": 3},
        {"id": "r-c", "title": "c", "skill_codes": ["IR", "CRISIS", "NETSEC"], "level": 5},
        {"id": "r-d", "title": "d", "skill_codes": ["LOGS"], "level": 2},
        {"id": "r-e", "title": "e", "skill_codes": ["UNMAPPED"], "level": 3},
        {"id": "r-0", "title": "0", "skill_codes": ["NETSEC"], "level": 3},
    ],
})


def profile(track="defender", difficulty=3, **scores) -> Profile:
    return Profile(uuid.uuid4(), datetime(2026, 3, 1, tzinfo=UTC), track, 50.0, None,
                   difficulty, "c", "e", True, scores)


def test_gaps_use_track_targets_else_70_and_map_skill_codes():
    gaps = skill_gaps(CATALOG, "defender",
                      {"network_security": 60.1, "incident_response": 85.0, "log_analysis": 40.0,
                       "unmapped_skill": 69.5})
    as_tuples = [(g.skill, g.score, g.target, g.gap, g.recipe_skill_codes) for g in gaps]
    assert as_tuples == [
        ("log_analysis", 40.0, 70.0, 30.0, ("LOGS",)),
        ("network_security", 60.1, 75.0, 14.9, ("NETSEC",)),  # exact, not 14.899999999999999
        ("unmapped_skill", 69.5, 70.0, 0.5, ()),
        ("incident_response", 85.0, 80.0, 0.0, ("IR", "CRISIS")),
    ]


def test_unknown_track_targets_every_skill_at_70():
    gaps = skill_gaps(CATALOG, "astronaut", {"network_security": 60.0})
    assert (gaps[0].target, gaps[0].gap) == (70.0, 10.0)


def test_candidates_need_a_code_of_a_skill_with_a_gap():
    gaps = skill_gaps(CATALOG, "defender", {"network_security": 70.0, "incident_response": 90.0})
    ranked = rank_recipes(CATALOG.recipes, gaps, difficulty=3)
    # only network_security has a gap: r-d (LOGS, no such skill), r-e (unmapped) are out
    assert [r.recipe.id for r in ranked] == ["r-0", "r-b", "r-a", "r-c"]
    assert all(r.score == 5.0 and r.covers == ("network_security",) for r in ranked)


def test_score_sums_the_gaps_a_recipe_covers_each_skill_once():
    gaps = skill_gaps(CATALOG, "defender", {"network_security": 70.0, "incident_response": 60.0})
    ranked = rank_recipes(CATALOG.recipes, gaps, difficulty=1)
    first = ranked[0]
    # IR and CRISIS both map from incident_response: its gap (20) counts once, plus 5
    assert (first.recipe.id, first.score, first.covers) == (
        "r-c", 25.0, ("incident_response", "network_security"))


def test_ties_go_to_the_level_nearest_the_difficulty_then_the_id():
    gaps = skill_gaps(CATALOG, "defender", {"network_security": 65.0})
    assert [r.recipe.id for r in rank_recipes(CATALOG.recipes, gaps, 1)] == [
        "r-a", "r-0", "r-b", "r-c"]
    assert [r.recipe.id for r in rank_recipes(CATALOG.recipes, gaps, 5)] == [
        "r-c", "r-0", "r-b", "r-a"]


def test_no_gap_no_recipes_and_no_session_is_the_default_fallback():
    met = recommend(CATALOG, profile(network_security=99.0), limit=10)
    assert (met.source, met.recipes, [g.gap for g in met.gaps]) == ("profiler", [], [0.0])
    none = recommend(CATALOG, None, limit=10)
    assert (none.difficulty, none.source, none.gaps, none.recipes, none.catalog_version) == (
        1, "default", [], [], "t-1")


def test_limit_cuts_the_ranking():
    result = recommend(CATALOG, profile(difficulty=1, network_security=10.0), limit=2)
    assert [r.recipe.id for r in result.recipes] == ["r-a", "r-0"]


def test_shipped_catalog_covers_every_sample_skill_and_track():
    catalog = shipped_catalog()
    skills = {skill for track in TRACKS.values() for skill in track}
    assert set(catalog.skill_map) == skills
    assert all(1 <= len(codes) <= 3 for codes in catalog.skill_map.values())
    assert {t: set(r) for t, r in catalog.track_requirements.items()} == {
        t: set(s) for t, s in TRACKS.items()}
    codes = {code for codes in catalog.skill_map.values() for code in codes}
    recipe_codes = {code for r in catalog.recipes for code in r.skill_codes}
    assert codes == recipe_codes  # every code has a recipe; no recipe is unreachable
    assert 35 <= len(catalog.recipes) <= 60
    assert {r.level for r in catalog.recipes} == {1, 2, 3, 4, 5}


SKILLS = sorted({skill for track in TRACKS.values() for skill in track} | {"unlisted"})


@st.composite
def profiles(draw):
    scores = draw(st.dictionaries(
        st.sampled_from(SKILLS),
        st.one_of(st.floats(0, 100, allow_nan=False),
                  st.integers(0, 1000).map(lambda n: n / 10)),
        min_size=1, max_size=10))
    return profile(track=draw(st.sampled_from([*TRACKS, "other"])),
                   difficulty=draw(st.integers(1, 5)), **scores)


@settings(max_examples=300, deadline=None)
@given(learner=profiles(), limit=st.integers(1, 60))
def test_ranking_matches_the_oracle_reading_of_the_rule(learner, limit):
    catalog = shipped_catalog()
    result = recommend(catalog, learner, limit)
    expected = oracle_recommendations(learner, catalog, limit)
    assert [(g.skill, g.score, g.target, g.gap, list(g.recipe_skill_codes))
            for g in result.gaps] == expected["gaps"]
    assert [(r.recipe.id, r.score) for r in result.recipes] == expected["recipes"]
