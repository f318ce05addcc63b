"""`hub worker --all` restarts a dead worker after a delay that doubles while it keeps dying
quickly, up to a ceiling, and starts over once it had run healthily."""

from __future__ import annotations

from hub.workers import (
    HEALTHY_RUN_SECONDS,
    RESTART_DELAY_FIRST,
    RESTART_DELAY_MAX,
    next_restart_delay,
)


def delays_after(runs: list[float]) -> list[float]:
    """The restart delays for a worker dying after each of `runs` seconds in turn."""
    delays: list[float] = []
    previous = None
    for ran_for in runs:
        previous = next_restart_delay(previous, ran_for)
        delays.append(previous)
    return delays


def test_quick_deaths_double_the_delay_up_to_the_ceiling():
    delays = delays_after([0.1] * 10)
    assert delays[:4] == [RESTART_DELAY_FIRST * 2**n for n in range(4)]
    assert max(delays) == RESTART_DELAY_MAX == delays[-1]
    assert all(later >= earlier for earlier, later in zip(delays, delays[1:], strict=False))


def test_a_healthy_run_resets_the_delay():
    delays = delays_after([0.1] * 10 + [HEALTHY_RUN_SECONDS, 0.1])
    assert delays[9] == RESTART_DELAY_MAX
    assert delays[10:] == [RESTART_DELAY_FIRST, RESTART_DELAY_FIRST * 2]


def test_a_run_just_short_of_healthy_keeps_doubling():
    assert next_restart_delay(4.0, HEALTHY_RUN_SECONDS - 0.1) == 8.0
    assert next_restart_delay(None, 0.0) == RESTART_DELAY_FIRST
