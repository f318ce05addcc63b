"""The shared learner lifecycle, beyond what each projection's rules test."""

from __future__ import annotations

from consumers.lifecycle import LearnerState, fold
from tests.support.events import at, completed, erased, invalidated


def facts(data):
    return data.overall_score


def test_earliest_of_several_invalidations_counts_in_any_order():
    session = completed("u", minute=0)
    early = invalidated("u", session.data.session_id, minute=10)
    late = invalidated("u", session.data.session_id, minute=20)
    for order in ([session, early, late], [late, session, early], [late, early, session]):
        state = fold(LearnerState(), order, facts)
        assert state.invalidated == {session.data.session_id: at(10)}
        assert state.current() is None


def test_erasure_keeps_only_what_occurred_after_it():
    before = completed("u", minute=0)
    after = completed("u", minute=50)
    state = fold(LearnerState(), [after, before, erased("u", minute=30)], facts)
    assert set(state.sessions) == {after.data.session_id}
    assert state.erased_at == at(30)
    assert fold(state, [erased("u", minute=10)], facts) is state  # an older erasure: no change
