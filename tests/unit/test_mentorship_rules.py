"""Mentorship rules without I/O: assignments (newest wins, erasures) and mentee results, in any
arrival order, with duplicates and in batches of any size, equal the independent oracle."""

from __future__ import annotations

import uuid
from datetime import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from consumers.mentorship.api import MenteeResultsOut
from consumers.mentorship.decide import (
    Change,
    Front,
    Invalidation,
    assignments_after,
    invalidation_changes,
    mentee_results,
    session_facts,
    winner,
    with_change,
)
from consumers.recipes.catalog import shipped_catalog
from schemas.mentorship_assignment_changed import MentorshipAssignmentChangedV1
from schemas.registry import MentorshipAssignmentChanged, new_event
from schemas.session_completed import AntiCheat
from tests.support.events import at, completed, erased, invalidated
from tests.support.oracles import mentorship as oracle
from tests.support.reuse import INTRUDER, arrivals, reusing
from toolkit.lifecycle import LearnerState, fold

CATALOG = shipped_catalog()
MENTEE = "learner-h"
MENTORS = ("mentor-1", "mentor-2")


def assignment(mentor: str, mentee: str, *, minute: float, active: bool,
               occurred_minute: float | None = None):
    data = MentorshipAssignmentChangedV1(mentor_id=mentor, mentee_id=mentee, active=active,
                                         changed_at=at(minute))
    return new_event(data, event_id=uuid.uuid4(), producer="mentorship",
                     occurred_at=at(minute if occurred_minute is None else occurred_minute))


def session(user: str, *, minute: float, score: float, flags: list[str], **kwargs):
    event = completed(user, minute=minute, score=score, **kwargs)
    cheat = AntiCheat(duration_seconds=int(score * 30), flags=flags,
                      suspicion_score=round(score / 100, 3))
    return event.model_copy(update={"data": event.data.model_copy(update={"anti_cheat": cheat})})


# ----- the projection's steps, replayed in memory ------------------------------------------


def project(events, batch: int) -> tuple[
    dict[str, LearnerState], dict[str, dict[uuid.UUID, Invalidation]], dict[tuple[str, str], tuple]
]:
    """What the projection computes when `events` arrive in this order, `batch` at a time:
    each batch folds the learner lifecycle, then the assignments against all erasures."""
    learners: dict[str, LearnerState] = {}
    details: dict[str, dict[uuid.UUID, Invalidation]] = {}
    fronts: dict[tuple[str, str], Front] = {}
    erased_at: dict[str, datetime] = {}
    for start in range(0, len(events), batch):
        chunk = events[start:start + batch]
        changes = [e for e in chunk if isinstance(e, MentorshipAssignmentChanged)]
        profiler = [e for e in chunk if not isinstance(e, MentorshipAssignmentChanged)]
        newly_erased = set()
        for user in {e.key for e in profiler}:
            own = [e for e in profiler if e.key == user]
            before = learners.get(user, LearnerState())
            after = fold(before, own, session_facts)
            taken, gone = invalidation_changes(own, before, after)
            kept = {k: v for k, v in details.get(user, {}).items() if k not in gone}
            details[user] = kept | taken
            learners[user] = after
            if after.erased_at is not None and after.erased_at != before.erased_at:
                newly_erased.add(user)
                erased_at[user] = after.erased_at
        mentees = {e.data.mentee_id for e in changes}
        loaded = {
            pair: front for pair, front in fronts.items()
            if pair[1] in mentees or newly_erased & set(pair)
        }
        fronts.update(assignments_after(loaded, erased_at, changes))
    won = {pair: winner(front) for pair, front in fronts.items()}
    pairs = {pair: (w.active, w.changed_at) for pair, w in won.items() if w is not None}
    return learners, details, pairs


def served(learners, details, pairs, mentee: str):
    """The API body for `mentee`, or None when unknown (404)."""
    state = learners.get(mentee, LearnerState())
    if not state.sessions and not any(m == mentee for _, m in pairs):
        return None
    found = mentee_results(list(state.sessions.values()), details.get(mentee, {}), CATALOG)
    return MenteeResultsOut.from_results(mentee, found).model_dump(mode="json")


# ----- examples -----------------------------------------------------------------------------


def test_newest_changed_at_wins_whatever_the_arrival_order():
    on = assignment("m", "e", minute=0, active=True)
    off = assignment("m", "e", minute=10, active=False)
    for order in ([on, off], [off, on]):
        assert project(order, 1)[2] == {("m", "e"): (False, at(10))}


def test_a_tie_on_changed_at_goes_to_inactive():
    on = assignment("m", "e", minute=5, active=True)
    off = assignment("m", "e", minute=5, active=False, occurred_minute=6)
    for order in ([on, off], [off, on]):
        assert project(order, 1)[2] == {("m", "e"): (False, at(5))}


def test_reassignment_keeps_both_pairs_apart():
    first = assignment("m1", "e", minute=0, active=True)
    leave = assignment("m1", "e", minute=20, active=False)
    second = assignment("m2", "e", minute=21, active=True)
    assert project([second, leave, first], 2)[2] == {
        ("m1", "e"): (False, at(20)), ("m2", "e"): (True, at(21))}


def test_erasure_of_mentor_or_mentee_forgets_their_pairs_and_later_older_changes():
    old = assignment("m", "e", minute=0, active=True)
    other = assignment("m2", "e", minute=0, active=True)
    gone = erased("m", minute=30)
    late_old = assignment("m", "e", minute=1, active=True, occurred_minute=29)
    assert project([old, other, gone, late_old], 1)[2] == {("m2", "e"): (True, at(0))}
    assert project([gone, late_old, old, other], 3)[2] == {("m2", "e"): (True, at(0))}
    after = assignment("m", "e", minute=40, active=True)
    assert project([after, erased("e", minute=35), old, other], 1)[2] == {
        ("m", "e"): (True, at(40))}


