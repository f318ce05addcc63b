"""The demo summary's checks, without I/O: an agreement holds only when every side is equal,
a bound only when each side is at most the next, place by place."""

from __future__ import annotations

from hub.demo_summary import Check, Summary, render


def test_an_agreement_needs_every_side_equal():
    assert Check("a", "=", (("x", (3,)), ("y", (3,)), ("z", (3,)))).holds
    assert not Check("a", "=", (("x", (3,)), ("y", (3,)), ("z", (2,)))).holds
    assert not Check("a", "=", (("x", (1, 2)), ("y", (2, 1)))).holds


def test_a_bound_holds_place_by_place():
    assert Check("b", "<=", (("x", (4,)), ("y", (4,)))).holds
    assert not Check("b", "<=", (("x", (5,)), ("y", (4,)))).holds
    # Not the tuples' lexicographic order: (1, 9) is not at most (2, 0) place by place.
    assert not Check("b", "<=", (("x", (1, 9)), ("y", (2, 0)))).holds


def test_render_marks_each_check_and_summary_agrees_only_when_all_hold():
    good = Check("learners", "=", (("missions", (1, 2)), ("recipes", (1, 2))))
    bad = Check("items", "<=", (("portfolio", (7,)), ("published", (6,))))
    assert Summary({"n": 1}, [good]).agrees and not Summary({"n": 1}, [good, bad]).agrees
    lines = render(Summary({"n": 1}, [good, bad]))
    assert lines[-2:] == ["  learners: missions 1/2 = recipes 1/2  ok",
                          "  items: portfolio 7 <= published 6  MISMATCH"]
