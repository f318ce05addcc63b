"""The difficulty rule and the learner lifecycle, without I/O."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consumers.missions.decide import difficulty_for, learner_difficulty, session_facts
from tests.support.events import completed, erased, invalidated
from tests.support.oracles.missions import difficulties
from tests.support.reuse import INTRUDER, arrivals, reusing
from toolkit.lifecycle import LearnerState, fold
from toolkit.streaming.grouping import by_learner


@pytest.mark.parametrize(
    ("level", "score", "expected"),
    [("novice", 99, 1), ("beginner", 0, 2), ("intermediate", 10, 3), ("advanced", 0, 4),
     ("expert", 0, 5), (None, 0, 1), (None, 19.999, 1), (None, 20, 2), (None, 39.9, 2),
     (None, 40, 3), (None, 60, 4), (None, 79.99, 4), (None, 80, 5), (None, 100, 5)],
)
def test_difficulty_from_level_then_score_band(level, score, expected):
    assert difficulty_for(level, score) == expected


def difficulty_after(events):
    state = fold(LearnerState(), events, session_facts)
    return learner_difficulty(state)


def test_no_session_is_beginner_fallback():
    result = difficulty_after([])
    assert (result.difficulty, result.source, result.session_id) == (1, "default", None)


def test_newest_completed_at_wins_whatever_the_arrival_order():
    old = completed("u", minute=0, level="expert")
    new = completed("u", minute=10, level="novice")
    assert difficulty_after([new, old]).difficulty == 1
    assert difficulty_after([old, new]).difficulty == 1


def test_tie_on_completed_at_broken_by_greater_session_id():
    low = completed("u", minute=5, level="advanced", session_id=uuid.UUID(int=1))
    high = completed("u", minute=5, level="beginner", session_id=uuid.UUID(int=2))
    assert difficulty_after([high, low]).difficulty == 2


def test_invalidation_before_its_completion_still_retracts_it():
    newer = completed("u", minute=10, level="expert")
    older = completed("u", minute=0, level="beginner")
    kill = invalidated("u", newer.data.session_id, minute=20)
    assert difficulty_after([kill, older, newer]).difficulty == 2
    assert difficulty_after([newer, kill]).source == "default"


def test_erasure_forgets_and_ignores_older_events_but_not_newer_ones():
    before = completed("u", minute=0, level="expert")
    gone = erased("u", minute=30)
    after = completed("u", minute=40, level="beginner")
    assert difficulty_after([before, gone]).source == "default"
    assert difficulty_after([gone, before]).source == "default"
    assert difficulty_after([gone, after, before]).difficulty == 2


# Any score, and often one at or just below a band's edge, where a band rule slips.
SCORES = st.one_of(
    st.floats(min_value=0, max_value=100),
    st.sampled_from([0.0, 19.5, 19.999, 20.0, 39.9, 40.0, 59.5, 60.0, 79.99, 80.0, 100.0]),
)


# A learner's history: sessions (some invalidated, some at tied times), maybe an erasure.
@st.composite
def learner_histories(draw):
    user = "learner-h"
    events = []
    minutes = st.integers(min_value=0, max_value=60)
    for index in range(draw(st.integers(min_value=0, max_value=6))):
        session = completed(
            user, minute=draw(minutes),
            level=draw(st.sampled_from([None, "novice", "beginner", "intermediate",
                                        "advanced", "expert"])),
            score=draw(SCORES),
            # session ids are unique per session; random high bits vary the tie-break
            session_id=uuid.UUID(int=(draw(st.integers(0, 2**32)) << 8) | index),
        )
        events.append(session)
        # Sometimes two invalidations of one session, so an erasure can fall between them.
        for _ in range(draw(st.sampled_from([0, 0, 0, 0, 0, 0, 1, 2]))):
            events.append(invalidated(user, session.data.session_id, minute=draw(minutes)))
    if draw(st.integers(min_value=0, max_value=4)) == 0:
        events.append(erased(user, minute=draw(minutes)))
    return events


@settings(max_examples=300, deadline=None)
@given(data=st.data(), history=learner_histories())
def test_any_order_and_duplication_matches_the_oracle(data, history):
    duplicated = history + data.draw(st.lists(st.sampled_from(history), max_size=5)
                                     if history else st.just([]))
    arrival = data.draw(st.permutations(duplicated))
    result = difficulty_after(arrival)
    expected = difficulties(history)
    if expected:
        assert (result.source, result.difficulty) == ("profiler", expected["learner-h"])
    else:
        assert (result.source, result.difficulty) == ("default", 1)


def served(events) -> dict[str, tuple[str, int]]:
    """(source, difficulty) of every learner the events name, each folded on their own."""
    return {u: _shown(difficulty_after(evs)) for u, evs in by_learner(events).items()}


def _shown(result) -> tuple[str, int]:
    return (result.source, result.difficulty)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), history=learner_histories())
def test_a_session_id_reused_by_another_learner_changes_neither_learner(data, history):
    intrusion = data.draw(reusing(history))
    result = served(data.draw(arrivals(history + intrusion)))
    # Each learner as without the other, and as the oracle (keyed by learner) says.
    assert result.get("learner-h", ("default", 1)) == _shown(difficulty_after(history))
    assert result.get(INTRUDER, ("default", 1)) == _shown(difficulty_after(intrusion))
    expected = difficulties(history + intrusion)
    assert {u: d for u, (source, d) in result.items() if source == "profiler"} == expected
