"""A real local Kafka broker and PostgreSQL for development and tests, without Docker.

``hub stack up`` (or ``ensure_stack_up()`` from a fixture) runs both from ``.stack/`` in the
checkout and writes ``.stack/hub.env``, which ``toolkit.settings`` reads.
"""

from hub.stack.api import (
    StackInfo,
    ensure_stack_up,
    external_config,
    kafka_restart,
    kafka_start,
    kafka_stop,
    postgres_restart,
    postgres_start,
    postgres_stop,
    stack_down,
    stack_status,
)
from hub.stack.errors import StackError

__all__ = [
    "StackError",
    "StackInfo",
    "ensure_stack_up",
    "external_config",
    "kafka_restart",
    "kafka_start",
    "kafka_stop",
    "postgres_restart",
    "postgres_start",
    "postgres_stop",
    "stack_down",
    "stack_status",
]
