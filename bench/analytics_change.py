"""Micro-benchmark of analytics' batch change (`consumers.analytics.decide.batch_change`), the
replay hot path that sums every touched learner's contribution after and before a batch.

A sample (`generate_sample`, fixed seed) is folded per learner into before (first half of
each learner's events) and after (all of them) states; `batch_change` of those transitions is
timed (CPU time, best of `--repeat`). No I/O. Prints one JSON line.

    .venv/bin/python bench/analytics_change.py [--events 40000] [--repeat 15]
"""

from __future__ import annotations

import argparse
import json
import time
import timeit

from consumers.analytics.decide import batch_change, session_facts
from producers.sample import generate_sample
from toolkit.lifecycle import LearnerState, fold


def transitions(events: int) -> list[tuple[LearnerState, LearnerState]]:
    sample = generate_sample(count=events, users=max(1, events // 3), cohorts=40, seed=7)
    by_learner: dict[str, list] = {}
    for event in sample.profiler_events():
        by_learner.setdefault(event.key, []).append(event)
    pairs = []
    for learner_events in by_learner.values():
        before = fold(LearnerState(), learner_events[: len(learner_events) // 2], session_facts)
        after = fold(before, learner_events[len(learner_events) // 2:], session_facts)
        pairs.append((before, after))
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=40_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    pairs = transitions(args.events)
    best = min(timeit.repeat(lambda: batch_change(pairs), number=1, repeat=args.repeat,
                             timer=time.process_time))
    print(json.dumps({
        "bench": "analytics_batch_change",
        "learners": len(pairs),
        "best_cpu_seconds": round(best, 5),
        "us_per_learner": round(best / len(pairs) * 1e6, 3),
    }))


if __name__ == "__main__":
    main()
