"""The one exception the stack raises, so callers (CLI, fixtures) can show a clean message."""

from __future__ import annotations


class StackError(RuntimeError):
    """A local service could not be prepared, started, stopped or reached."""
