"""Every endpoint over a real socket on 127.0.0.1, and the transport's failure modes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import uuid
from asyncio import StreamReader, StreamWriter
from typing import TYPE_CHECKING

import aiohttp
import pytest

from rokt_async import (
    NO_RETRY,
    ConfirmResponse,
    ConnectError,
    ConnectionLostError,
    OutcomeUnknownError,
    RequestTimeoutError,
    ResponseDecodeError,
    RoktError,
    Timeouts,
)
from tests.conftest import (
    A_CANCEL,
    A_CONFIRM,
    A_PLACEMENTS,
    A_RELEASE,
    A_RESERVE,
    CANARY_KEY,
    TAG_ID,
    error_chain,
    make_client,
)
from tests.integration._servers import (
    Recorder,
    raw_server,
    read_request,
    recording_server,
    reply,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from rokt_async import RoktClient

RESERVE_OK = (
    b'{"cartId":"cart-1","items":[{"cartItemId":"parking","itemReservationId":"r1",'
    b'"quantity":2,"unitPrice":10,"totalPrice":20,"currency":"USD",'
    b'"expirationDateTimeUtc":"2026-11-23T10:00:00Z"}]}'
)
CONFIRM_OK = (
    b'{"cartId":"cart-1","orderId":"order-1","items":[{"cartItemId":"parking",'
    b'"itemReservationId":"res-1","itemConfirmationId":"k1","success":true}]}'
)

ENDPOINT_CASES: list[
    tuple[str, Callable[[RoktClient], Awaitable[object]], bytes, bytes]
] = [
    (
        "/v1/cart/reserve",
        lambda c: c.reserve_cart(A_RESERVE),
        RESERVE_OK,
        b'{"cartId":"cart-1","items":[{"cartItemId":"parking","quantity":2}]}',
    ),
    (
        "/v1/cart/confirm",
        lambda c: c.confirm_cart(A_CONFIRM),
        CONFIRM_OK,
        b'{"cartId":"cart-1","orderId":"order-1","items":[{"cartItemId":"parking",'
        b'"itemReservationId":"res-1"}]}',
    ),
    (
        "/v1/cart/release",
        lambda c: c.release_cart(A_RELEASE),
        b'{"cartId":"cart-1","items":[]}',
        b'{"cartId":"cart-1","items":[{"cartItemId":"parking",'
        b'"itemReservationId":"res-1"}]}',
    ),
    (
        "/v1/confirmation/cancel",
        lambda c: c.cancel_confirmation(A_CANCEL),
        b"",
        b'{"itemReservationId":"res-1"}',
    ),
    (
        "/v1/placements/any",
        lambda c: c.any_placements(A_PLACEMENTS),
        b'{"result":true}',
        b'{"cartId":"cart-1","pageIdentifier":"checkout.upsell"}',
    ),
]


@pytest.mark.parametrize(
    ("path", "call", "answer", "expected_body"),
    ENDPOINT_CASES,
    ids=[case[0] for case in ENDPOINT_CASES],
)
async def test_endpoint_arrives_with_path_method_headers_and_body(
    path: str,
    call: Callable[[RoktClient], Awaitable[object]],
    answer: bytes,
    expected_body: bytes,
) -> None:
    """The server sees POST, the documented path, our headers and the exact body."""
    recorder = Recorder(body=answer)
    async with recording_server(recorder) as url, make_client(url, locale="en-AU") as c:
        await call(c)
    (seen,) = recorder.seen
    assert (seen.method, seen.path, seen.body) == ("POST", path, expected_body)
    assert seen.headers["rokt-api-key"] == CANARY_KEY
    assert seen.headers["rokt-tag-id"] == TAG_ID
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.headers["Accept"] == "application/json"
    assert seen.headers["Accept-Language"] == "en-AU"
    assert seen.headers["User-Agent"].startswith("rokt-async/")
    assert uuid.UUID(seen.headers["rokt-session-id"]).version == 4
    assert "Cookie" not in seen.headers


async def test_pool_reuses_one_connection_for_sequential_calls() -> None:
    """Sequential calls share one kept-alive connection."""
    peers: set[object] = set()

    async def handler(reader: StreamReader, writer: StreamWriter) -> None:
        peers.add(writer.get_extra_info("peername"))
        with contextlib.suppress(asyncio.IncompleteReadError):
            while True:
                await read_request(reader)
                writer.write(reply(200, CONFIRM_OK))
                await writer.drain()
        writer.close()

    async with raw_server(handler) as url, make_client(url) as client:
        for _ in range(5):
            response = await client.confirm_cart(A_CONFIRM)
            assert isinstance(response, ConfirmResponse)
    assert len(peers) == 1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_refused_connection_is_connect_error() -> None:
    """Nothing listening: ConnectError after every attempt, attempts counted."""
    async with make_client(f"http://127.0.0.1:{_free_port()}") as client:
        with pytest.raises(ConnectError) as caught:
            await client.confirm_cart(A_CONFIRM)
    assert caught.value.attempts == 4


async def _reset_after_request(reader: StreamReader, writer: StreamWriter) -> None:
    await read_request(reader)
    sock = writer.get_extra_info("socket")
    linger_zero = b"\x01\x00\x00\x00\x00\x00\x00\x00"  # close -> RST
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger_zero)
    writer.transport.abort()


async def test_reset_after_send_is_connection_lost() -> None:
    """A reset after the request went out is ConnectionLostError (placements)."""
    server = raw_server(_reset_after_request)
    async with server as url, make_client(url, retry=NO_RETRY) as client:
        with pytest.raises(ConnectionLostError):
            await client.any_placements(A_PLACEMENTS)


async def test_reset_on_confirm_ends_in_outcome_unknown_with_identifiers() -> None:
    """Confirm that keeps losing its connection ends in OutcomeUnknownError."""
    async with raw_server(_reset_after_request) as url, make_client(url) as client:
        with pytest.raises(OutcomeUnknownError) as caught:
            await client.confirm_cart(A_CONFIRM)
    error = caught.value
    assert error.attempts == 4
    assert isinstance(error.last_error, ConnectionLostError)
    assert error.identifiers == {
        "cart_id": "cart-1",
        "order_id": "order-1",
        "cart_item_ids": "parking",
        "item_reservation_ids": "res-1",
    }


async def test_truncated_body_is_connection_lost() -> None:
    """A body shorter than its Content-Length is a lost connection, not bad JSON."""

    async def handler(reader: StreamReader, writer: StreamWriter) -> None:
        await read_request(reader)
        writer.write(reply(200, CONFIRM_OK)[:-10])
        await writer.drain()
        writer.close()

    async with raw_server(handler) as url, make_client(url, retry=NO_RETRY) as client:
        with pytest.raises(ConnectionLostError):
            await client.any_placements(A_PLACEMENTS)


async def test_slow_body_past_the_deadline_is_request_timeout() -> None:
    """A body that stalls past the call's deadline raises RequestTimeoutError."""
    release = asyncio.Event()

    async def handler(reader: StreamReader, writer: StreamWriter) -> None:
        await read_request(reader)
        writer.write(reply(200, b'{"result":true}')[:-5])
        await writer.drain()
        await release.wait()
        writer.close()

    async with raw_server(handler) as url, make_client(url, retry=NO_RETRY) as client:
        with pytest.raises(RequestTimeoutError):
            await client.any_placements(A_PLACEMENTS, timeout=0.2)
        release.set()


