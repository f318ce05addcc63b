"""The sample-traffic generator: exact, reproducible, decodable, and covering every awkward case."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from producers.sample import DEFAULT_START, TRACKS, SampleTraffic, generate_sample
from schemas.registry import decode, encode

COMPLETED = "profiler.session.completed"
INVALIDATED = "profiler.session.invalidated"
ERASED = "learner.erased"
ASSIGNMENT = "mentorship.assignment.changed"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sample() -> SampleTraffic:
    return generate_sample(count=6000, users=300, cohorts=9, seed=11)


@pytest.fixture(scope="module")
def events(sample: SampleTraffic) -> list[Any]:
    """Every message decoded from its bytes (not from the cached event), in publish order."""
    return [decode(message.value) for message in sample.messages]


def first_deliveries(sample: SampleTraffic, events: list[Any]) -> list[tuple[int, Any]]:
    seen: set[Any] = set()
    out = []
    for position, event in enumerate(events):
        if event.event_id not in seen:
            seen.add(event.event_id)
            out.append((position, event))
    return out


def digest(traffic: SampleTraffic) -> str:
    h = hashlib.sha256()
    for m in traffic.messages:
        h.update(m.topic_kind.encode() + b"\0" + m.key.encode() + b"\0" + m.value + b"\n")
    return h.hexdigest()


# ----- exactness and reproducibility ---------------------------------------------------------


def test_same_arguments_give_identical_bytes(sample: SampleTraffic) -> None:
    again = generate_sample(count=6000, users=300, cohorts=9, seed=11)
    assert [(m.topic_kind, m.key, m.value) for m in again.messages] == [
        (m.topic_kind, m.key, m.value) for m in sample.messages
    ]


def test_a_different_seed_gives_different_traffic(sample: SampleTraffic) -> None:
    other = generate_sample(count=6000, users=300, cohorts=9, seed=12)
    assert len(other.messages) == len(sample.messages)
    assert digest(other) != digest(sample)
    assert {m.event_id for m in other.messages}.isdisjoint({m.event_id for m in sample.messages})


def test_bytes_do_not_depend_on_hash_randomisation() -> None:
    code = (
        "import hashlib; from producers.sample import generate_sample; "
        "s = generate_sample(800, 60, 4, 3); h = hashlib.sha256(); "
        "[h.update(m.topic_kind.encode() + b'\\0' + m.key.encode() + b'\\0' + m.value + b'\\n') "
        "for m in s.messages]; print(h.hexdigest())"
    )
    outputs = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        result = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            cwd=PROJECT_ROOT,
            env=env,
        )
        outputs.add(result.stdout.strip())
    assert outputs == {digest(generate_sample(800, 60, 4, 3))}


@pytest.mark.parametrize("count", [0, 1, 2, 19, 20, 21, 39, 40, 41, 100, 1234])
def test_count_is_exact(count: int) -> None:
    traffic = generate_sample(count=count, users=25, cohorts=3, seed=count)
    assert len(traffic.messages) == count
    assert traffic.counts()["messages"] == count


def test_count_is_exact_with_more_users_than_messages() -> None:
    traffic = generate_sample(count=150, users=5000, cohorts=0, seed=1)
    assert len(traffic.messages) == 150
    completions = [m.event.data for m in traffic.messages if m.event_type == COMPLETED]
    assert completions and all(s.cohort_id is None for s in completions)


def test_start_moves_the_timeline_and_must_have_a_zone() -> None:
    later = datetime(2027, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=2)))
    traffic = generate_sample(count=300, users=20, cohorts=2, seed=5, start=later)
    completions = [m.event.data.completed_at for m in traffic.messages if m.event_type == COMPLETED]
    assert min(completions) >= later
    default = generate_sample(count=300, users=20, cohorts=2, seed=5)
    assert min(m.event.occurred_at for m in default.messages) >= DEFAULT_START
    with pytest.raises(ValueError):
        generate_sample(count=10, users=2, cohorts=1, seed=1, start=datetime(2026, 1, 5))


@pytest.mark.parametrize(
    "arguments", [(-1, 10, 1), (10, 0, 1), (10, 10, -1)], ids=["count", "users", "cohorts"]
)
def test_bad_arguments_are_refused(arguments: tuple[int, int, int]) -> None:
    with pytest.raises(ValueError):
        generate_sample(*arguments, seed=1)


# ----- every message is a valid event with the right key -------------------------------------


def test_every_message_decodes_and_is_canonical(sample: SampleTraffic, events: list[Any]) -> None:
    for message, event in zip(sample.messages, events, strict=True):
        assert encode(event) == message.value
        assert message.event == event
        assert message.event_type == event.event_type
        assert message.event_id == str(event.event_id)


def test_keys_and_topics_follow_the_contract(sample: SampleTraffic, events: list[Any]) -> None:
    for message, event in zip(sample.messages, events, strict=True):
        if event.event_type == ASSIGNMENT:
            assert message.topic_kind == "mentorship"
            assert message.key == event.data.mentee_id
        else:
            assert message.topic_kind == "profiler"
            assert message.key == event.data.user_id
    topics = {topic for topic, _, _ in sample.records("p.events", "m.assignments")}
    assert topics == {"p.events", "m.assignments"}
    assert len(sample.profiler_events()) + len(sample.mentorship_events()) == len(sample.messages)


def test_occurred_at_is_never_before_the_facts_it_reports(events: list[Any]) -> None:
    for event in events:
        data = event.data
        for name in ("completed_at", "invalidated_at", "erased_at", "changed_at"):
            when = getattr(data, name, None)
            if when is not None:
                assert event.occurred_at >= when, (event.event_type, name)


@settings(max_examples=25, deadline=None)
@given(
    count=st.integers(0, 400),
    users=st.integers(1, 80),
    cohorts=st.integers(0, 12),
    seed=st.integers(0, 2**32),
)
def test_any_arguments_give_exactly_count_valid_messages(
    count: int, users: int, cohorts: int, seed: int
) -> None:
    traffic = generate_sample(count, users, cohorts, seed)
    assert len(traffic.messages) == count
    for message in traffic.messages:
        event = decode(message.value)
        key = event.data.mentee_id if event.event_type == ASSIGNMENT else event.data.user_id
        assert message.key == key
        assert message.key in traffic.user_ids
        for name in ("completed_at", "invalidated_at", "erased_at", "changed_at"):
            when = getattr(event.data, name, None)
            assert when is None or event.occurred_at >= when


# ----- the awkward cases the projections must meet -------------------------------------------


def sessions_by_user(events: list[Any]) -> dict[str, dict[Any, Any]]:
    by_user: dict[str, dict[Any, Any]] = defaultdict(dict)
    for event in events:
        if event.event_type == COMPLETED:
            by_user[event.data.user_id][event.data.session_id] = event.data
    return by_user


def test_retakes_complete_later(events: list[Any]) -> None:
    by_user = sessions_by_user(events)
    retakers = [sessions for sessions in by_user.values() if len(sessions) >= 3]
    assert len(retakers) > len(by_user) / 2
    assert any(len({s.completed_at for s in sessions.values()}) >= 3 for sessions in retakers)


def test_completed_at_ties_occur(events: list[Any]) -> None:
    ties = Counter(
        (e.data.user_id, e.data.completed_at)
        for e in {e.data.session_id: e for e in events if e.event_type == COMPLETED}.values()
    )
    assert any(n >= 2 for n in ties.values())


def test_some_older_sessions_arrive_after_newer_ones(
    sample: SampleTraffic, events: list[Any]
) -> None:
    newest: dict[str, datetime] = {}
    late = 0
    for _, event in first_deliveries(sample, events):
        if event.event_type != COMPLETED:
            continue
        best = newest.get(event.data.user_id)
        if best is not None and best > event.data.completed_at:
            late += 1
        newest[event.data.user_id] = max(best or event.data.completed_at, event.data.completed_at)
    assert late > 0
    assert late == sample.counts()["out_of_order_sessions"]


def test_duplicates_repeat_the_same_event_id_and_bytes(sample: SampleTraffic) -> None:
    first: dict[str, bytes] = {}
    repeats = 0
    for message in sample.messages:
        if message.event_id in first:
            repeats += 1
            assert message.duplicate
            assert message.value == first[message.event_id]
        else:
            assert not message.duplicate
            first[message.event_id] = message.value
    assert 0.02 * len(sample.messages) <= repeats <= 0.04 * len(sample.messages)
    assert repeats == sample.counts()["duplicate_deliveries"]
    assert len(sample.unique_events()) == len(first)


def test_invalidations_some_before_their_completion(
    sample: SampleTraffic, events: list[Any]
) -> None:
    completion_at: dict[Any, int] = {}
    invalidation_at: dict[Any, int] = {}
    owners: dict[Any, str] = {}
    for position, event in first_deliveries(sample, events):
        if event.event_type == COMPLETED:
            completion_at[event.data.session_id] = position
            owners[event.data.session_id] = event.data.user_id
        elif event.event_type == INVALIDATED:
            invalidation_at[event.data.session_id] = position
    assert set(invalidation_at) <= set(completion_at)
    assert 0.01 <= len(invalidation_at) / len(completion_at) <= 0.03
    early = [sid for sid, at in invalidation_at.items() if at < completion_at[sid]]
    assert early
    for event in events:
        if event.event_type == INVALIDATED:
            assert owners[event.data.session_id] == event.data.user_id
    assert sample.counts()["invalidations_before_completion"] == len(early)


def test_erasures_come_after_most_events_and_some_learners_return(
    sample: SampleTraffic, events: list[Any]
) -> None:
    erased_at = {e.data.user_id: e.data.erased_at for e in events if e.event_type == ERASED}
    assert erased_at
    assert len(erased_at) <= max(1, round(0.02 * sample.users))
    by_user = sessions_by_user(events)
    returned = 0
    for user, when in erased_at.items():
        times = [s.completed_at for s in by_user[user].values()]
        before = [t for t in times if t < when]
        assert len(before) > len(times) / 2
        returned += len(times) - len(before)
    assert returned > 0
    assert sample.counts()["post_erasure_sessions"] == returned


def test_mentor_assignments_some_later_deactivated(events: list[Any]) -> None:
    changes: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for event in events:
        if event.event_type == ASSIGNMENT:
            assert re.fullmatch(r"mentor-\d{2,}", event.data.mentor_id)
            changes[(event.data.mentor_id, event.data.mentee_id)].append(event.data)
    assert changes
    deactivated = [
        pair
        for pair, datas in changes.items()
        if any(not d.active for d in datas)
        and any(d.active and d.changed_at < max(x.changed_at for x in datas) for d in datas)
    ]
    assert deactivated
    newest = {pair: max(datas, key=lambda d: d.changed_at) for pair, datas in changes.items()}
    assert any(not d.active for d in newest.values())
    assert any(d.active for d in newest.values())


def test_some_learners_have_no_session(sample: SampleTraffic, events: list[Any]) -> None:
    with_sessions = {e.data.user_id for e in events if e.event_type == COMPLETED}
    assert 0 < len(with_sessions) < sample.users
    assert sample.counts()["users_with_sessions"] == len(with_sessions)


# ----- realistic content ---------------------------------------------------------------------


def test_sessions_look_like_profiler_results(sample: SampleTraffic, events: list[Any]) -> None:
    completions = list(
        {e.data.session_id: e.data for e in events if e.event_type == COMPLETED}.values()
    )
    assert all(re.fullmatch(r"learner-\d{4}", s.user_id) for s in completions)
    enterprise_of: dict[str, set[str | None]] = defaultdict(set)
    for s in completions:
        assert s.track in TRACKS
        assert set(s.skill_scores) <= set(TRACKS[s.track])
        assert 5 <= len(s.skill_scores) <= 10
        assert abs(s.overall_score - sum(s.skill_scores.values()) / len(s.skill_scores)) <= 0.06
        assert 1 <= len(s.value_answers.core_values) <= 5
        assert len(set(s.value_answers.core_values)) == len(s.value_answers.core_values)
        assert s.value_answers.motivation and len(s.value_answers.motivation) < 200
        assert s.value_answers.impact_goal and len(s.value_answers.impact_goal) < 200
        assert 0 <= s.anti_cheat.suspicion_score <= 1
        if s.cohort_id is None:
            assert s.enterprise_id is None
        else:
            assert re.fullmatch(r"cohort-\d{2}", s.cohort_id)
            assert re.fullmatch(r"enterprise-[a-z]+", s.enterprise_id or "")
            enterprise_of[s.cohort_id].add(s.enterprise_id)
    assert all(len(enterprises) == 1 for enterprises in enterprise_of.values())
    assert 2 <= len({e for es in enterprise_of.values() for e in es}) < len(enterprise_of)
    assert any(s.cohort_id is None for s in completions)
    assert {s.track for s in completions} == set(TRACKS)
    with_level = sum(s.recommended_level is not None for s in completions) / len(completions)
    assert 0.6 <= with_level <= 0.8
    opted_in = {s.user_id for s in completions if s.marketplace_opt_in}
    users = {s.user_id for s in completions}
    assert 0.25 <= len(opted_in) / len(users) <= 0.55
    bands = Counter(min(4, int(s.overall_score // 20)) for s in completions)
    assert len(bands) >= 4  # the score bands are exercised


def test_a_learner_keeps_opt_in_and_track_across_retakes(events: list[Any]) -> None:
    for sessions in sessions_by_user(events).values():
        assert len({s.marketplace_opt_in for s in sessions.values()}) == 1
        assert len({s.track for s in sessions.values()}) == 1


def test_counts_agree_with_the_messages(sample: SampleTraffic) -> None:
    counts = sample.counts()
    by_type = Counter(m.event_type for m in sample.messages)
    for event_type in (COMPLETED, INVALIDATED, ERASED, ASSIGNMENT):
        assert counts[event_type] == by_type[event_type]
    assert counts["messages"] == len(sample.messages) == sum(by_type.values())
    for feature in (
        "duplicate_deliveries", "distinct_sessions", "users_with_sessions", "invalidations",
        "invalidations_before_completion", "erasures", "post_erasure_sessions",
        "mentor_assignments", "mentor_deactivations", "out_of_order_sessions", "completed_at_ties",
    ):  # fmt: skip
        assert counts[feature] > 0, feature


def test_timestamps_are_utc_and_whole_seconds(events: list[Any]) -> None:
    for event in events[:500]:
        assert event.occurred_at.utcoffset() == timedelta(0)
        assert event.occurred_at.microsecond == 0
        assert event.occurred_at.tzinfo is not None
    assert all(e.occurred_at >= datetime(2026, 1, 5, 8, tzinfo=UTC) for e in events)


def test_the_generator_refuses_bytes_that_encode_would_not_make(sample: SampleTraffic) -> None:
    from producers.sample import PublishedMessage, _Generator

    message = next(m for m in sample.messages if m.event_type == COMPLETED)
    _Generator.check(message)  # the real bytes pass
    document = json.loads(message.value)
    reordered = {"data": document.pop("data"), **document}
    drifted = PublishedMessage(
        message.topic_kind,
        message.key,
        message.event_type,
        message.event_id,
        json.dumps(reordered, separators=(",", ":")).encode(),
    )
    with pytest.raises(AssertionError, match="differ from schemas.registry.encode"):
        _Generator.check(drifted)
