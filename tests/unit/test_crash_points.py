"""The test-only crash points stay inert unless their variables are set."""

from __future__ import annotations

from toolkit.streaming.crash_points import CRASH_AFTER_COMMITS, PAUSE_BEFORE_BATCH, CrashPoints


def test_unset_crash_points_do_nothing_however_often_called():
    points = CrashPoints.from_environ({})
    for _ in range(1000):
        points.before_batch()
        points.after_commit()  # would SIGKILL this very process if armed


def test_armed_crash_points_read_their_counts():
    points = CrashPoints.from_environ({CRASH_AFTER_COMMITS: "3", PAUSE_BEFORE_BATCH: " 2 "})
    assert (points._crash_after, points._pause_before) == (3, 2)  # noqa: SLF001