def test_an_older_change_that_survives_an_erasure_wins_over_a_forgotten_newer_one():
    # Changed later but reported before the erasure; changed earlier, reported after it.
    newer = assignment("m", "e", minute=10, active=False, occurred_minute=11)
    older = assignment("m", "e", minute=5, active=True, occurred_minute=50)
    gone = erased("e", minute=30)
    for order in ([newer, older, gone], [gone, older, newer], [older, newer, gone]):
        assert project(order, 1)[2] == {("m", "e"): (True, at(5))}


def test_front_keeps_only_changes_that_may_still_win():
    a = Change(at(10), True, at(10))
    b = Change(at(5), True, at(50))  # older, reported later: kept
    c = Change(at(4), False, at(40))  # outranked by b in both respects: dropped
    front = with_change(with_change(with_change(frozenset(), a), b), c)
    assert front == {a, b}
    assert winner(front) == a


def test_results_list_every_session_newest_first_with_invalidation_and_current():
    old = session(MENTEE, minute=0, score=40, flags=[])
    new = session(MENTEE, minute=10, score=80, flags=["tab_switch"])
    kill = invalidated(MENTEE, new.data.session_id, minute=20)
    body = served(*project([kill, old, new], 1), MENTEE)
    assert [s["session_id"] for s in body["sessions"]] == [
        str(new.data.session_id), str(old.data.session_id)]
    assert body["sessions"][0]["invalidated"] == {
        "reason": "anti-cheat review", "invalidated_at": "2026-03-01T09:20:00Z"}
    assert body["sessions"][0]["anti_cheat"]["flags"] == ["tab_switch"]
    assert body["current_session"]["session_id"] == str(old.data.session_id)
    gaps = {g["skill"]: g for g in body["current_session"]["gaps"]}
    assert gaps["network_security"]["gap"] == CATALOG.target("defender", "network_security") - 40


def test_unknown_mentee_and_a_mentee_with_only_an_assignment():
    assert served(*project([], 1), MENTEE) is None
    body = served(*project([assignment("m", MENTEE, minute=0, active=False)], 1), MENTEE)
    assert body == {"mentee_id": MENTEE, "current_session": None, "sessions": []}


# ----- any order, any duplication, any batch size == oracle ---------------------------------


@st.composite
def histories(draw):
    minutes = st.integers(min_value=0, max_value=60)
    events = []
    for index in range(draw(st.integers(min_value=0, max_value=5))):
        s = session(
            MENTEE, minute=draw(minutes), score=draw(st.floats(min_value=0, max_value=100)),
            flags=draw(st.lists(st.sampled_from(["tab_switch", "copy_paste"]), max_size=2)),
            level=draw(st.sampled_from([None, "novice", "expert"])),
            session_id=uuid.UUID(int=(draw(st.integers(0, 2**32)) << 8) | index),
            occurred_minute=draw(minutes),
        )
        events.append(s)
        # Sometimes two invalidations of one session, so an erasure can fall between them.
        for _ in range(draw(st.sampled_from([0, 0, 0, 0, 1, 2]))):
            events.append(invalidated(MENTEE, s.data.session_id, minute=draw(minutes)))
    for _ in range(draw(st.integers(min_value=0, max_value=6))):
        events.append(assignment(
            draw(st.sampled_from(MENTORS)), MENTEE, minute=draw(st.integers(0, 20)),
            active=draw(st.booleans()), occurred_minute=draw(minutes)))
    for person in (MENTEE, *MENTORS):
        for _ in range(draw(st.integers(min_value=0, max_value=3)) // 2):
            events.append(erased(person, minute=draw(minutes)))
    return events


@settings(max_examples=400, deadline=None)
@given(data=st.data(), history=histories())
def test_any_order_duplication_and_batching_matches_the_oracle(data, history):
    resent = data.draw(st.lists(st.sampled_from(history), max_size=5) if history
                       else st.just([]))
    arrival = data.draw(st.permutations(history + resent))
    batch = data.draw(st.integers(min_value=1, max_value=max(1, len(arrival))))
    learners, details, pairs = project(arrival, batch)

    assert pairs == oracle.assignments(history)
    assert served(learners, details, pairs, MENTEE) == oracle.mentee_results(
        history, CATALOG).get(MENTEE)


def _intruding_session(user, *, minute, session_id, score):
    return session(user, minute=minute, score=score, flags=["copy_paste"], session_id=session_id)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), history=histories())
def test_a_session_id_reused_by_another_learner_changes_neither_learners_results(data, history):
    intrusion = data.draw(reusing(history, complete=_intruding_session))
    arrival = data.draw(arrivals(history + intrusion))
    batch = data.draw(st.integers(min_value=1, max_value=max(1, len(arrival))))
    state = project(arrival, batch)
    mine, theirs = served(*state, MENTEE), served(*state, INTRUDER)
    # Each learner's results as without the other's events, and as the oracle says.
    assert mine == served(*project(history, len(history) or 1), MENTEE)
    assert theirs == served(*project(intrusion, len(intrusion) or 1), INTRUDER)
    expected = oracle.mentee_results(history + intrusion, CATALOG)
    assert (mine, theirs) == (expected.get(MENTEE), expected.get(INTRUDER))
