"""Request shape and answer handling through a real ClientSession on aioresponses."""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any

import pytest
from aioresponses import aioresponses
from yarl import URL

from rokt_async import (
    NO_RETRY,
    APIError,
    AuthenticationError,
    BadRequestError,
    ConfirmResponse,
    GatewayTimeoutError,
    PermissionDeniedError,
    RedirectError,
    ReleaseResponse,
    RequestValidationError,
    ReserveResponse,
    ResponseDecodeError,
    RoktClient,
    ServerError,
    UnprocessableEntityError,
)
from tests.conftest import (
    A_CANCEL,
    A_CONFIRM,
    A_PLACEMENTS,
    A_RELEASE,
    A_RESERVE,
    CANARY_KEY,
    FAKE_BASE,
    TAG_ID,
    error_chain,
    make_client,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

CONFIRM_URL = f"{FAKE_BASE}/v1/cart/confirm"
RESERVE_URL = f"{FAKE_BASE}/v1/cart/reserve"
PLACEMENTS_URL = f"{FAKE_BASE}/v1/placements/any"
PROXY_HTML = "<html><body><h1>502 Bad Gateway</h1></body></html>"
ERROR_JSON = {
    "description": "Request is invalid",
    "errors": [{"code": "InvalidCart", "message": "cart unknown", "value": "c1"}],
}
CONFIRM_OK = {
    "cartId": "cart-1",
    "orderId": "order-1",
    "items": [
        {
            "cartItemId": "parking",
            "itemReservationId": "res-1",
            "itemConfirmationId": "conf-1",
            "itemConfirmationUrl": "https://rokt.test/conf-1",
            "success": True,
        }
    ],
}


def _sent(mocked: aioresponses, url: str) -> list[Any]:
    return mocked.requests[("POST", URL(url))]


async def test_confirm_sends_encoded_bytes_and_headers(fake_client: RoktClient) -> None:
    """Confirm posts the golden bytes with key, tag, session id and JSON headers."""
    with aioresponses() as mocked:
        mocked.post(CONFIRM_URL, payload=CONFIRM_OK)
        response = await fake_client.confirm_cart(A_CONFIRM, locale="en-US")
    assert isinstance(response, ConfirmResponse)
    assert response.items[0].item_confirmation_id == "conf-1"
    (call,) = _sent(mocked, CONFIRM_URL)
    assert call.kwargs["data"] == (
        b'{"cartId":"cart-1","orderId":"order-1","items":'
        b'[{"cartItemId":"parking","itemReservationId":"res-1"}]}'
    )
    assert call.kwargs["allow_redirects"] is False
    headers = call.kwargs["headers"]
    assert headers["rokt-api-key"] == CANARY_KEY
    assert headers["rokt-tag-id"] == TAG_ID
    assert headers["Content-Type"] == "application/json"
    assert headers["Accept"] == "application/json"
    assert headers["Accept-Language"] == "en-US"
    assert headers["User-Agent"].startswith("rokt-async/")
    assert "aiohttp/" in headers["User-Agent"]
    assert "Python/" in headers["User-Agent"]
    assert uuid.UUID(headers["rokt-session-id"]).version == 4


async def test_generated_session_ids_are_distinct_uuid4s(
    fake_client: RoktClient,
) -> None:
    """Each call without a session id gets its own RFC 4122 version 4 UUID."""
    with aioresponses() as mocked:
        mocked.post(CONFIRM_URL, payload=CONFIRM_OK, repeat=True)
        for _ in range(50):
            await fake_client.confirm_cart(A_CONFIRM)
    ids = [c.kwargs["headers"]["rokt-session-id"] for c in _sent(mocked, CONFIRM_URL)]
    parsed = [uuid.UUID(i) for i in ids]
    assert len(set(ids)) == 50
    assert all(u.version == 4 and u.variant == uuid.RFC_4122 for u in parsed)
    assert ids == [str(u) for u in parsed]


async def test_given_session_id_and_client_locale_are_sent() -> None:
    """A caller's session id is sent as is; the client's default locale applies."""
    async with make_client(locale="en") as client:
        with aioresponses() as mocked:
            mocked.post(CONFIRM_URL, payload=CONFIRM_OK)
            await client.confirm_cart(A_CONFIRM, session_id="ca75f48-ebbd-4d8e")
    headers = _sent(mocked, CONFIRM_URL)[0].kwargs["headers"]
    assert headers["rokt-session-id"] == "ca75f48-ebbd-4d8e"
    assert headers["Accept-Language"] == "en"


async def test_no_accept_language_without_locale(fake_client: RoktClient) -> None:
    """Accept-Language is only sent when a locale is set."""
    with aioresponses() as mocked:
        mocked.post(CONFIRM_URL, payload=CONFIRM_OK)
        await fake_client.confirm_cart(A_CONFIRM)
    assert "Accept-Language" not in _sent(mocked, CONFIRM_URL)[0].kwargs["headers"]


@pytest.mark.parametrize("bad", ["sid\r\nX-Evil: 1", "sid\n", "sid\x00"])
async def test_control_characters_in_session_id_are_refused(
    fake_client: RoktClient, bad: str
) -> None:
    """A session id with CR/LF or control characters fails before sending."""
    with aioresponses() as mocked:
        with pytest.raises(RequestValidationError):
            await fake_client.confirm_cart(A_CONFIRM, session_id=bad)
        with pytest.raises(RequestValidationError):
            await fake_client.confirm_cart(A_CONFIRM, locale=bad)
    assert mocked.requests == {}


async def test_every_endpoint_posts_to_its_lowercase_path(
    fake_client: RoktClient,
) -> None:
    """Each method posts its request to the documented path and decodes the answer."""
    with aioresponses() as mocked:
        mocked.post(
            RESERVE_URL,
            payload={
                "cartId": "cart-1",
                "items": [
                    {
                        "cartItemId": "parking",
                        "itemReservationId": "res-1",
                        "quantity": 2,
                        "unitPrice": 10,
                        "totalPrice": 20,
                        "currency": "USD",
                        "expirationDateTimeUtc": "2026-11-23T10:00:00Z",
                    }
                ],
            },
        )
        mocked.post(f"{FAKE_BASE}/v1/cart/release", payload={"cartId": "cart-1"})
        mocked.post(f"{FAKE_BASE}/v1/confirmation/cancel", body="")
        mocked.post(f"{FAKE_BASE}/v1/placements/any", payload={"result": True})
        reserved = await fake_client.reserve_cart(A_RESERVE)
        released = await fake_client.release_cart(A_RELEASE)
        await fake_client.cancel_confirmation(A_CANCEL)  # 200, no body: returns
        shown = await fake_client.any_placements(A_PLACEMENTS)
    assert isinstance(reserved, ReserveResponse)
    assert reserved.items[0].total_price == 20.0
    assert released == ReleaseResponse(cart_id="cart-1")
    assert shown is True
    assert {key[1].path for key in mocked.requests} == {
        "/v1/cart/reserve",
        "/v1/cart/release",
        "/v1/confirmation/cancel",
        "/v1/placements/any",
    }


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (403, PermissionDeniedError),
        (422, UnprocessableEntityError),
        (500, ServerError),
        (504, GatewayTimeoutError),
    ],
)
async def test_documented_error_status_carries_parsed_body(
    status: int, cls: type[APIError]
) -> None:
    """Each documented error status raises its class with Rokt's parsed body."""
    async with make_client(retry=NO_RETRY) as client:
        with aioresponses() as mocked:
            mocked.post(
                PLACEMENTS_URL,
                status=status,
                payload=ERROR_JSON,
                headers={"x-request-id": "req-42"},
            )
            with pytest.raises(APIError) as caught:
                await client.any_placements(A_PLACEMENTS)
    error = caught.value
    assert type(error) is cls
    assert (error.status, error.request_id) == (status, "req-42")
    assert error.body is not None
    assert error.body.description == "Request is invalid"
    assert [(e.code, e.message, e.value) for e in error.body.errors] == [
        ("InvalidCart", "cart unknown", "c1")
    ]


