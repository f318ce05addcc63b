"""The hostile-traffic generator: reproducible, every category, and tagged with the reason the
hub's refusal rules (`screen`) actually give, checked here without I/O for every message."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from hub.projections import all_projections
from producers.sample import generate_sample
from tests.support.hostile import FIXED, WEIGHTS, generate_hostile, mix
from toolkit.streaming.applier import screen
from toolkit.streaming.dead_letters import Refusal
from toolkit.streaming.records import Record

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def sample():
    return generate_sample(count=1500, users=100, cohorts=4, seed=3)


@pytest.fixture(scope="module")
def hostile(sample):
    return generate_hostile(sample, 10_000, seed=9, now=NOW)


def test_same_arguments_give_the_same_bytes(sample, hostile) -> None:
    again = generate_hostile(sample, 10_000, seed=9, now=NOW)
    assert [(h.key, h.value) for h in again] == [(h.key, h.value) for h in hostile]
    other = generate_hostile(sample, 10_000, seed=10, now=NOW)
    assert [h.value for h in other] != [h.value for h in hostile]


def test_every_category_is_present_on_both_topics_where_it_exists(hostile) -> None:
    assert len(hostile) == 10_000
    by_category = Counter(h.category for h in hostile)
    assert set(by_category) == set(WEIGHTS) | set(FIXED)
    assert all(by_category[c] == n for c, n in FIXED.items())
    assert {h.topic_kind for h in hostile} == {"profiler", "mentorship"}
    reasons = Counter(h.expected_reason for h in hostile)
    assert set(reasons) == {
        "malformed", "invalid", "oversized", "unknown_event_type", "unknown_schema_version",
        "key_mismatch", "occurred_in_future", "timestamp_in_future", None,
    }
    sizes = sorted(len(h.value or b"") for h in hostile if h.category == "oversized")
    assert sizes[-1] == 2 * 1_048_576
    skills = [h for h in hostile if h.category == "huge_skill_map"]
    assert all(h.value.count(b'"skill_0') == 10_000 for h in skills)


def test_each_message_gets_the_reason_it_is_tagged_with(hostile) -> None:
    """Every projection that reads the message's topic refuses it with its expected reason,
    and accepts the injection events that only look hostile."""
    projections = list(all_projections().values())
    for h in hostile:
        record = Record(h.topic_kind, 0, 0, h.key, h.value)
        readers = projections if h.topic_kind == "profiler" else [all_projections()["mentorship"]]
        for projection in readers:
            outcome = screen(record, projection, 1_048_576, NOW)
            got = outcome.reason if isinstance(outcome, Refusal) else None
            assert got == h.expected_reason, (h.category, h.note, projection.name, outcome)


def test_mix_keeps_each_side_in_order(sample, hostile) -> None:
    mixed = mix(sample, hostile[:500], seed=1)
    assert len(mixed) == len(sample.messages) + 500
    assert [m.hostile for m in mixed if m.hostile is not None] == hostile[:500]
    assert [m.value for m in mixed if m.hostile is None] == [m.value for m in sample.messages]
    assert mixed != mix(sample, hostile[:500], seed=2)
