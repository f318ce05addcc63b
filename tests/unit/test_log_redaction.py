"""Credential-like query values never reach a log line (finding 9), whatever the logger."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest
import structlog
from opentelemetry import trace

from tests.support.tracing import recorded_spans
from toolkit.logs import (
    ACCESS_LOGGER,
    MAX_LOG_FIELD_CHARS,
    cap_log_text,
    json_handler,
    redact_query_secrets,
)


@pytest.mark.parametrize(("text", "expected"), [
    ('1.2.3.4:5 - "GET /x?user_id=u&access_token=eyJ.a.b HTTP/1.1" 401',
     '1.2.3.4:5 - "GET /x?user_id=u&access_token=[redacted] HTTP/1.1" 401'),
    ("/x?token=a&api%5Fkey=b&user_id=c;Password=d#f",
     "/x?token=[redacted]&api%5Fkey=[redacted]&user_id=c;Password=[redacted]#f"),
    ("/x?client_secret=s&jwt=j&signature=z", "/x?client_secret=[redacted]&jwt=[redacted]&"
                                             "signature=[redacted]"),
    ("/a?skill=network_security:60&limit=5&user_id=u", "/a?skill=network_security:60&limit=5"
                                                      "&user_id=u"),
    ("no query, a=b", "no query, a=b"),
])
def test_credential_values_are_replaced(text, expected):
    assert redact_query_secrets(text) == expected


def logged_through_json_handler(name: str, *args, **kwargs) -> str:
    """What the hub's JSON handler writes for one `logger.warning(*args, **kwargs)`."""
    handler = json_handler()
    stream = io.StringIO()
    handler.setStream(stream)
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning(*args, **kwargs)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_the_json_handler_redacts_uvicorns_access_line():
    written = logged_through_json_handler(
        "test.redaction.access", '%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET",
        "/api?access_token=SECRET-VALUE", "1.1", 401, extra={"url": "/api?token=OTHER-SECRET"})
    line = json.loads(written)
    assert line["event"] == '127.0.0.1:1 - "GET /api?access_token=[redacted] HTTP/1.1" 401'
    assert line["url"] == "/api?token=[redacted]"
    assert "SECRET" not in written


def test_a_huge_access_line_is_capped():
    """Finding 4: junk query parameters must not inflate the access log."""
    junk = "&".join(f"junk{i}={'x' * 100}" for i in range(1200))  # ~125 KB
    written = logged_through_json_handler(
        "test.redaction.capped", '%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET",
        f"/api?access_token=S&{junk}", "1.1", 403)
    line = json.loads(written)
    assert len(line["event"]) < MAX_LOG_FIELD_CHARS + 40
    assert line["event"].startswith('127.0.0.1:1 - "GET /api?access_token=[redacted]&junk0=')
    assert line["event"].endswith(" chars]")
    assert len(written) < 3 * MAX_LOG_FIELD_CHARS


def test_cap_keeps_short_text_and_says_how_much_was_cut():
    assert cap_log_text("abc", 3) == "abc"
    assert cap_log_text("abcdef", 3) == "abc…[+3 chars]"


@pytest.mark.parametrize("path", [
    "/api/v1/missions/difficulty?user_id=learner-0001",
    "/api?access_token=SECRET-VALUE&user_id=u",
    "/api/v1/profiler/mentees/l%C3%A9a/results",
    '/x?q="quoted"\\back&é=ü',
    "/api?" + "&".join(f"junk{i}={'x' * 100}" for i in range(100)),
])
def test_the_access_line_shortcut_writes_what_the_processor_chain_writes(path):
    """uvicorn's access records take JsonFormatter's shortcut: the same line as structlog's
    chain, timestamp aside (taken a moment apart)."""
    formatter = json_handler().formatter
    assert formatter is not None
    record = logging.getLogger(ACCESS_LOGGER).makeRecord(
        ACCESS_LOGGER, logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:1", "GET", path, "1.1", 200), None)
    shortcut = formatter.format(record)
    chain = structlog.stdlib.ProcessorFormatter.format(formatter, record)  # type: ignore[arg-type]
    assert [k for k in json.loads(shortcut)] == ["event", "level", "logger", "timestamp"]
    without_time = re.compile(r'"timestamp": "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z"')
    assert without_time.sub("T", shortcut) == without_time.sub("T", chain)
    assert without_time.search(shortcut)
    assert "SECRET" not in shortcut


def test_an_access_record_with_extra_takes_the_chain():
    written = logged_through_json_handler(
        ACCESS_LOGGER, '%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", "/x?token=T", "1.1",
        401, extra={"correlation_id": "c-1"})
    line = json.loads(written)
    assert line["correlation_id"] == "c-1"
    assert line["event"] == '127.0.0.1:1 - "GET /x?token=[redacted] HTTP/1.1" 401'


def test_the_access_line_shortcut_carries_the_current_span_as_the_chain_does():
    formatter = json_handler().formatter
    assert formatter is not None
    record = logging.getLogger(ACCESS_LOGGER).makeRecord(
        ACCESS_LOGGER, logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:1", "GET", "/x", "1.1", 200), None)
    with recorded_spans(), trace.get_tracer("test").start_as_current_span("request"):
        shortcut = json.loads(formatter.format(record))
        chain = json.loads(structlog.stdlib.ProcessorFormatter.format(
            formatter, record))  # type: ignore[arg-type]
    assert len(shortcut["trace_id"]) == 32 and len(shortcut["span_id"]) == 16
    assert list(shortcut) == list(chain)
    assert {k: v for k, v in shortcut.items() if k != "timestamp"} == {
        k: v for k, v in chain.items() if k != "timestamp"}