async def test_401_without_body_is_authentication_error(
    fake_client: RoktClient,
) -> None:
    """401 has no body: AuthenticationError with body None."""
    with aioresponses() as mocked:
        mocked.post(CONFIRM_URL, status=401, body="")
        with pytest.raises(AuthenticationError) as caught:
            await fake_client.confirm_cart(A_CONFIRM)
    assert (caught.value.status, caught.value.body) == (401, None)


async def test_html_502_maps_to_server_error() -> None:
    """A proxy's HTML page becomes ServerError(502) with no parsed body."""
    async with make_client(retry=NO_RETRY) as client:
        with aioresponses() as mocked:
            mocked.post(
                PLACEMENTS_URL, status=502, body=PROXY_HTML, content_type="text/html"
            )
            with pytest.raises(ServerError) as caught:
                await client.any_placements(A_PLACEMENTS)
    assert (caught.value.status, caught.value.body) == (502, None)


async def test_redirect_is_not_followed(fake_client: RoktClient) -> None:
    """A 3xx is a RedirectError; the key is never forwarded to another host."""
    with aioresponses() as mocked:
        mocked.post(
            CONFIRM_URL, status=302, headers={"Location": "https://evil.example/"}
        )
        with pytest.raises(RedirectError) as caught:
            await fake_client.confirm_cart(A_CONFIRM)
    assert caught.value.status == 302
    assert len(mocked.requests) == 1


