"""Profile of the bulk rebuild's CPU side without services: screen, fold and rows of every
projection for a generated sample (what `hub rebuild --all` does between Kafka and COPY).

    .venv/bin/python bench/profile_rebuild.py [--events N] [--top 25]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import sys
import time
from datetime import UTC, datetime

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()

    from hub.projections import all_projections
    from producers.sample import generate_sample
    from toolkit.settings import Settings
    from toolkit.streaming.applier import screen
    from toolkit.streaming.bulk_fold import BulkFold, learner_rows
    from toolkit.streaming.bulk_load import _ACCEPT_ALL, _copyable
    from toolkit.streaming.dead_letters import Refusal
    from toolkit.streaming.projection import LIFECYCLE_EVENT_TYPES
    from toolkit.streaming.records import Record

    settings = Settings(erasure_key="profile-erasure-key-not-a-secret-0123456789")
    projections = list(all_projections(settings).values())
    sample = generate_sample(args.events, max(1, args.events // 6), 40, seed=1)
    records = [Record(t, 0, i, k.encode(), v)
               for i, (t, k, v) in enumerate(sample.records("p", "m"))]
    del sample
    now = datetime.now(UTC)

    def work() -> dict:
        fold = BulkFold(projections)
        batch = []
        for record in records:
            event = screen(record, _ACCEPT_ALL, 1_048_576, now)
            if isinstance(event, Refusal):
                continue
            if event.event_type in LIFECYCLE_EVENT_TYPES:
                batch.append(event)
            else:
                fold.others.append(event)
            if len(batch) >= 50_000:
                fold.add(batch)
                batch = []
        fold.add(batch)
        rows = {}
        erased = fold.erased_at()
        for p in projections:
            bulk = p.bulk(now)
            learner_rows(fold, p, {"p", "m"}, bulk)
            bulk.finish(fold.others, erased)
            for table, got in bulk.out.take().items():
                rows[str(table)] = len(_copyable(table, got))
        return rows

    gc.disable()  # as `bulk_load.load` does
    profiler = cProfile.Profile()
    started = time.process_time()
    profiler.enable()
    rows = work()
    profiler.disable()
    cpu = time.process_time() - started
    print(f"{args.events} events: {cpu:.1f}s CPU under cProfile "
          f"({cpu / args.events * 1e6:.0f} us/event); rows {sum(rows.values())}: {rows}")
    pstats.Stats(profiler).sort_stats(os.environ.get("SORT", "tottime")).print_stats(args.top)


if __name__ == "__main__":
    main()
