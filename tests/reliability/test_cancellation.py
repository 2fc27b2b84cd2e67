"""Cancellation at random points: nothing leaks, nothing stays spent, all recovers."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import warnings
from typing import TYPE_CHECKING

import pytest

from rokt_async import NO_WAIT_RETRY, ConfirmResponse, PoolLimits, RoktError
from tests.conftest import emulator_client

from ._carts import reserved_confirms
from .conftest import LOOPS

if TYPE_CHECKING:
    from collections.abc import Callable

    from rokt_async.emulator import Emulator

    from ._figures import Figures


def open_fds() -> int:
    """File descriptors this process holds (sockets included)."""
    return len(os.listdir("/proc/self/fd"))


async def settled_fds(baseline: int) -> int:
    """The fd count once closed sockets are gone (the emulator's thread closes its
    side of each connection a moment after the client does); polled, bounded."""
    count = open_fds()
    for _ in range(100):
        if count <= baseline:
            break
        await asyncio.sleep(0.02)
        count = open_fds()
    return count


@pytest.mark.both_loops
@pytest.mark.asyncio(loop_factories=LOOPS)
async def test_random_cancellations_leak_nothing_and_refund_the_budget(
    emulator: Emulator,
    size: Callable[[int, int], int],
    figures: Figures,
    request: pytest.FixtureRequest,
) -> None:
    """Confirms cancelled at random points (waiting for one of 32 connections, in
    flight, answered slowly, in backoff after a 504) end as CancelledError or a
    result; afterwards no task is pending, every fd is back, nothing warned, the
    retry budget is full again and the next 100 calls all succeed."""
    count = size(2_000, 2_000)
    rng = random.Random(9)
    policy = dataclasses.replace(NO_WAIT_RETRY, base_delay=0.02, max_delay=0.05)
    # Some loops open a file once, on their first connection: warm that up first.
    async with emulator_client(emulator) as warm_up:
        await reserved_confirms(warm_up, 1, prefix="warm-up")
    tasks_before = asyncio.all_tasks()
    fds_before = await settled_fds(open_fds())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with emulator_client(
            emulator,
            retry=policy,
            limits=PoolLimits(connections=32),
        ) as rokt:
            full = rokt.stats.budget_tokens
            confirms = await reserved_confirms(rokt, count + 100)
            emulator.faults.set_rate("confirm", "504_before", 0.2)
            emulator.faults.set_rate("confirm", "delay", 0.3, max_ms=40.0)
            tasks = [
                asyncio.ensure_future(rokt.confirm_cart(c)) for c in confirms[:count]
            ]
            interrupted: set[int] = set()
            for _ in range(20):  # waves of cancellation at random moments
                await asyncio.sleep(rng.uniform(0.0, 0.02))
                for index in rng.sample(range(count), count // 20):
                    if tasks[index].cancel():
                        interrupted.add(index)
            for index, task in enumerate(tasks):
                if task.cancel():
                    interrupted.add(index)
            outcomes = await asyncio.gather(*tasks, return_exceptions=True)
            emulator.faults.clear()
            after = await rokt.confirm_many(confirms[count:], concurrency=32)
            budget = rokt.stats.budget_tokens
        pending = asyncio.all_tasks() - tasks_before
        fds_after = await settled_fds(fds_before)
    test = request.node.name
    figures.record(test, "calls cancelled", len(interrupted), f"of {count}", met=True)
    figures.record(test, "pending tasks after", len(pending), "0", met=not pending)
    figures.record(
        test,
        "fds after - before",
        fds_after - fds_before,
        "<= 0",
        met=fds_after <= fds_before,
    )
    figures.record(test, "budget after", budget, f"{full} (full)", met=budget == full)
    ok = sum(isinstance(r, ConfirmResponse) for r in after)
    figures.record(test, "next calls succeeded", ok, "100 of 100", met=ok == 100)
    assert len(interrupted) >= count // 10
    assert all(isinstance(outcomes[i], asyncio.CancelledError) for i in interrupted)
    assert all(
        isinstance(o, ConfirmResponse | RoktError | asyncio.CancelledError)
        for o in outcomes
    )
    assert pending == set()
    assert fds_after <= fds_before
    assert [str(w.message) for w in caught] == []
    assert budget == full
    assert ok == 100
    assert emulator.ledger().duplicates == ()