DEEP = b"[" * 50_000 + b"]" * 50_000


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"", "application/json", "empty"),
        (b"<html>oops</html>", "text/html", "not JSON"),
        (b'{"cartId":"c","orderId":', "application/json", "not JSON"),
        (b'{"cartId":1,"orderId":"o"}', "application/json", "wrong shape"),
        (b'{"orderId":"o"}', "application/json", "wrong shape"),
        (b"[1,2,3]", "application/json", "wrong shape"),
        (b'{"cartId":"c","orderId":"o","x":' + DEEP + b"}", "application/json", "deep"),
    ],
)
async def test_bad_2xx_body_raises_response_decode_error(
    fake_client: RoktClient, body: bytes, content_type: str, reason: str
) -> None:
    """Empty, malformed, truncated, mistyped or absurdly deep bodies fail typed."""
    with aioresponses() as mocked:
        mocked.post(CONFIRM_URL, status=200, body=body, content_type=content_type)
        with pytest.raises(ResponseDecodeError) as caught:
            await fake_client.confirm_cart(A_CONFIRM)
    assert caught.value.status == 200
    assert reason.split()[0] in str(caught.value) or reason == "deep"


async def test_oversized_2xx_body_raises_response_decode_error() -> None:
    """A body past max_response_bytes is refused, not decoded."""
    big = b'{"cartId":"c","orderId":"o","pad":"' + b"x" * 5000 + b'"}'
    async with make_client(max_response_bytes=1024) as client:
        with aioresponses() as mocked:
            mocked.post(CONFIRM_URL, status=200, body=big)
            with pytest.raises(ResponseDecodeError, match="larger than 1024"):
                await client.confirm_cart(A_CONFIRM)


async def test_oversized_error_body_keeps_status_class() -> None:
    """An oversized error body still gives its status class, with body None."""
    big = b'{"description":"' + b"x" * 5000 + b'"}'
    async with make_client(max_response_bytes=1024) as client:
        with aioresponses() as mocked:
            mocked.post(CONFIRM_URL, status=400, body=big)
            with pytest.raises(BadRequestError) as caught:
                await client.confirm_cart(A_CONFIRM)
    assert caught.value.body is None


async def _fail(call: Callable[[], Awaitable[object]]) -> BaseException:
    try:
        await call()
    except Exception as exc:  # noqa: BLE001  (we inspect whatever surfaced)
        return exc
    raise AssertionError("the call did not fail")


async def test_key_never_appears_in_logs_reprs_or_error_chains(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The canary key is absent from log records, reprs and every chained error."""
    caplog.set_level(logging.DEBUG, logger="rokt_async")
    async with make_client() as client:
        errors = []
        with aioresponses() as mocked:
            mocked.post(CONFIRM_URL, status=400, payload=ERROR_JSON)
            mocked.post(CONFIRM_URL, status=502, body=PROXY_HTML, repeat=True)
            errors.append(await _fail(lambda: client.confirm_cart(A_CONFIRM)))
            errors.append(await _fail(lambda: client.confirm_cart(A_CONFIRM)))
        with aioresponses() as mocked:  # nothing registered: connection refused
            errors.append(await _fail(lambda: client.confirm_cart(A_CONFIRM)))
        texts = [repr(client), str(client), repr(client.with_options(locale="en"))]
    for error in errors:
        for linked in error_chain(error):
            texts += [repr(linked), str(linked), repr(vars(linked))]
    texts += [record.getMessage() for record in caplog.records]
    texts += [repr(record.args) for record in caplog.records]
    assert len(errors) == 3
    assert caplog.records, "each request logs at DEBUG"
    assert not [text for text in texts if CANARY_KEY in text]
