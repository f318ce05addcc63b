"""What a dead letter carries: the original when it fits, a preview and digest when not."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from toolkit.streaming.dead_letters import PREVIEW_BYTES, Refusal, event_identity, letter_for
from toolkit.streaming.records import Record

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def refusal(key: bytes | None, value: bytes | None, headers=(("trace", b"t-1"),)) -> Refusal:
    record = Record("profiler.events", 2, 41, key, value, tuple(headers))
    return Refusal(record, "oversized", "too big")


def test_a_letter_within_the_limit_carries_the_original_unchanged() -> None:
    letter = letter_for(refusal(b"u1", b"x" * 1000), "missions", NOW, max_bytes=1000)
    assert (letter.key, letter.value) == (b"u1", b"x" * 1000)
    headers = dict(letter.headers)
    assert headers["trace"] == b"t-1" and headers["dlq.source.offset"] == b"41"
    assert not any(k.endswith(".truncated") for k in headers)


def test_a_larger_value_travels_as_preview_size_and_digest() -> None:
    value = bytes(range(256)) * 8192  # 2 MiB
    letter = letter_for(refusal(b"u1", value), "missions", NOW, max_bytes=1_048_576)
    headers = dict(letter.headers)
    assert letter.value == value[:PREVIEW_BYTES] and letter.key == b"u1"
    assert headers["dlq.value.truncated"] == b"true"
    assert headers["dlq.value.bytes"] == str(len(value)).encode()
    assert headers["dlq.value.sha256"] == hashlib.sha256(value).hexdigest().encode()
    assert headers["dlq.source.partition"] == b"2" and headers["trace"] == b"t-1"


def test_a_compact_letter_cuts_key_and_value_and_drops_original_headers() -> None:
    big_key = b"k" * (PREVIEW_BYTES + 1)
    letter = letter_for(refusal(big_key, b"small"), "missions", NOW, 1_048_576, compact=True)
    headers = dict(letter.headers)
    assert letter.key == big_key[:PREVIEW_BYTES] and letter.value == b"small"
    assert headers["dlq.key.bytes"] == str(len(big_key)).encode()
    assert "trace" not in headers and headers["dlq.headers.dropped"] == b"1"
    assert headers["dlq.reason"] == b"oversized"


def test_event_identity_survives_deeply_nested_json() -> None:
    assert event_identity(b"[" * 100_000 + b"]" * 100_000) == {}
    assert event_identity(b'{"event_id": "e1", "correlation_id": "c1"}') == {
        "event_id": "e1", "correlation_id": "c1"}


def test_a_compact_letter_keeps_the_trace_context_of_its_event() -> None:
    traceparent = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    original = (("event_id", b"e1"), ("traceparent", traceparent), ("tracestate", b"v=1"))
    letter = letter_for(refusal(b"u1", b"x" * 10, original), "missions", NOW, 1_048_576,
                        compact=True)
    headers = dict(letter.headers)
    assert headers["traceparent"] == traceparent and headers["tracestate"] == b"v=1"
    assert "event_id" not in headers and headers["dlq.headers.dropped"] == b"1"
