"""Batches of whatever has arrived: how a live worker groups events into transactions.

A batch starts as soon as one event is waiting and takes every event already waiting (up to
the batch size). At a trickle each event is applied at once; under load, the events that
arrive while one batch is applied make the next one, so batches grow with the load and no
event waits for a timer. (faust's `take(n, within=w)` held every event until its window
closed, which put up to `w` on top of each event's latency.)

With an `interval`, batches start at most that often: an event arriving less than `interval`
after the previous batch started waits for the rest of it, with whatever else arrives (up to
a full batch, which starts at once). At a trickle nothing waits; under load a batch's fixed
cost (its round trips to PostgreSQL) is shared by more events, for at most `interval` more
latency.

The live worker puts whole fetches (`put_many`: everything one Kafka fetch returned), so the
per-event cost of getting a record to its batch is a list append. `max_batch` may change
while running: a worker far behind takes bulk-sized batches (see `toolkit.streaming.faust_app`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class ArrivalsClosed(Exception):
    """The consuming side stopped; nothing more is taken."""


class Arrivals(Generic[T]):
    def __init__(self, max_batch: int, interval: float = 0.0) -> None:
        self._items: list[T] = []
        self._max = max_batch
        self._interval = interval
        self._last_start = float("-inf")
        self._arrived = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._closed = False
        self._full: asyncio.Event | None = None

    @property
    def max_batch(self) -> int:
        return self._max

    @max_batch.setter
    def max_batch(self, value: int) -> None:
        self._max = max(1, value)
        if len(self._items) < self._max:
            self._room.set()

    def __len__(self) -> int:
        return len(self._items)

    async def put(self, item: T) -> None:
        """Add an event; waits while a full batch is waiting (back-pressure on the stream)."""
        await self.put_many((item,))

    async def put_many(self, items: Sequence[T]) -> None:
        """Add events in order, all at once; waits while a full batch is waiting. The waiting
        list may then hold more than a batch: `take` still returns at most one."""
        while len(self._items) >= self._max and not self._closed:
            self._room.clear()
            await self._room.wait()
        if self._closed:
            raise ArrivalsClosed
        self._items.extend(items)
        self._arrived.set()
        if self._full is not None and len(self._items) >= self._max:
            self._full.set()

    async def take(self) -> list[T]:
        """Every event waiting (at most a batch), as soon as there is one."""
        while not self._items:
            self._arrived.clear()
            await self._arrived.wait()
        loop = asyncio.get_running_loop()
        early = self._last_start + self._interval - loop.time()
        if early > 0 and len(self._items) < self._max:
            self._full = asyncio.Event()
            try:
                await asyncio.wait_for(self._full.wait(), early)
            except TimeoutError:
                pass
            finally:
                self._full = None
        self._last_start = loop.time()
        if len(self._items) <= self._max:
            batch, self._items = self._items, []
        else:
            batch, self._items = self._items[: self._max], self._items[self._max :]
        if len(self._items) < self._max:
            self._room.set()
        return batch

    def close(self) -> None:
        """The taker is gone: wake a waiting `put`, which then raises."""
        self._closed = True
        self._room.set()