async def test_slow_answer_past_the_attempt_limit_is_request_timeout() -> None:
    """An answer slower than Timeouts.connect + read raises RequestTimeoutError."""
    release = asyncio.Event()

    async def handler(reader: StreamReader, writer: StreamWriter) -> None:
        await read_request(reader)
        await release.wait()
        writer.close()

    async with raw_server(handler) as url:
        quick = Timeouts(connect=0.1, response=0.1)
        client = make_client(url, retry=NO_RETRY, timeouts=quick)
        async with client:
            with pytest.raises(RequestTimeoutError):
                await client.any_placements(A_PLACEMENTS)
            release.set()


async def test_chunked_oversized_body_is_refused() -> None:
    """A chunked body that grows past the cap is refused while reading."""

    async def handler(reader: StreamReader, writer: StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b'{"result":' + b" " * 4000
        for _ in range(4):
            writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        writer.close()

    server = raw_server(handler)
    async with server as url, make_client(url, max_response_bytes=8192) as client:
        with pytest.raises(ResponseDecodeError, match="larger than 8192"):
            await client.any_placements(A_PLACEMENTS)


async def test_declared_oversized_body_is_refused_unread() -> None:
    """A Content-Length past the cap is refused before reading; the socket is shut."""
    closed = asyncio.Event()

    async def handler(reader: StreamReader, writer: StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n{")
        await writer.drain()
        while await reader.read(1024):  # until the client drops the connection
            pass
        closed.set()
        writer.close()

    server = raw_server(handler)
    async with server as url, make_client(url, max_response_bytes=8192) as client:
        with pytest.raises(ResponseDecodeError, match="larger than 8192"):
            await client.any_placements(A_PLACEMENTS)
        await asyncio.wait_for(closed.wait(), timeout=5)


async def test_garbage_answer_never_leaks_the_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """aiohttp's ClientResponseError (which holds the headers) never reaches users."""
    caplog.set_level(logging.DEBUG, logger="rokt_async")

    async def handler(reader: StreamReader, writer: StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"NOT-HTTP garbage\r\n\r\n")
        await writer.drain()
        writer.close()

    async with raw_server(handler) as url, make_client(url, retry=NO_RETRY) as client:
        with pytest.raises(RoktError) as caught:
            await client.any_placements(A_PLACEMENTS)
    assert isinstance(caught.value, ConnectionLostError)
    chain = error_chain(caught.value)
    assert not [e for e in chain if isinstance(e, aiohttp.ClientResponseError)]
    texts = [record.getMessage() for record in caplog.records]
    texts += [text for e in chain for text in (repr(e), str(e), repr(vars(e)))]
    assert not [text for text in texts if CANARY_KEY in text]
