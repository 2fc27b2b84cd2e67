"""Bounded fan-out: many calls, at most N in flight, results in input order."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, TypeVar, cast

from ._errors import ConfigurationError, RoktError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

Req = TypeVar("Req")
Res = TypeVar("Res")


async def run_bounded(
    call: Callable[[Req], Awaitable[Res]],
    requests: Sequence[Req],
    concurrency: int,
) -> list[Res | RoktError]:
    """Call ``call`` on every request with at most ``concurrency`` in flight.

    Each entry of the result is the response or the ``RoktError`` of that request:
    one failure never cancels the others. Cancelling the caller cancels them all.
    """
    if concurrency < 1:
        raise ConfigurationError("concurrency must be >= 1")
    results: list[Res | RoktError | None] = [None] * len(requests)
    indexes = iter(range(len(requests)))  # shared: each worker takes the next one

    async def worker() -> None:
        for index in indexes:
            results[index] = await _settle(call, requests[index])

    async with asyncio.TaskGroup() as group:
        for _ in range(min(concurrency, len(requests))):
            group.create_task(worker())
    return cast("list[Res | RoktError]", results)  # every slot was filled


async def _settle(
    call: Callable[[Req], Awaitable[Res]], request: Req
) -> Res | RoktError:
    """The call's response or its error.

    Caught here, not in the worker: the error's traceback keeps the frame that caught
    it, and the worker's frame reaches the results list that holds the error, which
    would make a reference cycle only the cyclic GC frees.
    """
    try:
        return await call(request)
    except RoktError as exc:
        return exc
