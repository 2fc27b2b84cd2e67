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
    tasks: list[asyncio.Future[T]] = [asyncio.ensure_future(send())]
    settled: asyncio.Future[T] | None = None
    try:
        settled = await _race(tasks, send, after, may_hedge)
        return settled.result()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)
        for task in tasks:  # mark every failure as seen: no "never retrieved" noise
            if not task.cancelled():
                task.exception()
        # An error leaving this frame keeps the frame in its traceback, and a task
        # keeps its error: holding the tasks here would make a reference cycle.
        tasks.clear()
        settled = task = None  # type: ignore[assignment]


async def _race(
    tasks: list[asyncio.Future[T]],
    send: Callable[[], Awaitable[T]],
    after: float,
    may_hedge: Callable[[], bool],
) -> asyncio.Future[T]:
    """The copy whose outcome the call reports: the first to succeed, else the
    first copy. Waits without raising the copies' errors, so this frame is in no
    error's traceback."""
    first = tasks[0]
    done, _ = await asyncio.wait(tasks, timeout=after)
    if done or not may_hedge():
        await asyncio.wait(tasks)
        return first
    tasks.append(asyncio.ensure_future(send()))
    pending: set[asyncio.Future[T]] = set(tasks)
    while pending:
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if not task.cancelled() and task.exception() is None:
                return task
    return first
