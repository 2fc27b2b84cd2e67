"""One attempt's edges on aioresponses: the 2xx range, the body cap at exactly its
size, and the message each aiohttp failure is translated to.

Written for the mutants ``make mutate`` left alive in ``_transport.py`` (issue #11).
"""

from __future__ import annotations

import email.utils
import time
from typing import Any

import aiohttp
import pytest
from aiohttp.client_reqrep import ConnectionKey
from aioresponses import aioresponses
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from rokt_async import (
    NO_RETRY,
    ConnectError,
    ConnectionLostError,
    RedirectError,
    RequestTimeoutError,
    ResponseDecodeError,
    RoktError,
)
from rokt_async._transport import parse_retry_after
from tests.conftest import A_PLACEMENTS, FAKE_BASE, make_client

PLACEMENTS_URL = f"{FAKE_BASE}/v1/placements/any"
TRUE = b'{"result":true}'  # 15 bytes


async def placements_failing_with(exc: BaseException) -> RoktError:
    """The error one placements attempt ends in when aiohttp raises ``exc``."""
    async with make_client(retry=NO_RETRY) as client:
        with aioresponses() as mocked:
            mocked.post(PLACEMENTS_URL, exception=exc)
            with pytest.raises(RoktError) as caught:
                await client.any_placements(A_PLACEMENTS)
    return caught.value


def timer_fired_in_connector() -> TimeoutError:
    """A TimeoutError caused, as aiohttp's total timer causes it, by a cancellation
    that landed inside ``BaseConnector.connect`` (here, a failure raised there)."""
    try:
        connector = aiohttp.TCPConnector()
        aiohttp.BaseConnector.connect(connector, None, [], None).send(None)  # type: ignore[arg-type]
    except AttributeError as inside_connect:
        timeout = TimeoutError()
        timeout.__cause__ = inside_connect
        return timeout
    raise AssertionError("BaseConnector.connect no longer fails on req=None")


def connector_error() -> aiohttp.ClientConnectorError:
    key = ConnectionKey("api.rokt.test", 443, True, True, None, None, None)
    return aiohttp.ClientConnectorError(key, OSError(111, "Connection refused"))


def response_error() -> aiohttp.ClientResponseError:
    info = aiohttp.RequestInfo(
        URL(PLACEMENTS_URL),
        "POST",
        CIMultiDictProxy(CIMultiDict[str]()),
        URL(PLACEMENTS_URL),
    )
    return aiohttp.ClientResponseError(info, (), status=400, message="Bad header")


@pytest.mark.parametrize(
    ("make", "kind", "message"),
    [
        (
            aiohttp.ConnectionTimeoutError,
            ConnectError,
            "timed out waiting for a connection",
        ),
        (
            connector_error,
            ConnectError,
            "could not connect: [Errno 111] Connection refused",
        ),
        (
            timer_fired_in_connector,
            ConnectError,
            "timed out waiting for a connection (deadline)",
        ),
        (TimeoutError, RequestTimeoutError, "no complete answer before the deadline"),
        (
            response_error,
            ConnectionLostError,
            "unreadable answer (ClientResponseError: 400 Bad header)",
        ),
    ],
    ids=["connect-timeout", "refused", "deadline-in-pool", "read-timeout", "garbled"],
)
async def test_aiohttp_failure_is_translated_with_its_message(
    make: Any, kind: type[RoktError], message: str
) -> None:
    """Each aiohttp failure becomes its TransportError with a message saying what
    happened, and never the failure's own repr."""
    error = await placements_failing_with(make())
    assert type(error) is kind
    assert str(error) == message


async def test_status_300_is_a_redirect_error_not_an_answer() -> None:
    """The 2xx range ends at 299: a 300 is a RedirectError, even with a JSON body."""
    async with make_client(retry=NO_RETRY) as client:
        with aioresponses() as mocked:
            mocked.post(PLACEMENTS_URL, status=300, body=TRUE)
            with pytest.raises(RedirectError) as caught:
                await client.any_placements(A_PLACEMENTS)
    assert caught.value.path == "/v1/placements/any"
    assert str(caught.value).startswith("POST /v1/placements/any -> HTTP 300: ")


@pytest.mark.parametrize(
    "headers",
    [{"Content-Length": str(len(TRUE))}, {}],
    ids=["declared", "counted-while-read"],
)
async def test_body_of_exactly_the_cap_is_read(headers: dict[str, str]) -> None:
    """A body exactly ``max_response_bytes`` long is read, whether its length was
    declared or counted while reading."""
    async with make_client(max_response_bytes=len(TRUE)) as client:
        with aioresponses() as mocked:
            mocked.post(PLACEMENTS_URL, body=TRUE, headers=headers)
            assert await client.any_placements(A_PLACEMENTS) is True


async def test_body_one_byte_over_the_cap_names_its_status() -> None:
    """One byte over the cap is a ResponseDecodeError carrying the 200 status."""
    async with make_client(max_response_bytes=len(TRUE) - 1) as client:
        with aioresponses() as mocked:
            mocked.post(PLACEMENTS_URL, body=TRUE)
            with pytest.raises(ResponseDecodeError) as caught:
                await client.any_placements(A_PLACEMENTS)
    assert caught.value.status == 200
    assert str(caught.value) == "HTTP 200 body is larger than 14 bytes"


def test_retry_after_date_is_measured_from_now_by_default() -> None:
    """An HTTP-date ``Retry-After`` without ``now`` counts from the wall clock."""
    later = email.utils.formatdate(time.time() + 60, usegmt=True)
    wait = parse_retry_after(later)
    assert wait is not None
    assert 55 <= wait <= 60
