"""Portfolio items and the current value statement from a learner's lifecycle, without I/O."""

from __future__ import annotations

import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from consumers.portfolio.decide import item_id_for, portfolio_items, session_facts
from schemas.session_completed import ValueAnswers
from tests.support.events import at, completed, erased, invalidated
from tests.support.oracles.portfolio import ExpectedItem, ExpectedStatement, portfolios
from tests.support.reuse import INTRUDER, arrivals, reusing
from toolkit.lifecycle import LearnerState, fold
from toolkit.streaming.grouping import by_learner


def answered(event, values=("integrity",), motivation="m", goal="g", track="defender"):
    """`event` (a completion) with other value answers and track."""
    data = event.data.model_copy(update={
        "track": track,
        "value_answers": ValueAnswers(core_values=list(values), motivation=motivation,
                                      impact_goal=goal),
    })
    return event.model_copy(update={"data": data})


def state_after(events):
    return fold(LearnerState(), events, session_facts)


def items_after(events) -> list[ExpectedItem]:
    """The projection's items in the oracle's shape and order (newest session first)."""
    user = events[0].key if events else "u"  # one learner's events (item ids are theirs)
    items = sorted(portfolio_items(user, state_after(events)).values(),
                   key=lambda i: (i.created_at, str(i.profiler_session_id)), reverse=True)
    return [ExpectedItem(i.item_id, i.profiler_session_id, i.facts.title, i.facts.statement,
                         i.status, i.created_at, i.withdrawn_at) for i in items]


def statement_after(events) -> ExpectedStatement | None:
    current = state_after(events).current()
    if current is None:
        return None
    f = current.facts
    return ExpectedStatement(current.session_id, f.statement, f.core_values, f.motivation,
                             f.impact_goal, f.track, current.completed_at)


def test_one_item_per_session_however_often_it_arrives():
    first = answered(completed("u", minute=0), ["courage", "service"], "I care.", "Lead.")
    items = items_after([first, first, first])
    assert len(items) == 1
    item = items[0]
    assert item.item_id == item_id_for("u", first.data.session_id)
    assert (item.status, item.created_at, item.withdrawn_at) == ("active", at(0), None)
    assert item.statement == ("I am driven by courage and service. I care. My goal: Lead. "
                              "My track: defender.")


def test_invalidation_withdraws_in_either_order_and_current_falls_back():
    old = answered(completed("u", minute=0), ["fairness"], track="grc")
    new = answered(completed("u", minute=10), ["courage"])
    kill = invalidated("u", new.data.session_id, minute=20)
    for arrival in ([old, new, kill], [kill, new, old], [new, kill, old]):
        items = items_after(arrival)
        assert [(i.profiler_session_id, i.status, i.withdrawn_at) for i in items] == [
            (new.data.session_id, "withdrawn", at(20)), (old.data.session_id, "active", None)]
        current = statement_after(arrival)
        assert current is not None
        assert (current.profiler_session_id, current.track) == (old.data.session_id, "grc")


def test_invalidation_alone_makes_no_item():
    assert items_after([invalidated("u", uuid.uuid4(), minute=3)]) == []


def test_retake_becomes_the_current_statement_but_both_items_remain():
    first = answered(completed("u", minute=0), ["integrity"])
    retake = answered(completed("u", minute=30), ["curiosity", "ownership"], goal="Build.")
    current = statement_after([retake, first])
    assert current is not None
    assert current.profiler_session_id == retake.data.session_id
    assert current.core_values == ("curiosity", "ownership")
    assert [i.status for i in items_after([retake, first])] == ["active", "active"]


def test_erasure_forgets_older_sessions_but_keeps_later_ones():
    before = completed("u", minute=0)
    gone = erased("u", minute=30)
    later = completed("u", minute=40)
    assert items_after([before, gone]) == [] and statement_after([gone, before]) is None
    assert [i.profiler_session_id for i in items_after([gone, later, before])] == [
        later.data.session_id]


VALUE_CHOICES = ["integrity", " curiosity ", "Integrity", "", "resilience", "service"]
TEXTS = ["", "  ", "I protect people.", "  to  grow\n", "Why not?"]


@st.composite
def learner_histories(draw):
    """Sessions with varied answers (some invalidated, some tied in time), maybe an erasure."""
    user = "learner-h"
    events = []
    minutes = st.integers(min_value=0, max_value=60)
    for index in range(draw(st.integers(min_value=0, max_value=6))):
        minute = draw(minutes)
        session = answered(
            completed(user, minute=minute, session_id=uuid.UUID(
                int=(draw(st.integers(0, 2**32)) << 8) | index)),
            draw(st.lists(st.sampled_from(VALUE_CHOICES), min_size=1, max_size=10)),
            draw(st.sampled_from(TEXTS)), draw(st.sampled_from(TEXTS)),
            draw(st.sampled_from(["defender", "grc", " leadership "])),
        )
        events.append(session)
        # Sometimes two invalidations of one session, so an erasure can fall between them.
        for _ in range(draw(st.sampled_from([0, 0, 0, 0, 0, 0, 1, 2]))):
            events.append(invalidated(user, session.data.session_id, minute=draw(minutes)))
    if draw(st.integers(0, 4)) == 0:
        events.append(erased(user, minute=draw(minutes)))
    return events


@settings(max_examples=300, deadline=None)
@given(data=st.data(), history=learner_histories())
def test_any_order_and_duplication_matches_the_oracle(data, history):
    duplicated = history + data.draw(st.lists(st.sampled_from(history), max_size=5)
                                     if history else st.just([]))
    arrival = data.draw(st.permutations(duplicated))
    expected = portfolios(history).get("learner-h")
    assert items_after(arrival) == (list(expected.items) if expected else [])
    assert statement_after(arrival) == (expected.current if expected else None)


def _answered_completion(user, *, minute, session_id, score):
    return answered(completed(user, minute=minute, session_id=session_id),
                    ["courage"], f"score {score:.0f}", "Lead.", "grc")


@settings(max_examples=300, deadline=None)
@given(data=st.data(), history=learner_histories())
def test_a_session_id_reused_by_another_learner_changes_neither_portfolio(data, history):
    intrusion = data.draw(reusing(history, complete=_answered_completion))
    grouped = by_learner(data.draw(arrivals(history + intrusion)))
    mine, theirs = items_after(grouped.get("learner-h", [])), items_after(grouped.get(INTRUDER, []))
    # Each learner's items as without the other's events, and as the oracle says.
    assert mine == items_after(history)
    assert theirs == items_after(intrusion)
    expected = portfolios(history + intrusion)
    for user, got in (("learner-h", mine), (INTRUDER, theirs)):
        assert got == (list(expected[user].items) if user in expected else [])
    # Item ids are the learner's: the same session id never names both learners' items.
    assert not {i.item_id for i in mine} & {i.item_id for i in theirs}
