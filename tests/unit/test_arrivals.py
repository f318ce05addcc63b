"""Live workers batch whatever has arrived: no timer, back-pressure at the batch size."""

from __future__ import annotations

import asyncio

import pytest

from toolkit.streaming.arrivals import Arrivals, ArrivalsClosed


async def test_a_lone_event_is_taken_at_once():
    arrivals: Arrivals[int] = Arrivals(10)
    taker = asyncio.ensure_future(arrivals.take())
    await asyncio.sleep(0)
    assert not taker.done()
    await arrivals.put(1)
    assert await asyncio.wait_for(taker, 1) == [1]


async def test_events_arriving_during_a_batch_make_the_next_one():
    arrivals: Arrivals[int] = Arrivals(10)
    await arrivals.put(1)
    assert await arrivals.take() == [1]
    for n in (2, 3, 4):  # arrive while batch [1] is being applied
        await arrivals.put(n)
    assert await arrivals.take() == [2, 3, 4]


async def test_a_full_batch_holds_back_the_stream_until_taken():
    arrivals: Arrivals[int] = Arrivals(2)
    await arrivals.put(1)
    await arrivals.put(2)
    blocked = asyncio.ensure_future(arrivals.put(3))
    await asyncio.sleep(0.01)
    assert not blocked.done()
    assert await arrivals.take() == [1, 2]
    await asyncio.wait_for(blocked, 1)
    assert await arrivals.take() == [3]


async def test_closing_wakes_a_blocked_put_with_an_error():
    arrivals: Arrivals[int] = Arrivals(1)
    await arrivals.put(1)
    blocked = asyncio.ensure_future(arrivals.put(2))
    await asyncio.sleep(0)
    arrivals.close()
    with pytest.raises(ArrivalsClosed):
        await asyncio.wait_for(blocked, 1)


async def test_a_fetch_goes_in_at_once_and_comes_out_a_batch_at_a_time():
    arrivals: Arrivals[int] = Arrivals(3)
    await arrivals.put_many([1, 2, 3, 4, 5])
    assert await arrivals.take() == [1, 2, 3]
    assert await arrivals.take() == [4, 5]


async def test_a_larger_batch_size_takes_effect_at_once():
    arrivals: Arrivals[int] = Arrivals(2)
    await arrivals.put_many([1, 2])
    blocked = asyncio.ensure_future(arrivals.put_many([3]))
    await asyncio.sleep(0.01)
    assert not blocked.done()
    arrivals.max_batch = 10
    await asyncio.wait_for(blocked, 1)
    assert await arrivals.take() == [1, 2, 3]


async def test_under_load_batches_start_at_most_once_per_interval():
    arrivals: Arrivals[int] = Arrivals(10, interval=0.2)
    await arrivals.put(1)
    assert await asyncio.wait_for(arrivals.take(), 0.05) == [1]  # the first goes at once
    await arrivals.put(2)
    taker = asyncio.ensure_future(arrivals.take())
    await asyncio.sleep(0.05)
    assert not taker.done()  # too soon after the last batch: waits, collecting
    await arrivals.put(3)
    assert await asyncio.wait_for(taker, 1) == [2, 3]


async def test_a_full_batch_does_not_wait_for_the_interval():
    arrivals: Arrivals[int] = Arrivals(2, interval=10)
    await arrivals.put(1)
    await arrivals.take()
    taker = asyncio.ensure_future(arrivals.take())
    await arrivals.put(2)
    await asyncio.sleep(0.01)
    assert not taker.done()
    await arrivals.put(3)
    assert await asyncio.wait_for(taker, 1) == [2, 3]
