"""README promises that had no test able to fail without them (#11)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

import pytest
from aiohttp import web

from rokt_async import (
    ConfigurationError,
    RequestValidationError,
    ServerError,
)
from tests.conftest import A_CONFIRM, A_PLACEMENTS, make_client
from tests.integration._servers import raw_server, read_request, reply

if TYPE_CHECKING:
    from asyncio import StreamReader, StreamWriter
    from collections.abc import AsyncIterator

CONFIRM_OK = (
    b'{"cartId":"cart-1","orderId":"order-1","items":[{"cartItemId":"parking",'
    b'"itemReservationId":"res-1","success":true}]}'
)


@contextlib.asynccontextmanager
async def cookie_setting_server(seen: list[str | None]) -> AsyncIterator[str]:
    """Answers every confirm with a Set-Cookie and records the Cookie it got."""

    async def handle(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Cookie"))
        response = web.Response(body=CONFIRM_OK, content_type="application/json")
        response.set_cookie("session", "abc", path="/")
        return response

    app = web.Application()
    app.router.add_post("/v1/cart/confirm", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        # by name: a cookie jar keeps no cookies from a bare IP address
        yield f"http://localhost:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def test_cookies_a_server_sets_are_never_sent_back() -> None:
    """The client keeps no cookie jar: a Set-Cookie never returns as Cookie."""
    seen: list[str | None] = []
    async with cookie_setting_server(seen) as url, make_client(url) as rokt:
        for _ in range(2):
            await rokt.confirm_cart(A_CONFIRM)
    assert seen == [None, None]


@pytest.mark.parametrize("header", ["x-request-id", "x-amzn-requestid", "request-id"])
async def test_request_id_is_read_from_each_documented_header(header: str) -> None:
    """APIError.request_id comes from x-request-id, x-amzn-requestid or request-id."""

    async def answer(reader: StreamReader, writer: StreamWriter) -> None:
        await read_request(reader)
        writer.write(reply(500, b"{}", f"{header}: rid-7\r\n".encode()))
        await writer.drain()
        writer.close()

    async with raw_server(answer) as url, make_client(url) as rokt:
        with pytest.raises(ServerError) as caught:
            await rokt.any_placements(A_PLACEMENTS)
    assert caught.value.request_id == "rid-7"


async def test_handled_retries_are_never_logged_above_debug(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A confirm that is retried after 504s and then succeeds logs nothing of
    rokt_async's above DEBUG."""
    answers = [reply(504, b"{}"), reply(504, b"{}"), reply(200, CONFIRM_OK)]

    async def answer(reader: StreamReader, writer: StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while answers:
                await read_request(reader)
                writer.write(answers.pop(0))
                await writer.drain()
        writer.close()

    caplog.set_level(logging.DEBUG)
    async with raw_server(answer) as url, make_client(url) as rokt:
        retried = await rokt.confirm_cart(A_CONFIRM)
    assert retried.is_complete
    ours = [r for r in caplog.records if r.name.startswith("rokt_async")]
    assert len([r for r in ours if "failed" in r.getMessage()]) == 2  # were logged
    assert [r for r in ours if r.levelno > logging.DEBUG] == []


@pytest.mark.parametrize("cap", [0, -1])
def test_max_response_bytes_below_one_is_refused(cap: int) -> None:
    """max_response_bytes < 1 is a ConfigurationError at construction."""
    with pytest.raises(ConfigurationError, match="max_response_bytes"):
        make_client(max_response_bytes=cap)


@pytest.mark.parametrize("timeout", [0.0, -1.0])
async def test_non_positive_per_call_timeout_is_refused(timeout: float) -> None:
    """timeout= of 0 or less is refused per call (nothing sent) and in a view."""
    async with make_client() as rokt:
        with pytest.raises(RequestValidationError, match="timeout"):
            await rokt.confirm_cart(A_CONFIRM, timeout=timeout)
        with pytest.raises(ConfigurationError, match="timeout"):
            rokt.with_options(timeout=timeout)
