"""Bounded fan-out: many calls, at most N in flight, results in input order."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeAlias, TypeVar, cast

from ._errors import ConfigurationError, RoktError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Iterable

Req = TypeVar("Req")
Res = TypeVar("Res")

#: ``on_result(index, outcome)``: told as each call of a fan-out ends.
ResultHook: TypeAlias = Callable[[int, Res | RoktError], object]


async def run_bounded(
    call: Callable[[Req, str | None], Awaitable[Res]],
    requests: Iterable[Req | tuple[Req, str]],
    concurrency: int,
    on_result: ResultHook[Res] | None = None,
) -> list[Res | RoktError]:
    """Call ``call(request, session_id)`` on every request with at most
    ``concurrency`` in flight; a ``(request, session_id)`` pair names its session.

    Each entry of the result is the response or the ``RoktError`` of that request:
    one failure never cancels the others. Cancelling the caller cancels them all;
    ``on_result`` has heard of every call that ended before that.
    """
    if concurrency < 1:
        raise ConfigurationError("concurrency must be >= 1")
    jobs = [
        cast("tuple[Req, str]", item) if isinstance(item, tuple) else (item, None)
        for item in requests
    ]
    results: list[Res | RoktError | None] = [None] * len(jobs)
    indexes = iter(range(len(jobs)))  # shared: each worker takes the next one

    async def worker() -> None:
        for index in indexes:
            request, session_id = jobs[index]
            outcome = await _settle(call, request, session_id)
            results[index] = outcome
            if on_result is not None:
                on_result(index, outcome)

    async with asyncio.TaskGroup() as group:
        for _ in range(min(concurrency, len(jobs))):
            group.create_task(worker())
    return cast("list[Res | RoktError]", results)  # every slot was filled


async def _settle(
    call: Callable[[Req, str | None], Awaitable[Res]],
    request: Req,
    session_id: str | None,
) -> Res | RoktError:
    """The call's response or its error.

    Caught here, not in the worker: the error's traceback keeps the frame that caught
    it, and the worker's frame reaches the results list that holds the error, which
    would make a reference cycle only the cyclic GC frees.
    """
    try:
        return await call(request, session_id)
    except RoktError as exc:
        return exc
