"""The upcasting path of `decode`: an event of an older schema_version is turned into the
current one step by step through `UPCASTERS`, and a missing step is a clear refusal.

The real event types are all at v1, so the test makes `learner.erased` be at v3 for its
duration (monkeypatched `CURRENT` and `UPCASTERS`): v2 added `reason`, v3 renamed `erased_at`
to `requested_at` and added `source`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest
from profiler_hub_kit.models import errors, registry
from profiler_hub_kit.models.base import Event, EventData, UserId

ERASED = "learner.erased"


class LearnerErasedV3(EventData):
    event_type: ClassVar[str] = ERASED
    schema_version: ClassVar[int] = 3

    user_id: UserId
    requested_at: datetime
    reason: str
    source: str


def v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "reason": "unknown"}


def v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
    moved = {key: value for key, value in data.items() if key != "erased_at"}
    return {**moved, "requested_at": data["erased_at"], "source": f"upcast:{data['reason']}"}


def raw(version: int, data: dict[str, Any]) -> bytes:
    return json.dumps({
        "event_id": "b3c1f9a2-5d3e-4c1b-9a57-2f0e6d1c8a44",
        "event_type": ERASED,
        "schema_version": version,
        "occurred_at": "2026-02-09T10:15:00Z",
        "producer": "profiler",
        "data": data,
    }).encode()


V1_DATA = {"user_id": "learner-0001", "erased_at": "2026-02-09T10:14:00Z"}


@pytest.fixture
def steps(monkeypatch) -> list[int]:
    """Makes learner.erased current at v3 with both upcasters; returns the steps taken, in order."""
    taken: list[int] = []

    def recorded(version: int, step):
        def run(data: dict[str, Any]) -> dict[str, Any]:
            taken.append(version)
            return step(data)
        return run

    monkeypatch.setitem(registry.CURRENT, ERASED, (LearnerErasedV3, Event[LearnerErasedV3]))
    monkeypatch.setitem(registry.UPCASTERS, (ERASED, 1), recorded(1, v1_to_v2))
    monkeypatch.setitem(registry.UPCASTERS, (ERASED, 2), recorded(2, v2_to_v3))
    return taken


def test_a_v1_event_is_upcast_step_by_step_to_the_current_model(steps) -> None:
    event = registry.decode(raw(1, V1_DATA))
    assert steps == [1, 2]
    assert isinstance(event.data, LearnerErasedV3)
    assert event.schema_version == 3
    assert event.data == LearnerErasedV3(
        user_id="learner-0001",
        requested_at=datetime(2026, 2, 9, 10, 14, tzinfo=UTC),
        reason="unknown",
        source="upcast:unknown",
    )


def test_a_v2_event_takes_only_the_steps_after_it(steps) -> None:
    event = registry.decode(raw(2, {**V1_DATA, "reason": "user_request"}))
    assert steps == [2]
    assert event.data.source == "upcast:user_request"  # type: ignore[union-attr]


def test_a_current_version_event_takes_no_step(steps) -> None:
    current = {"user_id": "learner-0001", "requested_at": "2026-02-09T10:14:00Z",
               "reason": "user_request", "source": "profiler"}
    event = registry.decode(raw(3, current))
    assert steps == []
    assert event.data.source == "profiler"  # type: ignore[union-attr]


def test_a_missing_step_is_refused_as_an_unknown_schema_version(steps, monkeypatch) -> None:
    monkeypatch.delitem(registry.UPCASTERS, (ERASED, 2))
    with pytest.raises(errors.UnknownSchemaVersion) as refused:
        registry.decode(raw(1, V1_DATA))
    assert steps == [1]
    assert refused.value.reason == "unknown_schema_version"
    assert str(refused.value) == f"unknown_schema_version: no upcaster from {ERASED} v2"


def test_an_upcast_event_that_still_fails_the_model_is_invalid_at_its_field(steps) -> None:
    with pytest.raises(errors.InvalidEvent) as refused:
        registry.decode(raw(1, {**V1_DATA, "user_id": ""}))
    assert steps == [1, 2]
    assert refused.value.field == "data.user_id"


def test_an_older_event_without_a_data_object_is_invalid_before_any_step(steps) -> None:
    with pytest.raises(errors.InvalidEvent) as refused:
        registry.decode(raw(1, None))  # type: ignore[arg-type]
    assert steps == []
    assert refused.value.field == "data"
