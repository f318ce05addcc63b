"""JSON logs, one object per line, for workers and the API.

stdlib `logging` stays the interface (faust, aiokafka, uvicorn log through it); structlog's
ProcessorFormatter renders every record as JSON and keeps `extra={...}` fields such as
`consumer`, `event_id` and `correlation_id` as top-level keys.
"""

from __future__ import annotations

import logging

import structlog


def _drop_terminal_colours(_logger, _name, event: dict) -> dict:
    # uvicorn's ANSI copy of the message, and what another formatter left on the record.
    for key in ("color_message", "message", "asctime", "extra"):
        event.pop(key, None)
    return event


def json_handler() -> logging.Handler:
    handler = logging.StreamHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                structlog.stdlib.ExtraAdder(),
                structlog.processors.TimeStamper(fmt="iso", utc=True),
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                _drop_terminal_colours,
                structlog.processors.format_exc_info,
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
