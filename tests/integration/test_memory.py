"""The client's memory under faults: no reference cycles, small socket reads.

An error's traceback keeps the frames it passed through. A frame that also holds the
error, or something that holds it, makes a reference cycle; everything reachable from
it (the aiohttp response, headers, frames) then waits for a full collection of the
cyclic GC, and under faults memory creeps. The cycle tests run calls with the
collector off and look at what a collection finds unreachable.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp
import pytest

import rokt_async
from rokt_async import (
    ConfirmResponse,
    OutcomeUnknownError,
    RetryEvent,
    RoktError,
)
from rokt_async._session import READ_SIZE
from tests.conftest import A_PLACEMENTS, make_client
from tests.integration._servers import raw_server, read_request, reply
from tests.integration.test_client_socket import CONFIRM_OK
from tests.integration.test_retry_faults import (
    QUANTITY_RESENDS,
    client_for,
    quantity_confirm,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from rokt_async.emulator import Emulator

_PACKAGE: str = str(Path(rokt_async.__file__).parent)
_EMULATOR: str = str(Path(_PACKAGE) / "emulator")


def _ours(obj: object) -> bool:
    """Is ``obj`` one of the client's errors or events, or a frame of its code?

    The emulator serves from a thread of this process; its frames are not the
    client's, and asyncio's own transport cycles are not either.
    """
    if isinstance(obj, RoktError | RetryEvent):
        return True
    if type(obj).__name__ != "frame":
        return False
    filename: str = obj.f_code.co_filename  # type: ignore[attr-defined]
    return filename.startswith(_PACKAGE) and not filename.startswith(_EMULATOR)


async def _cyclic_garbage(calls: Callable[[], Awaitable[None]]) -> list[str]:
    """Run ``calls`` with the cyclic GC off; describe the client's objects it
    finds unreachable afterwards."""
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        await calls()
        gc.collect()
        return sorted(_describe(obj) for obj in gc.garbage if _ours(obj))
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def _describe(obj: object) -> str:
    code = getattr(obj, "f_code", None)
    return f"frame {code.co_qualname}" if code is not None else type(obj).__name__


def _fail_each(emulator: Emulator, endpoint: str, kind: str, times: int) -> None:
    for _ in range(times):
        emulator.faults.fail_next(endpoint, kind)


async def test_retried_confirm_leaves_no_cycles(emulator: Emulator) -> None:
    """A confirm that succeeds after a 504 and a reset frees what its retries made."""
    seen: list[int] = []

    async def calls() -> None:
        for n in range(5):
            emulator.faults.fail_next("confirm", "504_after")
            emulator.faults.fail_next("confirm", "reset_after")
            response = await client.confirm_cart(quantity_confirm(n))
            assert isinstance(response, ConfirmResponse)

    def count(event: RetryEvent) -> None:
        seen.append(event.attempt)

    async with client_for(emulator, on_retry=[count], retry=QUANTITY_RESENDS) as client:
        assert await _cyclic_garbage(calls) == []
    assert seen == [1, 2] * 5  # the retries did happen


async def test_outcome_unknown_leaves_no_cycles(emulator: Emulator) -> None:
    """A confirm that gives up (OutcomeUnknownError) and is dropped frees it all."""

    async def calls() -> None:
        for n in range(5):
            _fail_each(emulator, "confirm", "504_before", 4)
            with pytest.raises(OutcomeUnknownError) as raised:
                await client.confirm_cart(quantity_confirm(n))
            attempts = raised.value.attempts
            del raised  # it holds the error, whose traceback holds this frame
            assert attempts == 4

    async with client_for(emulator, retry=QUANTITY_RESENDS) as client:
        assert await _cyclic_garbage(calls) == []


async def test_confirm_many_failures_leave_no_cycles(emulator: Emulator) -> None:
    """Errors returned in confirm_many's list are freed with the list."""

    async def calls() -> None:
        _fail_each(emulator, "confirm", "500", 3)
        results = await client.confirm_many(
            [quantity_confirm(n) for n in range(6)], concurrency=2
        )
        assert sum(isinstance(r, RoktError) for r in results) == 3

    async with client_for(emulator) as client:
        assert await _cyclic_garbage(calls) == []


async def test_plain_http_connections_read_small_chunks() -> None:
    """asyncio's 256 KiB recv() per read is cut to READ_SIZE on the client's pool."""
    sizes: list[object] = []
    headers_seen = asyncio.Event()

    async def on_request_end(
        session: object, context: object, params: aiohttp.TraceRequestEndParams
    ) -> None:  # the head has arrived; the body waits, so the connection is held
        connection = params.response.connection
        assert connection is not None
        sizes.append(getattr(connection.transport, "max_size", None))
        headers_seen.set()

    async def head_then_body(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await read_request(reader)
        answer = reply(200, CONFIRM_OK)
        head_end = answer.index(b"\r\n\r\n") + 4
        writer.write(answer[:head_end])
        await headers_seen.wait()
        writer.write(answer[head_end:])
        await writer.drain()
        writer.close()

    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(on_request_end)
    async with (
        raw_server(head_then_body) as url,
        make_client(url, trace_configs=[trace]) as client,
    ):
        response = await client.confirm_cart(quantity_confirm(1))
    assert response.items[0].success
    assert sizes == [READ_SIZE]


async def test_hedged_placements_failing_twice_leave_no_cycles() -> None:
    """Both copies of a hedged placements call fail: their errors are freed."""
    answered = 0

    async def slow_then_quick_500s(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        nonlocal answered
        await read_request(reader)
        answered += 1
        if answered == 1:  # the first copy: slow enough to be hedged
            await asyncio.sleep(0.2)
        writer.write(reply(500, b'{"description":"boom"}'))
        await writer.drain()
        writer.close()

    policy = dataclasses.replace(
        rokt_async.NO_WAIT_RETRY, hedge_placements_after=0.05, max_attempts=1
    )

    async def calls() -> None:
        with pytest.raises(rokt_async.ServerError):
            await client.any_placements(A_PLACEMENTS)

    async with (
        raw_server(slow_then_quick_500s) as url,
        make_client(url, retry=policy) as client,
    ):
        assert await _cyclic_garbage(calls) == []
        assert client.stats.hedges == 1
    assert answered == 2
