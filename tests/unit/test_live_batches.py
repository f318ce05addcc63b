"""How a live worker sizes its batches and what it does when one fails (no I/O)."""

from __future__ import annotations

from types import SimpleNamespace

from toolkit.settings import Settings
from toolkit.streaming.faust_app import BACKLOG_BATCH_RECORDS, _apply_until_done, batch_size_after


def test_a_full_batch_with_more_waiting_grows_towards_bulk_size():
    size = 1000
    sizes = []
    for _ in range(4):
        size = batch_size_after(size, 50_000, size, 1000)
        sizes.append(size)
    assert sizes == [4000, 16_000, BACKLOG_BATCH_RECORDS, BACKLOG_BATCH_RECORDS]


def test_a_batch_that_is_not_full_returns_to_the_configured_size():
    assert batch_size_after(300, 0, 16_000, 1000) == 1000
    assert batch_size_after(1000, 0, 1000, 1000) == 1000  # full, but nothing waiting


async def test_a_failed_batch_is_applied_again_never_dropped():
    calls = []

    class Applier:
        projection = SimpleNamespace(name="missions")

        async def apply(self, records):
            calls.append(list(records))
            if len(calls) == 1:
                raise RuntimeError("unforeseen")

    settings = Settings(retry_initial_seconds=0.001, retry_max_seconds=0.001)
    await _apply_until_done(Applier(), [1, 2, 3], settings)
    assert calls == [[1, 2, 3], [1, 2, 3]]
