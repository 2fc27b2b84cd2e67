"""Hedged reads: a second attempt after a delay, first success wins, loser cancelled.

Only placements/any is hedged: it changes nothing on Rokt's side, so two copies in
flight are harmless, and its answer is on the checkout's critical path.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

T = TypeVar("T")


async def hedged(
    send: Callable[[], Awaitable[T]],
    after: float,
    may_hedge: Callable[[], bool],
) -> T:
    """Run ``send``; if it has not finished after ``after`` seconds and
    ``may_hedge()`` agrees, run a second copy. The first success wins and the other
    copy is cancelled and awaited; if both fail, the first copy's error is raised.
    """
    first = asyncio.ensure_future(send())
    tasks: list[asyncio.Future[T]] = [first]
    try:
        done, _ = await asyncio.wait(tasks, timeout=after)
        if done or not may_hedge():
            return await first
        tasks.append(asyncio.ensure_future(send()))
        pending: set[asyncio.Future[T]] = set(tasks)
        while pending:
            done, pending = await asyncio.wait(
                pending, return_when=asyncio.FIRST_COMPLETED
            )
            for task in done:
                if not task.cancelled() and task.exception() is None:
                    return task.result()
        return first.result()  # both failed: raises the first copy's error
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)
        for task in tasks:  # mark every failure as seen: no "never retrieved" noise
            if not task.cancelled():
                task.exception()
