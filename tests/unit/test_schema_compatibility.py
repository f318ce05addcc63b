"""The schema compatibility gate's pure comparison: a table of known breaking and non-breaking
changes applied to the real `profiler.session.completed` v1 schema, and `check`'s policy."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any, ClassVar

import pytest
from profiler_hub_kit.models.base import Event, EventData, UserId
from profiler_hub_kit.models.registry import CURRENT
from pydantic import AwareDatetime

from schemas.compatibility import Change, compare
from schemas.compatibility import check as check_schemas
from schemas.generate import render, schema_for

COMPLETED = "profiler.session.completed"
ERASED = "learner.erased"


def real_schema(event_type: str = COMPLETED) -> dict[str, Any]:
    payload_model, event_model = CURRENT[event_type]
    return json.loads(render(schema_for(payload_model, event_model)))


def data(schema: dict[str, Any]) -> dict[str, Any]:
    """The payload model's definition inside a whole-event schema."""
    return schema["$defs"]["SessionCompletedV1"]


def field(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return data(schema)["properties"][name]


def remove_field(s: dict[str, Any]) -> None:
    del data(s)["properties"]["track"]
    data(s)["required"].remove("track")


def narrow_number_to_integer(s: dict[str, Any]) -> None:
    field(s, "overall_score")["type"] = "integer"


def change_boolean_to_string(s: dict[str, Any]) -> None:
    field(s, "marketplace_opt_in").update(type="string", default="no")


def refuse_null(s: dict[str, Any]) -> None:
    data(s)["properties"]["cohort_id"] = {"maxLength": 64, "minLength": 1, "type": "string"}


def add_required_field(s: dict[str, Any]) -> None:
    data(s)["properties"]["platform"] = {"type": "string"}
    data(s)["required"].append("platform")


def make_optional_field_required(s: dict[str, Any]) -> None:
    data(s)["required"].append("cohort_id")
    del field(s, "cohort_id")["default"]


def remove_enum_value(s: dict[str, Any]) -> None:
    field(s, "recommended_level")["anyOf"][0]["enum"].remove("expert")


def lower_max_length(s: dict[str, Any]) -> None:
    field(s, "track")["maxLength"] = 32


def lower_maximum(s: dict[str, Any]) -> None:
    field(s, "overall_score")["maximum"] = 50


def raise_nested_minimum(s: dict[str, Any]) -> None:
    s["$defs"]["AntiCheat"]["properties"]["duration_seconds"]["minimum"] = 60


def add_pattern(s: dict[str, Any]) -> None:
    field(s, "user_id")["pattern"] = "^learner-[0-9]+$"


def close_additional_properties(s: dict[str, Any]) -> None:
    data(s)["additionalProperties"] = False


def raise_min_items(s: dict[str, Any]) -> None:
    s["$defs"]["ValueAnswers"]["properties"]["core_values"]["minItems"] = 2


def restrict_array_items(s: dict[str, Any]) -> None:
    s["$defs"]["AntiCheat"]["properties"]["flags"]["items"]["enum"] = ["fast", "tab_switch"]


def lower_map_value_maximum(s: dict[str, Any]) -> None:
    field(s, "skill_scores")["additionalProperties"]["maximum"] = 10


def shorten_map_keys(s: dict[str, Any]) -> None:
    field(s, "skill_scores")["propertyNames"]["maxLength"] = 8


def raise_envelope_min_length(s: dict[str, Any]) -> None:
    s["properties"]["producer"]["minLength"] = 3


def add_unmodelled_keyword(s: dict[str, Any]) -> None:
    field(s, "track")["not"] = {"const": "defender"}


BREAKING: list[tuple[Callable[[dict[str, Any]], None], str, str]] = [
    (remove_field, "$.data.track", "field removed"),
    (narrow_number_to_integer, "$.data.overall_score", "type narrowed from number to integer"),
    (change_boolean_to_string, "$.data.marketplace_opt_in",
     "type changed from boolean to string"),
    (refuse_null, "$.data.cohort_id", "type narrowed: no longer accepts null"),
    (add_required_field, "$.data.platform", "new required field without default"),
    (make_optional_field_required, "$.data.cohort_id", "optional field made required"),
    (remove_enum_value, "$.data.recommended_level", "enum value removed: 'expert'"),
    (lower_max_length, "$.data.track", "maxLength lowered from 64 to 32"),
    (lower_maximum, "$.data.overall_score", "maximum lowered from 100 to 50"),
    (raise_nested_minimum, "$.data.anti_cheat.duration_seconds", "minimum raised from 0 to 60"),
    (add_pattern, "$.data.user_id", "pattern added"),
    (close_additional_properties, "$.data", "additionalProperties closed"),
    (raise_min_items, "$.data.value_answers.core_values", "minItems raised from 1 to 2"),
    (restrict_array_items, "$.data.anti_cheat.flags[*]", "values restricted to"),
    (lower_map_value_maximum, "$.data.skill_scores.*", "maximum lowered from 100 to 10"),
    (shorten_map_keys, "$.data.skill_scores.<key>", "maxLength lowered from 64 to 8"),
    (raise_envelope_min_length, "$.producer", "minLength raised from 1 to 3"),
    (add_unmodelled_keyword, "$.data.track", "not changed"),
]


def add_optional_field(s: dict[str, Any]) -> None:
    data(s)["properties"]["platform"] = {
        "anyOf": [{"type": "string"}, {"type": "null"}], "default": None}


def add_required_field_with_default(s: dict[str, Any]) -> None:
    data(s)["properties"]["platform"] = {"type": "string", "default": "web"}
    data(s)["required"].append("platform")


def add_enum_value(s: dict[str, Any]) -> None:
    field(s, "recommended_level")["anyOf"][0]["enum"].append("master")


def change_description(s: dict[str, Any]) -> None:
    field(s, "track")["description"] = "The profiler track the learner took."


def raise_max_length(s: dict[str, Any]) -> None:
    field(s, "track")["maxLength"] = 128


def lower_minimum(s: dict[str, Any]) -> None:
    s["$defs"]["AntiCheat"]["properties"]["suspicion_score"]["minimum"] = -1


def remove_maximum(s: dict[str, Any]) -> None:
    del field(s, "overall_score")["maximum"]


def widen_integer_to_number(s: dict[str, Any]) -> None:
    s["$defs"]["AntiCheat"]["properties"]["duration_seconds"]["type"] = "number"


def accept_null(s: dict[str, Any]) -> None:
    data(s)["properties"]["track"] = {
        "anyOf": [{"maxLength": 64, "minLength": 1, "type": "string"}, {"type": "null"}],
        "default": None,
    }
    data(s)["required"].remove("track")


def make_required_field_optional(s: dict[str, Any]) -> None:
    data(s)["required"].remove("completed_at")


NON_BREAKING: list[tuple[Callable[[dict[str, Any]], None], str, str]] = [
    (add_optional_field, "$.data.platform", "optional field added"),
    (add_required_field_with_default, "$.data.platform", "optional field added"),
    (add_enum_value, "$.data.recommended_level", "enum value added: 'master'"),
    (change_description, "$.data.track", "description changed"),
    (raise_max_length, "$.data.track", "maxLength raised from 64 to 128"),
    (lower_minimum, "$.data.anti_cheat.suspicion_score", "minimum lowered from 0 to -1"),
    (remove_maximum, "$.data.overall_score", "maximum removed"),
    (widen_integer_to_number, "$.data.anti_cheat.duration_seconds",
     "type widened from integer to number"),
    (accept_null, "$.data.track", "now also accepts null"),
    (make_required_field_optional, "$.data.completed_at", "required field made optional"),
]


@pytest.mark.parametrize(("mutate", "path", "what"), BREAKING,
                         ids=[m.__name__ for m, *_ in BREAKING])
def test_a_breaking_change_is_named_at_its_path(mutate, path, what) -> None:
    old = real_schema()
    new = copy.deepcopy(old)
    mutate(new)
    breaking = [change for change in compare(old, new) if change.breaking]
    assert [(c.path, c.what.startswith(what)) for c in breaking] == [(path, True)], breaking


@pytest.mark.parametrize(("mutate", "path", "what"), NON_BREAKING,
                         ids=[m.__name__ for m, *_ in NON_BREAKING])
def test_a_compatible_change_is_seen_but_not_breaking(mutate, path, what) -> None:
    old = real_schema()
    new = copy.deepcopy(old)
    mutate(new)
    changes = compare(old, new)
    assert [c for c in changes if c.breaking] == []
    assert Change(path, what, breaking=False) in changes, changes


def test_identical_schemas_and_renamed_definitions_are_no_change() -> None:
    old = real_schema()
    assert compare(old, copy.deepcopy(old)) == []
    renamed = copy.deepcopy(old)
    renamed["$defs"]["SessionCompletedV2"] = renamed["$defs"].pop("SessionCompletedV1")
    renamed["properties"]["data"]["$ref"] = "#/$defs/SessionCompletedV2"
    assert compare(old, renamed) == []


def test_recursive_definitions_are_compared_once_and_the_walk_ends() -> None:
    def tree(max_length: int) -> dict[str, Any]:
        return {
            "$defs": {"Node": {"type": "object", "properties": {
                "name": {"type": "string", "maxLength": max_length},
                "parent": {"anyOf": [{"$ref": "#/$defs/Node"}, {"type": "null"}]},
                "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
            }}},
            "$ref": "#/$defs/Node",
        }

    breaking = [c for c in compare(tree(10), tree(5)) if c.breaking]
    assert ("$.name", True) in [(c.path, c.breaking) for c in breaking]
    assert all(c.what == "maxLength lowered from 10 to 5" for c in breaking)


# ----- check: the policy over released versions --------------------------------------------


def version_2(schema: dict[str, Any]) -> dict[str, Any]:
    """What generating a v2 model with no change of fields would give."""
    new = copy.deepcopy(schema)
    new["properties"]["schema_version"]["const"] = 2
    new["title"] = new["title"].replace("v1", "v2")
    new["$id"] = new["$id"].replace(".v1", ".v2")
    return new


def test_released_versions_unchanged_are_compatible() -> None:
    schema = real_schema()
    report = check_schemas({(COMPLETED, 1): schema}, {COMPLETED: (1, schema)}, set())
    assert report.compatible
    assert report.summary() == (
        f"schemas compatible, 1 event types: {COMPLETED} v1 released and unchanged")


def test_any_change_to_a_released_version_breaks_it_even_a_loosening_one() -> None:
    released = real_schema()
    current = copy.deepcopy(released)
    raise_max_length(current)
    report = check_schemas({(COMPLETED, 1): released}, {COMPLETED: (1, current)}, set())
    assert [f.line() for f in report.findings] == [
        f"{COMPLETED} v1 $.data.track: released version changed: maxLength raised from 64 to 128"]


def test_a_released_version_changed_only_in_definition_names_is_still_named() -> None:
    released = real_schema()
    current = copy.deepcopy(released)
    current["$defs"]["Payload"] = current["$defs"].pop("SessionCompletedV1")
    current["properties"]["data"]["$ref"] = "#/$defs/Payload"
    report = check_schemas({(COMPLETED, 1): released}, {COMPLETED: (1, current)}, set())
    assert [f.what for f in report.findings] == [
        "released version changed: the document differs at #/$defs/Payload"]


def test_a_new_version_is_checked_against_the_previous_one_and_needs_an_upcaster() -> None:
    released = real_schema()
    current = version_2(released)
    lower_maximum(current)
    report = check_schemas({(COMPLETED, 1): released}, {COMPLETED: (2, current)}, set())
    assert [f.line() for f in report.findings] == [
        f"{COMPLETED} v2 $.data.overall_score: maximum lowered from 100 to 50 "
        "(breaking against v1)",
        f"{COMPLETED} v1 $.schema_version: no upcaster from v1 to v2 in UPCASTERS",
    ]


def test_a_compatible_new_version_with_its_upcaster_passes() -> None:
    released = real_schema()
    current = version_2(released)
    add_optional_field(current)
    report = check_schemas({(COMPLETED, 1): released}, {COMPLETED: (2, current)}, {(COMPLETED, 1)})
    assert report.compatible, report.findings
    assert report.standing == {COMPLETED: "v2 new, backward compatible with v1"}


def test_every_older_version_needs_its_own_upcaster_step() -> None:
    released = real_schema()
    current = version_2(released)
    current["properties"]["schema_version"]["const"] = 3
    report = check_schemas(
        {(COMPLETED, 1): released, (COMPLETED, 2): version_2(released)},
        {COMPLETED: (3, current)},
        {(COMPLETED, 1)},
    )
    assert [f.line() for f in report.findings] == [
        f"{COMPLETED} v2 $.schema_version: no upcaster from v2 to v3 in UPCASTERS"]


def test_a_current_model_older_than_the_newest_release_is_refused() -> None:
    schema = real_schema()
    report = check_schemas(
        {(COMPLETED, 1): schema, (COMPLETED, 2): version_2(schema)},
        {COMPLETED: (1, schema)},
        set(),
    )
    assert [f.line() for f in report.findings] == [
        f"{COMPLETED} v1 $.schema_version: current model is v1 but v2 is released"]


def test_a_released_event_type_without_a_model_is_a_removal() -> None:
    report = check_schemas({(ERASED, 1): real_schema(ERASED)}, {}, set())
    assert [f.line() for f in report.findings] == [
        f"{ERASED} v1 $: event type removed: released, but no current model"]


def test_an_event_type_not_released_yet_passes_and_is_said_so() -> None:
    report = check_schemas({}, {ERASED: (1, real_schema(ERASED))}, set())
    assert report.compatible
    assert report.standing == {ERASED: "v1 not released yet"}


def test_a_broken_ref_in_a_released_schema_is_a_finding_not_a_crash() -> None:
    released = real_schema()
    released["properties"]["data"]["$ref"] = "#/$defs/Gone"
    report = check_schemas({(COMPLETED, 1): released}, {COMPLETED: (1, real_schema())}, set())
    assert [f.line() for f in report.findings] == [
        f"{COMPLETED} v1 $: cannot compare: $ref '#/$defs/Gone' points nowhere"]


# ----- real pydantic models of a v2, through the generator ----------------------------------


class LearnerErasedV2(EventData):
    event_type: ClassVar[str] = ERASED
    schema_version: ClassVar[int] = 2

    user_id: UserId
    erased_at: AwareDatetime
    reason: str | None = None


class LearnerErasedV2Required(LearnerErasedV2):
    source: str


def generated(payload_model: type[EventData]) -> dict[str, Any]:
    return json.loads(render(schema_for(payload_model, Event[payload_model])))  # type: ignore[valid-type]


def test_a_generated_v2_with_an_optional_field_and_its_upcaster_passes() -> None:
    report = check_schemas(
        {(ERASED, 1): real_schema(ERASED)},
        {ERASED: (2, generated(LearnerErasedV2))},
        {(ERASED, 1)},
    )
    assert report.compatible, [f.line() for f in report.findings]


def test_a_generated_v2_with_a_new_required_field_is_breaking() -> None:
    report = check_schemas(
        {(ERASED, 1): real_schema(ERASED)},
        {ERASED: (2, generated(LearnerErasedV2Required))},
        {(ERASED, 1)},
    )
    assert [f.line() for f in report.findings] == [
        f"{ERASED} v2 $.data.source: new required field without default (breaking against v1)"]
