"""One attempt: the aiohttp POST, a capped body read, status -> bytes or typed error.

aiohttp and asyncio failures are translated here and nowhere else. aiohttp's
``ClientResponseError`` family carries the request headers (and so the API key) in its
repr, so those are raised outside the ``except`` block: nothing of them stays in the
chain.
"""

from __future__ import annotations

import email.utils
import time
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

import aiohttp

from ._codec import parse_error_body
from ._errors import (
    APIError,
    ConnectError,
    ConnectionLostError,
    RequestTimeoutError,
    clip,
    error_class,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from multidict import CIMultiDictProxy

_REQUEST_ID_HEADERS: Final = ("x-request-id", "x-amzn-requestid", "request-id")
_CONTENT_ENCODING: Final = "Content-Encoding"


async def post_once(
    session: aiohttp.ClientSession,
    url: str,
    payload: bytes,
    headers: Mapping[str, str],
    timeout: aiohttp.ClientTimeout,
    max_bytes: int,
) -> tuple[int, bytes | None]:
    """Send one POST and return ``(status, body)`` for a 2xx answer.

    ``body`` is None when it was larger than ``max_bytes``.

    Raises:
        APIError: a non-2xx answer, with Rokt's parsed error body when there is one.
        TransportError: no usable answer (see its subclasses).
    """
    lost: str | None = None
    try:
        async with session.post(
            url,
            data=payload,
            headers=headers,
            timeout=timeout,
            allow_redirects=False,
            raise_for_status=False,  # a session passed in may say otherwise
        ) as response:
            status = response.status
            length = response.content_length
            body: bytes | None
            if length is not None and length > max_bytes:
                # declared too large (compressed or not): not read, connection dropped
                response.close()
                body = None
            elif length is None or _CONTENT_ENCODING in response.headers:
                # Chunked, read-until-close, or compressed: Content-Length counts
                # the bytes on the wire, not what they inflate to, so the cap is
                # counted on the decompressed bytes as they arrive.
                body = await _read_capped(response, max_bytes)
            else:
                body = await response.read()
            if 200 <= status < 300:
                return status, body
            raise _api_error(status, body, response.headers, url)
    except aiohttp.ConnectionTimeoutError as exc:  # pool wait or connect: never sent
        raise ConnectError("timed out waiting for a connection") from exc
    except aiohttp.ClientConnectorError as exc:  # refused, DNS, TLS: never sent
        raise ConnectError(f"could not connect: {exc.os_error}") from exc
    except TimeoutError as exc:  # the attempt's timer: before or after sending?
        if _timed_out_in_connect(exc):
            raise ConnectError("timed out waiting for a connection (deadline)") from exc
        raise RequestTimeoutError("no complete answer before the deadline") from exc
    except aiohttp.ClientResponseError as exc:  # its repr holds the request headers
        lost = f"{type(exc).__name__}: {exc.status} {clip(str(exc.message))}"
    except aiohttp.ClientPayloadError as exc:
        raise ConnectionLostError(
            f"the answer broke off mid-body ({type(exc).__name__})"
        ) from exc
    except aiohttp.ClientError as exc:  # disconnects, resets, OS errors
        raise ConnectionLostError(
            f"the connection was lost ({type(exc).__name__})"
        ) from exc
    raise ConnectionLostError(f"unreadable answer ({lost})")


#: aiohttp's connector code: an attempt whose timer fired in here never sent a byte.
_CONNECT_CODE: Final = aiohttp.BaseConnector.connect.__code__


def _timed_out_in_connect(exc: TimeoutError) -> bool:
    """True when the attempt's total timer fired while aiohttp was still getting a
    connection (waiting for the pool, or connecting): nothing was sent.

    aiohttp turns its total timer into a cancellation of the request task and
    raises ``TimeoutError`` from that ``CancelledError``; the cancellation's
    traceback runs through ``BaseConnector.connect`` exactly when it landed before
    a connection was handed over. (When ``Timeouts.connect`` fires first, aiohttp
    raises ``ConnectionTimeoutError`` itself.)
    """
    cause = exc.__cause__
    tb = cause.__traceback__ if cause is not None else None
    while tb is not None:
        if tb.tb_frame.f_code is _CONNECT_CODE:
            return True
        tb = tb.tb_next
    return False


async def _read_capped(
    response: aiohttp.ClientResponse, max_bytes: int
) -> bytes | None:
    """The body as it inflates, or None (and the connection dropped) once it
    passes the cap: at most ``max_bytes`` plus one decompressed chunk is held."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > max_bytes:
            response.close()
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _api_error(
    status: int, body: bytes | None, headers: CIMultiDictProxy[str], url: str
) -> APIError:
    parsed = parse_error_body(body) if body else None
    request_id = next(
        (headers[name] for name in _REQUEST_ID_HEADERS if name in headers), None
    )
    retry_after = parse_retry_after(headers.get("Retry-After"))
    return error_class(status)(
        status,
        parsed,
        request_id,
        retry_after=retry_after,
        path=urlsplit(url).path,
    )


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    wall = time.time() if now is None else now
    return max(0.0, when.timestamp() - wall)
