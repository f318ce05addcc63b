"""Cohort and enterprise analytics as incremental deltas, without I/O, against the oracle."""

from __future__ import annotations

import math
import uuid
from dataclasses import asdict
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from consumers.analytics.decide import (
    COHORT,
    Aggregates,
    SessionContribution,
    Totals,
    batch_change,
    exact,
    report,
    session_facts,
)
from schemas.registry import new_event
from schemas.session_completed import SessionCompletedV1
from tests.support.events import at, erased, invalidated
from tests.support.oracles.analytics import analytics as oracle_analytics
from tests.support.reuse import reusing
from toolkit.lifecycle import LearnerState, fold
from toolkit.streaming.grouping import by_learner

SKILLS = ("network_security", "incident_response", "compliance", "audit")
LEVELS = (None, "novice", "beginner", "intermediate", "advanced", "expert")


def session(user: str, *, minute: float, cohort: str | None = "c1",
            enterprise: str | None = "e1", score: float = 50.0, level: str | None = None,
            skills: dict[str, float] | None = None, session_id: uuid.UUID | None = None):
    data = SessionCompletedV1(
        session_id=session_id or uuid.uuid4(), user_id=user, cohort_id=cohort,
        enterprise_id=enterprise, track="defender", completed_at=at(minute),
        overall_score=score, recommended_level=level,
        skill_scores=skills or {"network_security": score},
        value_answers={"core_values": ["integrity"], "motivation": "m", "impact_goal": "g"},
        anti_cheat={"duration_seconds": 900, "flags": [], "suspicion_score": 0.05},
    )
    return new_event(data, event_id=uuid.uuid4(), occurred_at=at(minute))


def apply_batches(batches) -> Aggregates:
    """What the projection does: per batch, fold each learner's events, add the change."""
    states: dict[str, LearnerState[SessionContribution]] = {}
    totals = Aggregates()
    for batch in batches:
        grouped = by_learner(batch)
        before = {u: states.get(u, LearnerState()) for u in grouped}
        after = {u: fold(before[u], evs, session_facts) for u, evs in grouped.items()}
        totals.add(batch_change((before[u], after[u]) for u in after))
        states.update(after)
    return totals


def views(aggregates: Aggregates):
    """The aggregates shown as the oracle (and the read API) shows them."""
    cohorts: dict[str, dict] = {}
    enterprises: dict[str, dict] = {}
    for group, totals in aggregates.totals.items():
        skills = {skill: s for (g, skill), s in aggregates.skills.items() if g == group}
        scope, group_id = group
        (cohorts if scope == COHORT else enterprises)[group_id] = asdict(report(totals, skills))
    for cohort_id, body in cohorts.items():
        body["enterprise_ids"] = sorted(e for c, e in aggregates.placements if c == cohort_id)
    for enterprise_id, body in enterprises.items():
        body["cohorts"] = [{"cohort_id": c, "learners": n}
                           for (c, e), n in sorted(aggregates.placements.items())
                           if e == enterprise_id]
    return cohorts, enterprises


def assert_same(actual, expected) -> None:
    """Equal, with floats within 1e-9."""
    if isinstance(expected, float):
        assert math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-9), (actual, expected)
    elif isinstance(expected, dict):
        assert isinstance(actual, dict) and actual.keys() == expected.keys(), (actual, expected)
        for key in expected:
            assert_same(actual[key], expected[key])
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), (actual, expected)
        for a, e in zip(actual, expected, strict=True):
            assert_same(a, e)
    else:
        assert actual == expected


def test_exact_keeps_the_written_decimal():
    assert exact(57.3) == Decimal("57.3")
    assert exact(0.1) + exact(0.2) == Decimal("0.3")


def test_the_oracle_by_hand():
    a_old = session("a", minute=0, cohort="c1", score=30.0, skills={"audit": 10.0})
    a_new = session("a", minute=5, cohort="c2", score=90.0, level="novice",
                    skills={"audit": 20.0, "compliance": 40.0})
    b = session("b", minute=1, cohort="c2", enterprise="e2", score=50.0, skills={"audit": 31.0})
    gone = session("c", minute=0, cohort="c2", score=99.0)
    cohorts, enterprises = oracle_analytics(
        [a_new, a_old, b, a_new, gone, erased("c", minute=1),
         invalidated("b", uuid.uuid4(), minute=2)])
    assert cohorts["c1"]["learners"] == 0 and cohorts["c1"]["sessions_completed"] == 1
    assert cohorts["c2"] == {
        "learners": 2, "sessions_completed": 2, "average_overall_score": 70.0,
        "difficulty_distribution": {"1": 1, "2": 0, "3": 1, "4": 0, "5": 0},
        "skill_averages": {"audit": 25.5, "compliance": 40.0},
        "enterprise_ids": ["e1", "e2"]}
    assert enterprises["e1"]["sessions_completed"] == 2
    assert enterprises["e1"]["cohorts"] == [{"cohort_id": "c2", "learners": 1}]


def test_a_learner_counts_once_by_current_session_and_every_valid_session_counts():
    first = session("u", minute=0, cohort="c1", score=40.0, level="beginner",
                    skills={"audit": 30.0, "compliance": 50.0})
    retake = session("u", minute=10, cohort="c2", score=80.0, level=None,
                     skills={"audit": 90.0})
    cohorts, enterprises = views(apply_batches([[first], [retake]]))
    assert cohorts["c1"] == {
        "learners": 0, "sessions_completed": 1, "average_overall_score": None,
        "difficulty_distribution": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0},
        "skill_averages": {}, "enterprise_ids": []}
    assert cohorts["c2"]["learners"] == 1 and cohorts["c2"]["skill_averages"] == {"audit": 90.0}
    assert cohorts["c2"]["difficulty_distribution"]["5"] == 1
    assert enterprises["e1"]["sessions_completed"] == 2
    assert enterprises["e1"]["cohorts"] == [{"cohort_id": "c2", "learners": 1}]


