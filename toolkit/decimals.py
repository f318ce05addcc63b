"""Scores as exact decimals, so sums and differences of them come out as written."""

from __future__ import annotations

import functools
from decimal import Decimal


# Cached: scores repeat a lot, and analytics runs this for every skill of every session.
# typed: 1 and 1.0 are one key otherwise, and their decimals differ in scale ("1", "1.0").
@functools.lru_cache(maxsize=1 << 16, typed=True)
def exact(value: float) -> Decimal:
    """The decimal a score or target was written as (a float's repr is its shortest form)."""
    return Decimal(repr(value))
