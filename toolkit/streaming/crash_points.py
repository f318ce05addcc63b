"""Test-only fault injection at the two moments a random signal rarely hits on purpose.

The reliability suite (`tests/reliability`) must show that a worker killed *between* the
database commit of a batch and faust's Kafka offset commit, or a zombie worker resuming with
a batch it fetched before its partitions moved, changes nothing. A signal sent from outside
lands there only by chance, so a worker started with one of these variables does it to itself:

- `HUB_TEST_CRASH_AFTER_COMMITS=N`: SIGKILL itself right after its N-th batch is committed to
  PostgreSQL, before faust acks or commits any of that batch's offsets.
- `HUB_TEST_PAUSE_BEFORE_BATCH=N`: SIGSTOP itself holding its N-th batch, fetched but not
  applied yet (a zombie once its session times out); whoever sends SIGCONT resumes it.

Unset (always, outside tests) every call is a no-op. These are not `Settings` fields on
purpose: nothing in production should be able to turn them on through configuration.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping

CRASH_AFTER_COMMITS = "HUB_TEST_CRASH_AFTER_COMMITS"
PAUSE_BEFORE_BATCH = "HUB_TEST_PAUSE_BEFORE_BATCH"


class CrashPoints:
    def __init__(self, crash_after_commits: int | None, pause_before_batch: int | None) -> None:
        self._crash_after = crash_after_commits
        self._pause_before = pause_before_batch
        self._batches = 0
        self._commits = 0

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> CrashPoints:
        def number(name: str) -> int | None:
            value = environ.get(name, "").strip()
            return int(value) if value else None

        return cls(number(CRASH_AFTER_COMMITS), number(PAUSE_BEFORE_BATCH))

    def before_batch(self) -> None:
        """Called with a batch in hand, before it is applied."""
        if self._pause_before is None:
            return
        self._batches += 1
        if self._batches == self._pause_before:
            os.kill(os.getpid(), signal.SIGSTOP)

    def after_commit(self) -> None:
        """Called once a batch's transaction has committed."""
        if self._crash_after is None:
            return
        self._commits += 1
        if self._commits >= self._crash_after:
            os.kill(os.getpid(), signal.SIGKILL)
