"""Why an operation declined. Each refusal is one line for the operator: what is wrong and,
where there is one, what to do; the CLI prints it on stderr and exits with code 2."""

from __future__ import annotations


class Refused(Exception):
    """An operation declined before doing anything it cannot undo."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))  # one line, whatever the cause said


class UnknownProjection(Refused):
    pass


class WorkersRunning(Refused):
    pass


class Unreachable(Refused):
    """Kafka or the database could not be reached (or refused the hub's credentials)."""
