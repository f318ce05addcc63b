"""A worker logs at the configured level, and below it builds no log records at all."""

from __future__ import annotations

import logging

import pytest

from hub.workers import build_worker
from toolkit.settings import Settings


@pytest.mark.parametrize("level", ["WARNING", "ERROR", "INFO"])
def test_the_root_logger_stays_at_the_configured_level(level):
    root = logging.getLogger()
    saved_level, saved_handlers = root.level, list(root.handlers)
    try:
        worker = build_worker("missions", Settings(log_level=level))
        worker._setup_logging()  # what faust does when the worker starts
        assert logging.getLevelName(root.level) == level
        assert not logging.getLogger("aiokafka.consumer.fetcher").isEnabledFor(logging.DEBUG)
    finally:
        root.setLevel(saved_level)
        root.handlers[:] = saved_handlers
