"""The per-run verdict, in the style of Jepsen's queue checker: lost, duplicated, unexpected
and unseen events, from what the oracle expects and what the projections hold.

Both sides are *effects*: per projection table, a multiset of units (a row's identifying
values, or one unit per thing a counter counts). Comparing them unit by unit:

- lost: an expected unit the projection lacks (an acked event whose effect is missing);
- duplicated: a unit the projection holds more often than expected (an effect applied twice,
  e.g. a session counted twice in a cohort's totals);
- unexpected: a unit the projection holds that no published event implies (a stale zombie
  write, an effect of a forgotten event);
- unseen: records a consumer never handled, neither applied nor dead-lettered (its stored
  positions short of the topic's end offsets).

Pure: no I/O, so `tests/unit/test_reliability_checker.py` can feed it doctored data.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

Units = Mapping[str, Counter]  # table -> multiset of hashable units


@dataclass
class Verdict:
    run: str
    lost: int = 0
    duplicated: int = 0
    unexpected: int = 0
    unseen: int = 0
    events: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    differing_tables: list[str] = field(default_factory=list)
    examples: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.unexpected or self.unseen
                    or self.differing_tables)

    def summary(self) -> str:
        """One JSON line per run."""
        return json.dumps({
            "run": self.run, "ok": self.ok, "events": self.events, "lost": self.lost,
            "duplicated": self.duplicated, "unexpected": self.unexpected,
            "unseen": self.unseen, "faults": self.faults,
            "differing_tables": self.differing_tables, "examples": self.examples,
        }, sort_keys=True, default=str)


def digest(units: Counter) -> str:
    """Order-independent checksum of one table's units."""
    lines = sorted(f"{json.dumps(list(unit), default=str)}*{n}" for unit, n in units.items()
                   if n)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def check(
    run: str,
    expected: Units,
    observed: Units,
    unseen_by_consumer: Mapping[str, int],
    *,
    events: int = 0,
    faults: Mapping[str, int] | None = None,
    examples_per_table: int = 3,
) -> Verdict:
    verdict = Verdict(run, events=events, faults=dict(faults or {}))
    verdict.unseen = sum(max(0, n) for n in unseen_by_consumer.values())
    for table in sorted(set(expected) | set(observed)):
        want, have = expected.get(table, Counter()), observed.get(table, Counter())
        if digest(want) == digest(have):
            continue
        verdict.differing_tables.append(table)
        odd: list[str] = []
        for unit in set(want) | set(have):
            w, h = want.get(unit, 0), have.get(unit, 0)
            if w > h:
                verdict.lost += w - h
                odd.append(f"lost {w - h}x {unit}")
            elif h > w > 0:
                verdict.duplicated += h - w
                odd.append(f"duplicated {h - w}x {unit}")
            elif h > w:
                verdict.unexpected += h
                odd.append(f"unexpected {h}x {unit}")
        verdict.examples[table] = sorted(odd, key=str)[:examples_per_table]
    return verdict
