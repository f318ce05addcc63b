"""JSON logs, one object per line, for workers and the API.

stdlib `logging` stays the interface (faust, aiokafka, uvicorn log through it); structlog's
ProcessorFormatter renders every record as JSON and keeps `extra={...}` fields such as
`consumer`, `event_id` and `correlation_id` as top-level keys. A line logged while a span is
current carries its `trace_id` and `span_id` (`toolkit.tracing`), exported or not.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from urllib.parse import unquote_plus

import structlog
from structlog.typing import EventDict, WrappedLogger

from toolkit.tracing import current_ids

# A query parameter `name=value` in a logged URL (uvicorn's access log writes path and query).
_QUERY_PARAMETER = re.compile(r"([?&;])([^=&;#\s\"']+)=([^&;#\s\"']*)")
# Names whose values are credentials: `?access_token=` is refused by the API but was still logged.
SENSITIVE_NAME = re.compile(r"token|secret|passw|key|auth|jwt|signature|credential", re.IGNORECASE)
REDACTED = "[redacted]"
# A caller controls the URL uvicorn's access log writes: 125 KB of junk parameters per request
# made 88 MB of logs in 12 s. Any one field keeps this much; a traceback somewhat more.
MAX_LOG_FIELD_CHARS = 2048
MAX_LOG_EXCEPTION_CHARS = 16_384


def _drop_terminal_colours(_logger: WrappedLogger, _name: str, event: EventDict) -> EventDict:
    # uvicorn's ANSI copy of the message, and what another formatter left on the record.
    for key in ("color_message", "message", "asctime", "extra"):
        event.pop(key, None)
    return event


def _redact_parameter(match: re.Match) -> str:
    if SENSITIVE_NAME.search(unquote_plus(match.group(2))):
        return f"{match.group(1)}{match.group(2)}={REDACTED}"
    return match.group(0)


def redact_query_secrets(text: str) -> str:
    """`text` with the value of every credential-like query parameter replaced."""
    return _QUERY_PARAMETER.sub(_redact_parameter, text) if "=" in text else text


def _redact_secrets(_logger: WrappedLogger, _name: str, event: EventDict) -> EventDict:
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = redact_query_secrets(value)
    return event


def cap_log_text(text: str, limit: int = MAX_LOG_FIELD_CHARS) -> str:
    """`text` when it fits, else its head and how many characters were cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…[+{len(text) - limit} chars]"


def _cap_long_fields(_logger: WrappedLogger, _name: str, event: EventDict) -> EventDict:
    for key, value in event.items():
        if isinstance(value, str):
            limit = MAX_LOG_EXCEPTION_CHARS if key == "exception" else MAX_LOG_FIELD_CHARS
            event[key] = cap_log_text(value, limit)
    return event


def _add_trace_ids(_logger: WrappedLogger, _name: str, event: EventDict) -> EventDict:
    ids = current_ids()
    if ids is not None:
        event.setdefault("trace_id", ids[0])
        event.setdefault("span_id", ids[1])
    return event


# The attributes of a record logged without `extra` (uvicorn's access lines are).
_PLAIN_RECORD = frozenset(logging.makeLogRecord({}).__dict__)
ACCESS_LOGGER = "uvicorn.access"


class JsonFormatter(structlog.stdlib.ProcessorFormatter):
    """structlog's JSON rendering, with a shortcut for uvicorn's access line: one per request,
    its chain of processors was ~8% of a read's CPU (py-spy). The shortcut writes the same
    line (same keys in the same order, redacted and capped the same: tests/unit/
    test_log_redaction.py); any other record, or one with `extra` or an exception, takes
    the chain."""

    def format(self, record: logging.LogRecord) -> str:
        if (record.name != ACCESS_LOGGER or record.exc_info or record.stack_info
                or not _PLAIN_RECORD.issuperset(record.__dict__)):
            return super().format(record)
        level = record.levelname.lower()
        line = {
            "event": cap_log_text(redact_query_secrets(record.getMessage())),
            "level": "warning" if level == "warn" else level,
            "logger": record.name,
            "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        }
        ids = current_ids()  # as `_add_trace_ids` does
        if ids is not None:
            line["trace_id"], line["span_id"] = ids
        return json.dumps(line, default=str)


def json_handler() -> logging.Handler:
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter(
            foreign_pre_chain=[
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                structlog.stdlib.ExtraAdder(),
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                _add_trace_ids,
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                _drop_terminal_colours,
                structlog.processors.format_exc_info,
                _redact_secrets,  # after format_exc_info: a traceback may quote a URL too
                _cap_long_fields,  # after redaction, so a cut never splits a name from its value
                structlog.processors.JSONRenderer(default=str),
            ],
        )
    )
    return handler


def configure(level: str) -> logging.Handler:
    """Route every logger to one JSON handler on stderr."""
    handler = json_handler()
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    return handler
