"""The reliability checker can fail: doctored projections show up as lost, duplicated,
unexpected and unseen events, and oracle units of the same events always agree."""

from __future__ import annotations

import json
from collections import Counter

from producers.sample import generate_sample
from tests.reliability.checker import check, digest
from tests.reliability.effects import expected_units


def sample_units():
    sample = generate_sample(400, 40, 3, seed=11)
    return expected_units(m.event for m in sample.messages)


def copy(units):
    return {table: Counter(c) for table, c in units.items()}


def test_identical_effects_pass_and_print_one_json_line():
    expected = sample_units()
    verdict = check("same", expected, copy(expected), {"missions": 0})
    assert verdict.ok
    line = json.loads(verdict.summary())
    assert (line["lost"], line["duplicated"], line["unexpected"], line["unseen"]) == (0, 0, 0, 0)


def test_a_missing_effect_is_lost():
    expected = sample_units()
    observed = copy(expected)
    gone = next(iter(observed["portfolio.items"]))
    del observed["portfolio.items"][gone]
    verdict = check("lost", expected, observed, {})
    assert (verdict.lost, verdict.duplicated, verdict.unexpected) == (1, 0, 0)
    assert verdict.differing_tables == ["portfolio.items"] and not verdict.ok


def test_a_session_counted_twice_is_duplicated():
    expected = sample_units()
    observed = copy(expected)
    counted = next(u for u in observed["analytics.group_totals"] if u[0] == "sessions_completed")
    observed["analytics.group_totals"][counted] += 1
    verdict = check("dup", expected, observed, {})
    assert (verdict.lost, verdict.duplicated, verdict.unexpected) == (0, 1, 0)
    assert "duplicated 1x" in verdict.examples["analytics.group_totals"][0]


def test_a_wrong_value_is_lost_and_unexpected():
    expected = sample_units()
    observed = copy(expected)
    user, level, session = next(iter(observed["missions.difficulty"]))
    del observed["missions.difficulty"][(user, level, session)]
    observed["missions.difficulty"][(user, level % 5 + 1, session)] += 1
    verdict = check("stale", expected, observed, {})
    assert (verdict.lost, verdict.unexpected) == (1, 1)


def test_records_never_handled_are_unseen():
    expected = sample_units()
    verdict = check("unseen", expected, copy(expected), {"missions": 3, "recipes": 0})
    assert verdict.unseen == 3 and not verdict.ok


def test_digest_ignores_order_and_zero_counts():
    a = Counter({("x", 1): 2, ("y", 2): 1})
    b = Counter({("y", 2): 1, ("x", 1): 2, ("z", 3): 0})
    assert digest(a) == digest(b) != digest(Counter({("x", 1): 1, ("y", 2): 1}))


def test_duplicate_deliveries_do_not_change_the_expected_effects():
    sample = generate_sample(400, 40, 3, seed=11)
    once = expected_units(sample.unique_events())
    assert {t: digest(u) for t, u in once.items()} == {
        t: digest(u) for t, u in expected_units(m.event for m in sample.messages).items()}
    assert all(once[t] for t in ("missions.difficulty", "portfolio.items",
                                 "analytics.group_totals", "mentorship.assignments"))
