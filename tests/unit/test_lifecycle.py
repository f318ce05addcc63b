"""The shared learner lifecycle, beyond what each projection's rules test."""

from __future__ import annotations

from schemas.registry import LearnerErased, SessionCompleted, SessionInvalidated
from tests.support.events import at, completed, erased, invalidated
from toolkit.lifecycle import LearnerState, fold


def facts(data):
    return data.overall_score


def test_latest_of_several_invalidations_is_remembered_in_any_order():
    session = completed("u", minute=0)
    early = invalidated("u", session.data.session_id, minute=10)
    late = invalidated("u", session.data.session_id, minute=20)
    for order in ([session, early, late], [late, session, early], [late, early, session]):
        state = fold(LearnerState(), order, facts)
        assert state.invalidated == {session.data.session_id: at(20)}
        assert state.current() is None


def test_invalidations_around_an_erasure_give_one_state_in_every_order():
    """Two invalidations of one session on either side of an erasure, and a completion after
    it: every arrival order (and every split into two batches) ends in the same state, the
    session retracted by the invalidation that survives the erasure. Under the former rule
    (the earliest counts) the order [late, early, erasure] kept no invalidation at all."""
    from itertools import permutations

    session = completed("u", minute=3)
    sid = session.data.session_id
    events = [
        invalidated("u", sid, minute=0), erased("u", minute=1),
        invalidated("u", sid, minute=2), session,
    ]
    expected = LearnerState({sid: fold(LearnerState(), [session], facts).sessions[sid]},
                            {sid: at(2)}, at(1))
    for order in permutations(events):
        for split in range(len(order) + 1):
            state = fold(fold(LearnerState(), order[:split], facts), order[split:], facts)
            assert state == expected, [type(e).__name__ for e in order]
            assert state.current() is None


def test_erasure_keeps_only_what_occurred_after_it():
    before = completed("u", minute=0)
    after = completed("u", minute=50)
    state = fold(LearnerState(), [after, before, erased("u", minute=30)], facts)
    assert set(state.sessions) == {after.data.session_id}
    assert state.erased_at == at(30)
    assert fold(state, [erased("u", minute=10)], facts) is state  # an older erasure: no change


def _events_strategy():
    from hypothesis import strategies as st

    sessions = [completed("u", minute=m) for m in (0, 5, 40, 70)]
    ids = [s.data.session_id for s in sessions]
    return st.lists(
        st.one_of(
            st.sampled_from(sessions),
            st.builds(lambda i, m: invalidated("u", ids[i], minute=m),
                      st.integers(0, len(ids) - 1), st.integers(0, 90)),
            st.builds(lambda m: erased("u", minute=m), st.integers(0, 90)),
        ),
        max_size=12,
    )


def test_fold_is_apply_of_each_event_in_turn():
    """`fold`'s working-copy loop is the reference `apply`, event by event."""
    from functools import reduce

    from hypothesis import given, settings

    from toolkit.lifecycle import apply

    @settings(max_examples=300, deadline=None)
    @given(_events_strategy(), _events_strategy())
    def check(first, second):
        start = fold(LearnerState(), first, facts)
        assert start == reduce(lambda s, e: apply(s, e, facts), first, LearnerState())
        folded = fold(start, second, facts)
        assert folded == reduce(lambda s, e: apply(s, e, facts), second, start)
        if folded != start:
            assert folded is not start

    check()


def test_any_order_and_duplication_gives_the_whole_history_state():
    """The promise of `toolkit.lifecycle`: any permutation, with duplicates, in any split into
    batches, folds to what the whole history says (read here without `fold`: sessions and
    invalidations that occurred at or after the latest erasure, the latest invalidation time)."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=400, deadline=None)
    @given(_events_strategy(), st.randoms(use_true_random=False), st.integers(0, 24))
    def check(events, random, split):
        arrivals = events + random.sample(events, k=len(events) // 2)  # re-deliveries
        random.shuffle(arrivals)
        state = fold(fold(LearnerState(), arrivals[:split], facts), arrivals[split:], facts)
        erasures = [e.data.erased_at for e in events if isinstance(e, LearnerErased)]
        erased_at = max(erasures, default=None)
        alive = [e for e in events if erased_at is None or e.occurred_at >= erased_at]
        invalidated: dict = {}
        for e in alive:
            if isinstance(e, SessionInvalidated):
                sid = e.data.session_id
                invalidated[sid] = max(invalidated.get(sid, e.occurred_at), e.occurred_at)
        assert state.erased_at == erased_at
        assert state.invalidated == invalidated
        assert set(state.sessions) == {
            e.data.session_id for e in alive if isinstance(e, SessionCompleted)
        }

    check()


def test_session_ids_rank_as_their_canonical_strings():
    """CONTRACT ties on completed_at by session_id; UUID order is its string order."""
    import uuid

    ids = [uuid.uuid4() for _ in range(2000)]
    assert sorted(ids) == sorted(ids, key=str)


def test_a_session_id_reused_by_another_learner_is_another_session():
    """Learners never share a session: the intruder's completion and invalidation of the
    victim's session id leave the victim's state exactly as without them, in either order."""
    from toolkit.streaming.grouping import by_learner

    mine = completed("a", minute=0)
    sid = mine.data.session_id
    theirs = completed("b", minute=5, session_id=sid)
    their_kill = invalidated("b", sid, minute=10)
    for order in ([mine, theirs, their_kill], [their_kill, theirs, mine]):
        states = {u: fold(LearnerState(), evs, facts) for u, evs in by_learner(order).items()}
        assert states["a"] == fold(LearnerState(), [mine], facts)
        current = states["a"].current()
        assert current is not None and current.session_id == sid
        assert states["b"].invalidated == {sid: at(10)} and states["b"].current() is None
