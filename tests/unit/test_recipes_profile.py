"""The recipes projection's current profile: any arrival order and duplication give the
oracle's profile (CONTRACT current session, invalidation, erasure)."""

from __future__ import annotations

import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from consumers.recipes.decide import current_profile, session_facts
from schemas.registry import new_event
from schemas.session_completed import SessionCompletedV1
from tests.support.events import at, completed, erased, invalidated
from tests.support.oracles.recipes import current_profiles
from tests.support.reuse import INTRUDER, arrivals, reusing
from toolkit.lifecycle import LearnerState, fold
from toolkit.streaming.grouping import by_learner

USER = "learner-r"


def session(minute: int, *, session_id: uuid.UUID, track: str, scores: dict[str, float],
            opt_in: bool, level: str | None, cohort: str | None):
    data = SessionCompletedV1(
        session_id=session_id, user_id=USER, cohort_id=cohort,
        enterprise_id=f"ent-{cohort}" if cohort else None, track=track,
        completed_at=at(minute), overall_score=sum(scores.values()) / len(scores),
        recommended_level=level, skill_scores=scores,
        value_answers={"core_values": ["integrity"], "motivation": "m", "impact_goal": "g"},
        anti_cheat={"duration_seconds": 900, "flags": [], "suspicion_score": 0.05},
        marketplace_opt_in=opt_in,
    )
    return new_event(data, event_id=uuid.uuid4(), occurred_at=at(minute))


def profile_after(events):
    return current_profile(fold(LearnerState(), events, session_facts))


def test_retake_replaces_the_profile_and_its_skills():
    first = completed(USER, minute=0, score=40)
    second = session(10, session_id=uuid.uuid4(), track="grc", scores={"audit": 81.5},
                     opt_in=True, level=None, cohort=None)
    result = profile_after([second, first])
    assert (result.session_id, result.track, dict(result.skill_scores)) == (
        second.data.session_id, "grc", {"audit": 81.5})
    assert (result.difficulty, result.marketplace_opt_in, result.cohort_id) == (5, True, None)


def test_invalidating_the_current_session_falls_back_to_the_previous_one():
    first = completed(USER, minute=0, level="beginner")
    second = completed(USER, minute=10, level="expert")
    kill = invalidated(USER, second.data.session_id, minute=20)
    assert profile_after([kill, second, first]).session_id == first.data.session_id
    assert profile_after([first, erased(USER, minute=5)]) is None


SKILLS = ("network_security", "incident_response", "audit", "privacy", "communication")


@st.composite
def histories(draw):
    events = []
    minutes = st.integers(min_value=0, max_value=60)
    for index in range(draw(st.integers(min_value=0, max_value=6))):
        event = session(
            draw(minutes),
            session_id=uuid.UUID(int=(draw(st.integers(0, 2**32)) << 8) | index),
            track=draw(st.sampled_from(["defender", "grc", "leadership"])),
            scores=draw(st.dictionaries(st.sampled_from(SKILLS),
                                        st.integers(0, 1000).map(lambda n: n / 10),
                                        min_size=1, max_size=5)),
            opt_in=draw(st.booleans()),
            level=draw(st.sampled_from([None, "novice", "advanced", "expert"])),
            cohort=draw(st.sampled_from([None, "c1", "c2"])),
        )
        events.append(event)
        # Sometimes two invalidations of one session, so an erasure can fall between them.
        for _ in range(draw(st.sampled_from([0, 0, 0, 0, 0, 0, 1, 2]))):
            events.append(invalidated(USER, event.data.session_id, minute=draw(minutes)))
    if draw(st.integers(0, 4)) == 0:
        events.append(erased(USER, minute=draw(minutes)))
    return events


@settings(max_examples=300, deadline=None)
@given(data=st.data(), history=histories())
def test_any_order_and_duplication_gives_the_oracle_profile(data, history):
    duplicated = history + data.draw(st.lists(st.sampled_from(history), max_size=5)
                                     if history else st.just([]))
    arrival = data.draw(st.permutations(duplicated))
    assert profile_after(arrival) == current_profiles(history).get(USER)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), history=histories())
def test_a_session_id_reused_by_another_learner_changes_neither_profile(data, history):
    intrusion = data.draw(reusing(history))
    grouped = by_learner(data.draw(arrivals(history + intrusion)))
    mine = profile_after(grouped.get(USER, []))
    theirs = profile_after(grouped.get(INTRUDER, []))
    # Each learner's profile as without the other's events, and as the oracle says.
    assert (mine, theirs) == (profile_after(history), profile_after(intrusion))
    expected = current_profiles(history + intrusion)
    assert (mine, theirs) == (expected.get(USER), expected.get(INTRUDER))