def test_invalidating_the_current_session_falls_back_and_erasure_empties_every_group():
    old = session("u", minute=0, cohort="c1", score=20.0)
    new = session("u", minute=10, cohort="c2", score=70.0)
    kill = invalidated("u", new.data.session_id, minute=20)
    cohorts, _ = views(apply_batches([[kill], [new, old]]))
    assert set(cohorts) == {"c1"} and cohorts["c1"]["learners"] == 1
    assert cohorts["c1"]["average_overall_score"] == 20.0
    assert apply_batches([[old, new], [erased("u", minute=30)]]) == Aggregates()


def test_a_duplicate_changes_nothing():
    first = session("u", minute=0, score=61.7)
    once = apply_batches([[first]])
    assert apply_batches([[first], [first], [first, first]]) == once
    state = fold(LearnerState(), [first], session_facts)
    assert batch_change([(state, fold(state, [first], session_facts))]) == Aggregates()


def test_a_new_learners_change_is_their_contribution():
    facts = fold(LearnerState(), [session("u", minute=0, score=45.5, level="expert",
                                          skills={"audit": 12.25})], session_facts)
    result = batch_change([(LearnerState(), facts)])
    assert result.totals[(COHORT, "c1")] == Totals(1, Decimal("45.5"), (0, 0, 0, 0, 1), 1)
    assert result.placements == {("c1", "e1"): 1}


# Several learners whose histories have retakes (some tied on completed_at), cohort and
# enterprise moves, learners without cohort or enterprise, invalidations (occurring before or
# after the session; arriving in any order), erasures, and sessions after an erasure.
scores = st.one_of(st.integers(0, 1000).map(lambda n: n / 10), st.floats(0, 100))


@st.composite
def histories(draw):
    events = []
    minutes = st.integers(min_value=0, max_value=60)
    for learner in range(draw(st.integers(min_value=1, max_value=5))):
        user = f"learner-{learner}"
        for index in range(draw(st.integers(min_value=0, max_value=4))):
            score = draw(scores)
            skills = draw(st.dictionaries(st.sampled_from(SKILLS), scores, min_size=1))
            completed = session(
                user, minute=draw(minutes), score=score, skills=skills,
                cohort=draw(st.sampled_from([None, "c1", "c2", "c3"])),
                enterprise=draw(st.sampled_from([None, "e1", "e2"])),
                level=draw(st.sampled_from(LEVELS)),
                # unique per session; random high bits vary the tie-break on completed_at
                session_id=uuid.UUID(int=(draw(st.integers(0, 2**32)) << 16) | learner << 8
                                     | index),
            )
            events.append(completed)
            # Sometimes two invalidations of one session, so an erasure can fall between them.
            for _ in range(draw(st.sampled_from([0, 0, 0, 0, 0, 0, 1, 2]))):
                events.append(invalidated(user, completed.data.session_id, minute=draw(minutes)))
        if draw(st.integers(0, 3)) == 0:
            events.append(erased(user, minute=draw(minutes)))
    return events


@st.composite
def batches_of(draw, events):
    """The events, some delivered twice, in any order, cut into batches anywhere."""
    delivered = events + draw(st.lists(st.sampled_from(events), max_size=6))
    arrival = draw(st.permutations(delivered))
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(arrival) - 1)), max_size=6)))
    bounds = [0, *cuts, len(arrival)]
    return [arrival[a:b] for a, b in zip(bounds, bounds[1:], strict=False) if a < b]


@settings(max_examples=500, deadline=None)
@given(data=st.data(), history=histories())
def test_any_order_grouping_and_duplication_matches_the_oracle(data, history):
    if not history:
        assert views(apply_batches([])) == ({}, {})
        return
    batches = data.draw(batches_of(history))
    cohorts, enterprises = views(apply_batches(batches))
    expected_cohorts, expected_enterprises = oracle_analytics(history)
    assert_same(cohorts, expected_cohorts)
    assert_same(enterprises, expected_enterprises)


def _intruding_session(user, *, minute, session_id, score):
    return session(user, minute=minute, session_id=session_id, score=score, cohort="c1",
                   enterprise="e1", skills={"audit": score})


@settings(max_examples=300, deadline=None)
@given(data=st.data(), history=histories())
def test_a_session_id_reused_by_another_learner_counts_each_learner_as_without_the_other(
    data, history
):
    """Learners reusing others' session ids: aggregates are the sum of each learner's
    contribution alone, and the oracle's (keyed by learner)."""
    intrusion = []
    for n, victim in enumerate(sorted({e.key for e in history})):
        own = [e for e in history if e.key == victim]
        intrusion += data.draw(reusing(own, f"intruder-{n}", complete=_intruding_session))
    if not intrusion:
        return
    batches = data.draw(batches_of(history + intrusion))
    got = apply_batches(batches)
    alone = apply_batches([history])
    alone.add(apply_batches([intrusion]))
    assert views(got) == views(alone)
    expected_cohorts, expected_enterprises = oracle_analytics(history + intrusion)
    cohorts, enterprises = views(got)
    assert_same(cohorts, expected_cohorts)
    assert_same(enterprises, expected_enterprises)
