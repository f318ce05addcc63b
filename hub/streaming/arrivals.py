"""Batches of whatever has arrived: how a live worker groups events into transactions.

A batch starts as soon as one event is waiting and takes every event already waiting (up to
the batch size). At a trickle each event is applied at once; under load, the events that
arrive while one batch is applied make the next one, so batches grow with the load and no
event waits for a timer. (faust's `take(n, within=w)` held every event until its window
closed, which put up to `w` on top of each event's latency.)
"""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

T = TypeVar("T")


class ArrivalsClosed(Exception):
    """The consuming side stopped; nothing more is taken."""


class Arrivals(Generic[T]):
    def __init__(self, max_batch: int) -> None:
        self._items: list[T] = []
        self._max = max_batch
        self._arrived = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._closed = False

    async def put(self, item: T) -> None:
        """Add an event; waits while a full batch is waiting (back-pressure on the stream)."""
        while len(self._items) >= self._max and not self._closed:
            self._room.clear()
            await self._room.wait()
        if self._closed:
            raise ArrivalsClosed
        self._items.append(item)
        self._arrived.set()

    async def take(self) -> list[T]:
        """Every event waiting (at most a batch), as soon as there is one."""
        while not self._items:
            self._arrived.clear()
            await self._arrived.wait()
        batch, self._items = self._items, []
        self._room.set()
        return batch

    def close(self) -> None:
        """The taker is gone: wake a waiting `put`, which then raises."""
        self._closed = True
        self._room.set()
