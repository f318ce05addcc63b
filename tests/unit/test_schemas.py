"""Event schemas: generated JSON Schemas, the AsyncAPI document, `decode` on good and bad input."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import errors
from schemas.generate import SCHEMA_DIR, filename, render_all
from schemas.registry import CURRENT, decode, encode, new_event

SCHEMAS_ROOT = SCHEMA_DIR.parent
ASYNCAPI = SCHEMAS_ROOT / "asyncapi.yaml"
WHEN = "2026-02-09T10:15:00Z"

VALID: dict[str, dict[str, Any]] = {
    "profiler.session.completed": {
        "session_id": "6f1c2a9e-3b7d-4e5f-8a1b-2c3d4e5f6a7b",
        "user_id": "learner-0001",
        "cohort_id": "cohort-01",
        "enterprise_id": "enterprise-a",
        "track": "defender",
        "completed_at": "2026-02-09T10:14:00Z",
        "overall_score": 61.5,
        "recommended_level": "advanced",
        "skill_scores": {"network_security": 70.0, "incident_response": 53.0},
        "value_answers": {
            "core_values": ["integrity", "curiosity"],
            "motivation": "I want to protect hospital networks.",
            "impact_goal": "Mentor two juniors.",
        },
        "anti_cheat": {"duration_seconds": 1800, "flags": [], "suspicion_score": 0.05},
        "marketplace_opt_in": True,
    },
    "profiler.session.invalidated": {
        "session_id": "6f1c2a9e-3b7d-4e5f-8a1b-2c3d4e5f6a7b",
        "user_id": "learner-0001",
        "reason": "anti_cheat_review",
        "invalidated_at": "2026-02-09T10:15:00Z",
    },
    "learner.erased": {"user_id": "learner-0001", "erased_at": "2026-02-09T10:15:00Z"},
    "mentorship.assignment.changed": {
        "mentor_id": "mentor-01",
        "mentee_id": "learner-0001",
        "active": True,
        "changed_at": "2026-02-09T10:15:00+01:00",
    },
}


def document(event_type: str = "profiler.session.completed", **data: Any) -> dict[str, Any]:
    payload = copy.deepcopy(VALID[event_type])
    payload.update(data)
    return {
        "event_id": "b3c1f9a2-5d3e-4c1b-9a57-2f0e6d1c8a44",
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": WHEN,
        "producer": "profiler",
        "correlation_id": "req-1234",
        "data": payload,
    }


def raw(doc: Any) -> bytes:
    return json.dumps(doc).encode()


# ----- generated JSON Schemas --------------------------------------------------------------


def test_checked_in_json_schemas_match_the_models() -> None:
    expected = render_all()
    on_disk = {path.name: path.read_text(encoding="utf-8") for path in SCHEMA_DIR.glob("*.json")}
    hint = "JSON Schemas drifted from the models: run `python -m schemas.generate` and commit"
    assert sorted(on_disk) == sorted(expected), hint
    for name, text in expected.items():
        assert on_disk[name] == text, f"{name}: {hint}"


def test_render_all_is_deterministic() -> None:
    assert render_all() == render_all()


@pytest.mark.parametrize("event_type", sorted(CURRENT))
def test_each_schema_pins_its_event_type_and_version(event_type: str) -> None:
    payload_model, _ = CURRENT[event_type]
    name = filename(event_type, payload_model.schema_version)
    text = render_all()[name]
    assert text.endswith("}\n") and not text.endswith("\n\n")
    schema = json.loads(text)
    assert schema["$id"].endswith(f"{event_type}.v{payload_model.schema_version}")
    assert schema["title"] == f"{event_type} v{payload_model.schema_version}"
    assert schema["properties"]["event_type"]["const"] == event_type
    assert schema["properties"]["schema_version"]["const"] == payload_model.schema_version
    assert set(schema["required"]) >= {"event_id", "event_type", "schema_version", "data"}
    assert text == json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# ----- AsyncAPI ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def asyncapi() -> dict[str, Any]:
    return yaml.safe_load(ASYNCAPI.read_text(encoding="utf-8"))


def _refs(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.append(value)
            else:
                found.extend(_refs(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_refs(item))
    return found


def _resolve_pointer(root: Any, pointer: str) -> Any:
    node = root
    for part in pointer.lstrip("/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_asyncapi_names_both_topics_with_their_keys(asyncapi: dict[str, Any]) -> None:
    assert str(asyncapi["asyncapi"]).startswith("3.0")
    channels = {channel["address"]: channel for channel in asyncapi["channels"].values()}
    assert {"profiler.events", "mentorship.assignments", "hub.{consumer}.dlq"} <= set(channels)
    messages = asyncapi["components"]["messages"]
    keys = {
        message["name"]: message["bindings"]["kafka"]["key"]["$ref"]
        for message in messages.values()
        if message["name"] in CURRENT
    }
    assert keys["mentorship.assignment.changed"].endswith("menteeIdKey")
    profiler_keys = [ref for name, ref in keys.items() if name != "mentorship.assignment.changed"]
    assert profiler_keys and all(ref.endswith("userIdKey") for ref in profiler_keys)


def test_asyncapi_describes_every_current_event_type(asyncapi: dict[str, Any]) -> None:
    messages = asyncapi["components"]["messages"].values()
    by_name = {message["name"]: message for message in messages}
    for event_type, (payload_model, _) in CURRENT.items():
        assert event_type in by_name, f"asyncapi.yaml has no message for {event_type}"
        expected = f"./jsonschema/{filename(event_type, payload_model.schema_version)}"
        assert by_name[event_type]["payload"]["$ref"] == expected


def test_asyncapi_dead_letter_headers(asyncapi: dict[str, Any]) -> None:
    headers = asyncapi["components"]["schemas"]["deadLetterHeaders"]
    expected = {
        "dlq.reason", "dlq.exception", "dlq.source.topic", "dlq.source.partition",
        "dlq.source.offset", "dlq.consumer", "dlq.time",
    }  # fmt: skip
    assert set(headers["required"]) == expected
    assert set(headers["properties"]) == expected
    reasons = headers["properties"]["dlq.reason"]["examples"]
    codes = {cls.reason for cls in errors.EventRejected.__subclasses__()}
    assert codes <= set(reasons)


def test_asyncapi_references_resolve(asyncapi: dict[str, Any]) -> None:
    refs = _refs(asyncapi)
    assert refs
    external = [ref for ref in refs if not ref.startswith("#")]
    assert external, "message payloads should reference the generated JSON Schema files"
    for ref in refs:
        target, _, pointer = ref.partition("#")
        if target:
            path = (ASYNCAPI.parent / target).resolve()
            assert path.is_file(), f"asyncapi.yaml references missing file {ref}"
            assert path.parent == SCHEMA_DIR
            assert path.name in render_all()
        else:
            _resolve_pointer(asyncapi, pointer)  # KeyError when dangling


# ----- decode: good input --------------------------------------------------------------------


@pytest.mark.parametrize("event_type", sorted(CURRENT))
def test_decode_round_trips_each_event_type(event_type: str) -> None:
    wire = raw(document(event_type))
    event = decode(wire)
    payload_model, event_model = CURRENT[event_type]
    assert isinstance(event, event_model)
    assert isinstance(event.data, payload_model)
    assert event.event_type == event_type
    assert event.event_id == UUID("b3c1f9a2-5d3e-4c1b-9a57-2f0e6d1c8a44")
    again = encode(event)
    assert decode(again) == event
    assert encode(decode(again)) == again


def test_optional_fields_may_be_absent() -> None:
    doc = document()
    for name in ("cohort_id", "enterprise_id", "recommended_level", "marketplace_opt_in"):
        del doc["data"][name]
    del doc["correlation_id"]
    event = decode(raw(doc))
    assert event.data.cohort_id is None
    assert event.data.recommended_level is None
    assert event.data.marketplace_opt_in is False
    assert event.correlation_id is None


def test_key_follows_the_contract() -> None:
    assert decode(raw(document("learner.erased"))).key == "learner-0001"
    assert decode(raw(document("mentorship.assignment.changed"))).key == "learner-0001"
    assert decode(raw(document("profiler.session.completed"))).key == "learner-0001"


def test_boundaries_are_accepted() -> None:
    skills = {f"skill_{i:03d}": float(i % 101) for i in range(200)}
    doc = document(
        overall_score=100,
        skill_scores=skills,
        value_answers={
            "core_values": [f"value-{i}" for i in range(10)],
            "motivation": "m" * 2000,
            "impact_goal": "",
        },
        anti_cheat={"duration_seconds": 0, "flags": [], "suspicion_score": 1},
    )
    event = decode(raw(doc))
    assert len(event.data.skill_scores) == 200
    assert decode(raw(document("profiler.session.invalidated", reason="r" * 500))).data.reason


# ----- decode: bad input ---------------------------------------------------------------------


MISSING = object()
C = "profiler.session.completed"
M = "mentorship.assignment.changed"
V = "profiler.session.invalidated"
E = "learner.erased"


def changed(path: str, value: Any = MISSING, event_type: str = C) -> bytes:
    """A valid event of `event_type` with the field at dotted `path` set (or removed)."""
    doc = document(event_type)
    node = doc
    *parents, last = path.split(".")
    for part in parents:
        node = node[part]
    if value is MISSING:
        del node[last]
    else:
        node[last] = value
    return json.dumps(doc).encode()


# (case, event type, dotted path, value): refused as InvalidEvent with `field` == the path.
INVALID_FIELDS: list[tuple[str, str, str, Any]] = [
    # wrong types
    ("score not a number", C, "data.overall_score", "high"),
    ("user_id a number", C, "data.user_id", 5),
    ("skills a list", C, "data.skill_scores", [1, 2]),
    ("opt-in not a boolean", C, "data.marketplace_opt_in", "maybe"),
    ("active not a boolean", M, "data.active", "maybe"),
    ("flags not a list", C, "data.anti_cheat.flags", "tab_switch"),
    ("event_id not a UUID", C, "event_id", "not-a-uuid"),
    ("session_id not a UUID", V, "data.session_id", "42"),
    ("schema_version a string", C, "schema_version", "1"),
    ("schema_version a boolean", C, "schema_version", True),
    ("event_type a number", C, "event_type", 7),
    ("level unknown", C, "data.recommended_level", "guru"),
    # out of range
    ("score above 100", C, "data.overall_score", 100.5),
    ("score below 0", C, "data.overall_score", -0.1),
    ("score NaN", C, "data.overall_score", float("nan")),
    ("score infinite", C, "data.overall_score", float("inf")),
    ("suspicion above 1", C, "data.anti_cheat.suspicion_score", 1.5),
    ("negative duration", C, "data.anti_cheat.duration_seconds", -1),
    ("schema_version 0", C, "schema_version", 0),
    # sizes
    ("201 skills", C, "data.skill_scores", {f"s{i}": 1 for i in range(201)}),
    ("no skills", C, "data.skill_scores", {}),
    ("11 core values", C, "data.value_answers.core_values", ["v"] * 11),
    ("no core values", C, "data.value_answers.core_values", []),
    ("motivation 2001 chars", C, "data.value_answers.motivation", "m" * 2001),
    ("impact goal 2001 chars", C, "data.value_answers.impact_goal", "i" * 2001),
    ("reason 501 chars", V, "data.reason", "r" * 501),
    ("user_id 65 chars", C, "data.user_id", "u" * 65),
    ("mentor_id empty", M, "data.mentor_id", ""),
    ("empty cohort_id", C, "data.cohort_id", ""),
    ("empty producer", E, "producer", ""),
    # timestamps without a zone
    ("naive occurred_at", C, "occurred_at", "2026-02-09T10:15:00"),
    ("naive completed_at", C, "data.completed_at", "2026-02-09T10:14:00"),
    ("naive erased_at", E, "data.erased_at", "2026-02-09T10:15:00"),
    ("naive changed_at", M, "data.changed_at", "2026-02-09 10:15"),
    ("naive invalidated_at", V, "data.invalidated_at", "2026-02-09T10:15:00.5"),
    ("date only", C, "occurred_at", "2026-02-09"),
    # missing or misshapen parts
    ("missing event_type", C, "event_type", MISSING),
    ("missing event_id", E, "event_id", MISSING),
    ("missing data", C, "data", MISSING),
    ("data not an object", M, "data", [1]),
    ("data null", C, "data", None),
    ("missing session_id", C, "data.session_id", MISSING),
    ("missing mentee_id", M, "data.mentee_id", MISSING),
]

# (case, wire value, expected class, expected field)
OTHER_BAD: list[tuple[str, bytes | None, type[errors.EventRejected], str | None]] = [
    ("unknown type", changed("event_type", "profiler.started"), errors.UnknownEventType, None),
    ("newer version", changed("schema_version", 2), errors.UnknownSchemaVersion, None),
    ("JSON array", b"[1, 2]", errors.MalformedEvent, None),
    ("JSON string", b'"profiler.session.completed"', errors.MalformedEvent, None),
    ("JSON number", b"42", errors.MalformedEvent, None),
    ("JSON null", b"null", errors.MalformedEvent, None),
    ("not JSON", b"{event_id: 1", errors.MalformedEvent, None),
    ("empty value", b"", errors.MalformedEvent, None),
    ("no value (tombstone)", None, errors.MalformedEvent, None),
    ("invalid UTF-8", b'{"event_id": "\xff\xfe"}', errors.MalformedEvent, None),
    ("oversized", b'{"pad": "' + b"x" * 1_048_576 + b'"}', errors.OversizedEvent, None),
    ("nested arrays", b"[" * 100_000 + b"]" * 100_000, errors.MalformedEvent, None),
    ("nested objects", b'{"a":' * 100_000 + b"1" + b"}" * 100_000, errors.MalformedEvent, None),
]

BAD = [
    pytest.param(changed(path, value, event_type), errors.InvalidEvent, path, id=case)
    for case, event_type, path, value in INVALID_FIELDS
] + [pytest.param(value, expected, field, id=case) for case, value, expected, field in OTHER_BAD]


@pytest.mark.parametrize(("value", "expected", "field"), BAD)
def test_bad_input_is_rejected_with_a_reason(
    value: bytes | None, expected: type[errors.EventRejected], field: str | None
) -> None:
    with pytest.raises(errors.EventRejected) as caught:
        decode(value)
    assert type(caught.value) is expected, caught.value
    assert caught.value.field == field, caught.value
    assert caught.value.reason == expected.reason
    assert str(caught.value).startswith(expected.reason)


def test_oversized_is_refused_before_parsing() -> None:
    with pytest.raises(errors.OversizedEvent):
        decode(b"\xff" * 2_000_000)


def test_skill_score_out_of_range_names_the_skill() -> None:
    with pytest.raises(errors.InvalidEvent) as caught:
        decode(changed("data.skill_scores", {"audit": 50, "privacy": 101}))
    assert caught.value.field == "data.skill_scores.privacy"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "utf-8-sig"])
def test_only_utf8_is_accepted(encoding: str) -> None:
    with pytest.raises(errors.MalformedEvent):
        decode(json.dumps(document()).encode(encoding))


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("data.value_answers.motivation", "before\x00after", "data.value_answers.motivation"),
        ("data.anti_cheat.flags", ["ok", "tab\x00switch"], "data.anti_cheat.flags.1"),
        ("data.skill_scores", {"audit": 50, "nul\x00skill": 50},
         "data.skill_scores.nul\\u0000skill"),
        ("data.track", "\x00", "data.track"),
    ],
)
def test_nul_characters_are_refused_naming_the_field(path: str, value: Any, field: str) -> None:
    """PostgreSQL cannot store U+0000: refused as invalid up front, not failed at write time."""
    with pytest.raises(errors.InvalidEvent) as caught:
        decode(changed(path, value))
    assert caught.value.field == field


def test_an_escaped_backslash_before_u0000_is_plain_text() -> None:
    event = decode(changed("data.value_answers.motivation", "C:\\u0000 is a path"))
    assert event.data.value_answers.motivation == "C:\\u0000 is a path"


def test_skill_names_longer_than_64_chars_are_rejected() -> None:
    with pytest.raises(errors.InvalidEvent) as caught:
        decode(changed("data.skill_scores", {"s" * 65: 50}))
    assert caught.value.field is not None
    assert caught.value.field.startswith("data.skill_scores")


def test_max_bytes_is_a_parameter() -> None:
    wire = raw(document())
    assert decode(wire, max_bytes=len(wire)).event_type == "profiler.session.completed"
    with pytest.raises(errors.OversizedEvent):
        decode(wire, max_bytes=len(wire) - 1)


# ----- property-based ------------------------------------------------------------------------

names = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FFF, exclude_categories=("Cs",)),
    min_size=1,
    max_size=64,
)
scores = st.floats(min_value=0, max_value=100, allow_nan=False, allow_infinity=False)
# Any text but U+0000, which PostgreSQL cannot store (refused, see the NUL test above).
stored_chars = st.characters(exclude_characters="\x00", exclude_categories=("Cs",))
texts = st.text(stored_chars, max_size=2000)
instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)

completions = st.fixed_dictionaries(
    {
        "session_id": st.uuids(),
        "user_id": names,
        "cohort_id": st.none() | names,
        "enterprise_id": st.none() | names,
        "track": st.sampled_from(["defender", "offensive", "grc", "innovation", "leadership"])
        | names,
        "completed_at": instants,
        "overall_score": scores,
        "recommended_level": st.none()
        | st.sampled_from(["novice", "beginner", "intermediate", "advanced", "expert"]),
        "skill_scores": st.dictionaries(names, scores, min_size=1, max_size=200),
        "value_answers": st.fixed_dictionaries(
            {
                "core_values": st.lists(
                    st.text(stored_chars, min_size=1, max_size=200), min_size=1, max_size=10
                ),
                "motivation": texts,
                "impact_goal": texts,
            }
        ),
        "anti_cheat": st.fixed_dictionaries(
            {
                "duration_seconds": st.integers(min_value=0, max_value=10**9),
                "flags": st.lists(st.text(stored_chars, max_size=200), max_size=100),
                "suspicion_score": st.floats(0, 1, allow_nan=False),
            }
        ),
        "marketplace_opt_in": st.booleans(),
    }
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=completions, event_id=st.uuids(), occurred=instants, correlation=st.none() | names)
def test_any_valid_completion_round_trips(
    data: dict[str, Any], event_id: UUID, occurred: datetime, correlation: str | None
) -> None:
    payload_model, _ = CURRENT[C]
    event = new_event(
        payload_model.model_validate(data),
        event_id=event_id,
        occurred_at=occurred,
        correlation_id=correlation,
    )
    wire = encode(event)
    decoded = decode(wire)
    assert decoded == event
    assert encode(decoded) == wire


@settings(max_examples=100, deadline=None)
@given(active=st.booleans(), changed=instants, minutes=st.integers(-14 * 60, 14 * 60))
def test_any_zone_is_accepted_and_the_instant_kept(
    active: bool, changed: datetime, minutes: int
) -> None:
    zone = changed.astimezone(timezone(timedelta(minutes=minutes)))
    doc = document("mentorship.assignment.changed", active=active, changed_at=zone.isoformat())
    event = decode(raw(doc))
    assert event.data.changed_at == changed
    assert event.data.active is active


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(blob=st.binary(max_size=2048))
def test_arbitrary_bytes_never_crash_decode(blob: bytes) -> None:
    try:
        decode(blob)
    except errors.EventRejected:
        pass


@settings(max_examples=300, deadline=None)
@given(
    event_type=st.sampled_from(sorted(CURRENT)),
    path=st.sampled_from(["event_id", "occurred_at", "schema_version", "data", "producer"]),
    junk=json_values,
)
def test_corrupted_fields_are_rejected_never_crash(event_type: str, path: str, junk: Any) -> None:
    doc = document(event_type)
    if isinstance(junk, dict) and path != "data":
        junk = {"nested": junk}
    doc[path] = junk
    try:
        decode(raw(doc))
    except errors.EventRejected:
        pass


def test_asyncapi_event_messages_carry_the_trace_headers_the_publisher_writes(
    asyncapi: dict[str, Any],
) -> None:
    import re

    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    from toolkit.tracing import TRACE_HEADERS, with_trace_headers

    schemas = asyncapi["components"]["schemas"]
    for message in asyncapi["components"]["messages"].values():
        if message["name"] in CURRENT:
            assert message["headers"]["$ref"] == "#/components/schemas/traceHeaders"
    properties = schemas["traceHeaders"]["properties"]
    assert set(properties) == set(TRACE_HEADERS)
    span = NonRecordingSpan(SpanContext(0x1F, 0x2E, is_remote=True,
                                        trace_flags=TraceFlags(TraceFlags.SAMPLED)))
    with trace.use_span(span):
        [(name, value)] = with_trace_headers(None)
    assert re.fullmatch(properties[name]["pattern"], value.decode())
