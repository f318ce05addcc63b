"""Garbage-collector settings for the hub's long-running, allocation-heavy processes.

A batch allocates hundreds of thousands of short-lived objects (decoded events, row dicts);
CPython's default gen-0 threshold (700) then runs the collector thousands of times per batch,
30–47% of a replay's CPU in bench/replay.py. Freezing what start-up allocated and collecting
less often keeps memory bounded (batches are bounded) and gives that time back.
"""

from __future__ import annotations

import gc

GEN0_THRESHOLD = 100_000


def tune_for_throughput() -> None:
    gc.freeze()
    gc.set_threshold(GEN0_THRESHOLD, 50, 1000)
