"""`decode`'s one-parse path must accept and refuse exactly what the step-by-step path does."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from profiler_hub_kit.models.registry import _decode_checked, decode

from producers.sample import generate_sample
from schemas.errors import EventRejected

VALID = [m.value for m in generate_sample(count=400, users=40, cohorts=4, seed=3).messages]


def outcome(decoder, raw: bytes) -> Any:
    try:
        return decoder(raw)
    except EventRejected as exc:
        return (type(exc), exc.reason, exc.field, exc.detail)


def test_every_valid_sample_event_decodes_alike():
    assert {json.loads(v)["event_type"] for v in VALID} >= {
        "profiler.session.completed", "profiler.session.invalidated", "learner.erased",
        "mentorship.assignment.changed",
    }
    for raw in VALID:
        assert decode(raw) == _decode_checked(raw)


@pytest.mark.parametrize("mutate", [
    lambda d: {**d, "schema_version": 2},
    lambda d: {**d, "schema_version": "1"},
    lambda d: {**d, "event_type": "profiler.session.exploded"},
    lambda d: {k: v for k, v in d.items() if k != "event_type"},
    lambda d: {**d, "data": {**d["data"], "user_id": 7}},
    lambda d: {**d, "occurred_at": "2026-01-05T08:16:36"},
])
def test_refusals_name_the_same_problem(mutate):
    for raw in VALID[:40]:
        doctored = json.dumps(mutate(json.loads(raw))).encode()
        assert outcome(decode, doctored) == outcome(_decode_checked, doctored)


def test_a_misleading_type_hint_is_not_trusted():
    """The first "event_type" seen in the bytes is only a hint; the parsed one decides."""
    raw = next(v for v in VALID if b"session.invalidated" in v)
    document = json.loads(raw)
    misleading = (
        b'{"event_type":"profiler.session.completed",' + json.dumps(document).encode()[1:]
    )
    assert outcome(decode, misleading) == outcome(_decode_checked, misleading)
    assert decode(misleading).event_type == "profiler.session.invalidated"


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(VALID[:60]), st.integers(0, 2000), st.binary(max_size=8))
def test_spliced_bytes_are_judged_alike(raw, position, junk):
    spliced = raw[:position] + junk + raw[position + len(junk):]
    assert outcome(decode, spliced) == outcome(_decode_checked, spliced)


def test_a_nul_character_is_refused_on_both_paths():
    raw = next(v for v in VALID if b"session.completed" in v)
    document = json.loads(raw)
    document["data"]["track"] = "de\u0000fender"
    doctored = json.dumps(document).encode()
    assert outcome(decode, doctored) == outcome(_decode_checked, doctored)
    assert outcome(decode, doctored)[1:3] == ("invalid", "data.track")
