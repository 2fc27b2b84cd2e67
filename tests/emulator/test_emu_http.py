"""The emulator over real sockets: flows, auth, validation, errors and recording."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import msgspec
import pytest

from rokt_async import (
    NO_RETRY,
    AuthenticationError,
    CancelRequest,
    ErrorBody,
    PermissionDeniedError,
    PlacementsRequest,
    RoktClient,
    UnprocessableEntityError,
)
from rokt_async.emulator import Emulator
from tests.emulator._helpers import (
    KEY,
    T0,
    TAG,
    TTL,
    cancel_request,
    confirm_quantity,
    confirm_reserved,
    post,
    release_request,
    reserve_request,
    rokt_headers,
)

if TYPE_CHECKING:
    import aiohttp

ERROR_BODY = msgspec.json.Decoder(ErrorBody)
ANY_JSON = msgspec.json.Decoder()
A_CONFIRM_QTY = {
    "cartId": "cart-1",
    "orderId": "order-1",
    "items": [{"cartItemId": "parking", "quantity": 1}],
}


def error_codes(body: bytes) -> list[str]:
    """The ``code`` of every entry in a Rokt error body."""
    parsed = ANY_JSON.decode(body)
    assert set(parsed) == {"description", "errors"}
    for entry in parsed["errors"]:
        assert set(entry) == {"code", "message", "value"}
    return [entry["code"] for entry in parsed["errors"]]


# --- flows through RoktClient ---------------------------------------------------------


async def test_reserve_confirm_cancel_flow_succeeds_through_client(
    emulator: Emulator, client: RoktClient
) -> None:
    """A reserved item confirms, cancels, and the ledger shows each effect once."""
    reserved = await client.reserve_cart(reserve_request("cart-1", scarce=1))
    (item,) = reserved.items
    assert (item.unit_price, item.currency) == (7.5, "EUR")
    confirmed = await client.confirm_cart(
        confirm_reserved("cart-1", "order-1", ("scarce", item.item_reservation_id))
    )
    assert confirmed.is_complete
    await client.cancel_confirmation(cancel_request(item.item_reservation_id))
    ledger = emulator.ledger()
    assert ledger.effects == {
        "confirm cart-1/scarce": 1,
        f"cancel {item.item_reservation_id}": 1,
    }
    assert ledger.stock["scarce"].available == 2


async def test_confirm_answers_same_bytes_when_resent(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """A resent confirm gets the identical answer and counts as a replay."""
    url = emulator.url + "/v1/cart/confirm"
    first = await post(http, url, A_CONFIRM_QTY)
    again = await post(http, url, A_CONFIRM_QTY)
    assert first == again
    assert first[0] == 200
    ledger = emulator.ledger()
    assert ledger.effects == {"confirm cart-1/parking": 1}
    assert ledger.replays == {"confirm cart-1/parking": 1}


async def test_release_succeeds_through_client_when_reservation_is_live(
    emulator: Emulator, client: RoktClient
) -> None:
    """A release through the client answers success and frees the stock."""
    reserved = await client.reserve_cart(reserve_request("cart-1", scarce=2))
    rid = reserved.items[0].item_reservation_id
    released = await client.release_cart(release_request("cart-1", ("scarce", rid)))
    assert released.is_complete
    assert emulator.reservation_status(rid) == "released"


async def test_confirm_fails_item_when_clock_passes_expiry(
    emulator: Emulator, client: RoktClient
) -> None:
    """Advancing the clock past the TTL expires a reservation without sleeping."""
    reserved = await client.reserve_cart(reserve_request("cart-1", scarce=1))
    (item,) = reserved.items
    assert item.expiration_date_time_utc.timestamp() == T0 + TTL
    emulator.advance_clock(TTL)
    confirmed = await client.confirm_cart(
        confirm_reserved("cart-1", "order-1", ("scarce", item.item_reservation_id))
    )
    assert not confirmed.is_complete
    assert emulator.reservation_status(item.item_reservation_id) == "expired"


async def test_placements_is_true_when_anything_is_in_stock(
    client: RoktClient,
) -> None:
    """placements/any answers true while items are in stock."""
    request = PlacementsRequest(cart_id="cart-1", page_identifier="checkout.upsell")
    assert await client.any_placements(request) is True


async def test_placements_follows_setting_when_result_is_forced(
    http: aiohttp.ClientSession,
) -> None:
    """A forced placements result is answered whatever the stock."""
    async with Emulator(api_key=KEY, tag_id=TAG, placements_result=False) as emu:
        body = {"cartId": "c", "pageIdentifier": "checkout.upsell"}
        status, _, answer = await post(http, emu.url + "/v1/placements/any", body)
    assert (status, answer) == (200, b'{"result":false}')


# --- refusals through RoktClient ------------------------------------------------------


async def test_reserve_gets_422_when_stock_is_short(client: RoktClient) -> None:
    """A reserve beyond stock is refused with InsufficientStock naming the item."""
    with pytest.raises(UnprocessableEntityError) as refused:
        await client.reserve_cart(reserve_request("cart-1", scarce=3))
    assert refused.value.body is not None
    (detail,) = refused.value.body.errors
    assert (detail.code, detail.value) == ("InsufficientStock", "scarce")


async def test_confirm_gets_422_when_cart_never_existed(client: RoktClient) -> None:
    """Confirming reservations of an unknown cart is refused with UnknownCart."""
    with pytest.raises(UnprocessableEntityError) as refused:
        await client.confirm_cart(confirm_reserved("ghost", "o", ("scarce", "r")))
    assert refused.value.body is not None
    assert refused.value.body.errors[0].code == "UnknownCart"


async def test_cancel_gets_422_when_reservation_is_unknown(
    client: RoktClient,
) -> None:
    """Cancelling an unknown reservation is refused with UnknownReservation."""
    with pytest.raises(UnprocessableEntityError) as refused:
        await client.cancel_confirmation(CancelRequest(item_reservation_id="nope"))
    assert refused.value.body is not None
    assert refused.value.body.errors[0].code == "UnknownReservation"


async def test_client_gets_authentication_error_when_key_is_wrong(
    emulator: Emulator,
) -> None:
    """An unknown API key surfaces as AuthenticationError with no body."""
    async with RoktClient(
        api_key="wrong", tag_id=TAG, base_url=emulator.url, retry=NO_RETRY
    ) as rokt:
        with pytest.raises(AuthenticationError) as refused:
            await rokt.reserve_cart(reserve_request())
    assert (refused.value.status, refused.value.body) == (401, None)


async def test_client_gets_permission_denied_when_tag_is_wrong(
    emulator: Emulator,
) -> None:
    """A tag id the key may not use surfaces as PermissionDeniedError with a body."""
    async with RoktClient(
        api_key=KEY, tag_id="other-tag", base_url=emulator.url, retry=NO_RETRY
    ) as rokt:
        with pytest.raises(PermissionDeniedError) as refused:
            await rokt.reserve_cart(reserve_request())
    assert refused.value.body is not None
    assert refused.value.body.errors[0].code == "Forbidden"


# --- raw requests: auth and validation ------------------------------------------------


@pytest.mark.parametrize("key", [None, "", "wrong-key"])
async def test_api_key_gets_401_without_body_when_missing_or_unknown(
    emulator: Emulator, http: aiohttp.ClientSession, key: str | None
) -> None:
    """A missing, empty or unknown rokt-api-key is answered 401 with an empty body."""
    headers = rokt_headers(**{"rokt-api-key": key})
    url = emulator.url + "/v1/cart/confirm"
    assert await post(http, url, A_CONFIRM_QTY, headers) == (
        401,
        "application/octet-stream",
        b"",
    )
    assert emulator.ledger().effects == {}


@pytest.mark.parametrize("tag", [None, "other-tag"])
async def test_tag_gets_403_with_error_body_when_missing_or_other(
    emulator: Emulator, http: aiohttp.ClientSession, tag: str | None
) -> None:
    """A missing or foreign rokt-tag-id is answered 403 with Rokt's error body."""
    headers = rokt_headers(**{"rokt-tag-id": tag})
    url = emulator.url + "/v1/cart/confirm"
    status, content_type, body = await post(http, url, A_CONFIRM_QTY, headers)
    assert (status, content_type) == (403, "application/json")
    assert error_codes(body) == ["Forbidden"]


async def test_cancel_accepts_request_when_tag_header_is_absent(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """Cancel does not require rokt-tag-id (its docs do not list it)."""
    _, _, body = await post(http, emulator.url + "/v1/cart/confirm", A_CONFIRM_QTY)
    rid = ANY_JSON.decode(body)["items"][0]["itemReservationId"]
    headers = rokt_headers(**{"rokt-tag-id": None})
    url = emulator.url + "/v1/confirmation/cancel"
    assert await post(http, url, {"itemReservationId": rid}, headers) == (
        200,
        "application/json",
        b"{}",
    )


@pytest.mark.parametrize("endpoint", ["reserve", "release"])
async def test_session_id_gets_400_when_missing_where_required(
    emulator: Emulator, http: aiohttp.ClientSession, endpoint: str
) -> None:
    """Reserve and release without rokt-session-id are answered 400."""
    headers = rokt_headers(**{"rokt-session-id": None})
    body = {"cartId": "c", "items": [{"cartItemId": "i", "itemReservationId": "r"}]}
    if endpoint == "reserve":
        body = {"cartId": "c", "items": [{"cartItemId": "i", "quantity": 1}]}
    url = f"{emulator.url}/v1/cart/{endpoint}"
    status, _, answer = await post(http, url, body, headers)
    assert status == 400
    assert error_codes(answer) == ["MissingHeader"]


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/xml"])
async def test_content_type_gets_400_when_not_json(
    emulator: Emulator, http: aiohttp.ClientSession, content_type: str | None
) -> None:
    """Any Content-Type but application/json is answered 400."""
    headers = rokt_headers(**{"Content-Type": content_type})
    url = emulator.url + "/v1/cart/confirm"
    status, _, answer = await post(http, url, A_CONFIRM_QTY, headers)
    assert status == 400
    assert error_codes(answer) == ["UnsupportedContentType"]


async def test_content_type_is_accepted_when_it_carries_charset(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """application/json with a charset parameter is JSON."""
    headers = rokt_headers(**{"Content-Type": "application/json; charset=utf-8"})
    url = emulator.url + "/v1/cart/confirm"
    assert (await post(http, url, A_CONFIRM_QTY, headers))[0] == 200


@pytest.mark.parametrize("body", [b"", b"{", b"not json", b'{"cartId": "c",}'])
async def test_body_gets_400_when_not_json(
    emulator: Emulator, http: aiohttp.ClientSession, body: bytes
) -> None:
    """A body that is not JSON is answered 400 MalformedJson."""
    status, _, answer = await post(http, emulator.url + "/v1/cart/confirm", body)
    assert status == 400
    assert error_codes(answer) == ["MalformedJson"]


INVALID_CONFIRMS: list[Any] = [
    [],
    {"orderId": "o", "items": [{"cartItemId": "i", "quantity": 1}]},
    {"cartId": "c", "orderId": "o", "items": []},
    {"cartId": "c", "orderId": "o", "items": [{"cartItemId": "i"}]},
    {"cartId": "c", "orderId": "o", "items": [{"cartItemId": "i", "quantity": 0}]},
    {"cartId": "c", "orderId": "o", "items": [{"cartItemId": "i", "quantity": "x"}]},
    {"cartId": 5, "orderId": "o", "items": [{"cartItemId": "i", "quantity": 1}]},
    {**A_CONFIRM_QTY, "typo": True},
    {"cartId": "c", "orderId": "o", "items": [{"cartItemId": "i", "qty": 1}]},
    {"cartId": "", "orderId": "o", "items": [{"cartItemId": "i", "quantity": 1}]},
    {"cartId": "c", "orderId": "o", "items": [{"cartItemId": "i", "quantity": True}]},
    {
        "cartId": "c",
        "orderId": "o",
        "items": [{"cartItemId": "i", "itemReservationId": ""}],
    },
    {
        "cartId": "c",
        "orderId": "o",
        "items": [{"cartItemId": "i", "itemReservationId": None, "quantity": 1}],
    },
]


@pytest.mark.parametrize("body", INVALID_CONFIRMS)
async def test_confirm_gets_400_when_fields_are_missing_unknown_or_invalid(
    emulator: Emulator, http: aiohttp.ClientSession, body: Any
) -> None:
    """Wrong shapes, missing or unknown fields and failed checks are answered 400."""
    status, _, answer = await post(http, emulator.url + "/v1/cart/confirm", body)
    assert status == 400
    assert error_codes(answer) == ["ValidationError"]
    assert emulator.ledger().effects == {}


INVALID_OTHERS: list[tuple[str, Any]] = [
    ("cart/reserve", {"cartId": "c", "items": []}),
    ("cart/reserve", {"cartId": "c", "items": [{"cartItemId": "i", "quantity": 0}]}),
    ("cart/reserve", {"cartId": "c", "items": [{"cartItemId": "", "quantity": 1}]}),
    ("cart/reserve", {"cartId": "c", "items": [{"cartItemId": "i", "qty": 1}]}),
    ("cart/release", {"cartId": "c", "items": [{"cartItemId": "i"}]}),
    ("cart/release", {"cartId": "c", "items": []}),
    ("confirmation/cancel", {"itemReservationId": ""}),
    ("confirmation/cancel", {"reservationId": "r"}),
    ("placements/any", {"cartId": "c"}),
    ("placements/any", {"cartId": "c", "pageIdentifier": "p", "attributes": {"a": 1}}),
]


@pytest.mark.parametrize(("path", "body"), INVALID_OTHERS)
async def test_other_endpoints_get_400_when_body_is_invalid(
    emulator: Emulator, http: aiohttp.ClientSession, path: str, body: Any
) -> None:
    """Reserve, release, cancel and placements refuse bad bodies with 400."""
    status, _, answer = await post(http, f"{emulator.url}/v1/{path}", body)
    assert (status, error_codes(answer)) == (400, ["ValidationError"])
    assert emulator.ledger().effects == {}


async def test_confirm_accepts_quantity_when_it_is_a_numeric_string(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """``"quantity": "15"`` (as in one of Rokt's samples) is read as 15."""
    body = {
        "cartId": "c",
        "orderId": "o",
        "items": [{"cartItemId": "parking", "quantity": "15"}],
    }
    status, _, _ = await post(http, emulator.url + "/v1/cart/confirm", body)
    assert status == 200
    assert emulator.ledger().stock["parking"].confirmed == 15


async def test_path_matches_when_case_differs(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """Capitalised paths from older docs reach the same endpoints."""
    status, _, _ = await post(http, emulator.url + "/v1/Cart/Confirm", A_CONFIRM_QTY)
    placements = {"cartId": "c", "pageIdentifier": "p"}
    answer = await post(http, emulator.url + "/V1/Placements/Any", placements)
    assert (status, answer[0]) == (200, 200)
    assert [r.endpoint for r in emulator.requests()] == ["confirm", "placements"]


async def test_api_path_gets_405_when_method_is_not_post(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """A GET on an API path is answered 405 with an error body."""
    async with http.get(emulator.url + "/v1/cart/confirm") as response:
        assert (response.status, response.headers["Allow"]) == (405, "POST")
        assert error_codes(await response.read()) == ["MethodNotAllowed"]


async def test_unknown_path_gets_404_and_is_not_recorded(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """An unknown path is answered 404 with an error body and left out of records."""
    status, _, answer = await post(http, emulator.url + "/v1/cart/nope", {})
    assert status == 404
    assert error_codes(answer) == ["NotFound"]
    assert emulator.requests() == []


@pytest.mark.parametrize("path", ["/v1/events", "/v2/events"])
async def test_events_get_401_but_are_recorded_without_event_credentials(
    emulator: Emulator, http: aiohttp.ClientSession, path: str
) -> None:
    """The Event API paths take their own credentials, not rokt-api-key: without
    them they answer 401 in the events error shape, and are still recorded."""
    body = b'{"accountId": "1", "events": [{"eventType": "conversion"}]}'
    status, content_type, answer = await post(http, emulator.url + path, body)
    assert (status, content_type) == (401, "application/json")
    assert ANY_JSON.decode(answer)["data"]["code"] == "UnauthorizedError"
    (recorded,) = emulator.requests("events")
    assert (recorded.path, recorded.body) == (path, body)


async def test_events_get_400_when_body_is_not_an_object(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """An Event API body that is not a JSON object is answered 400."""
    headers = {
        "Content-Type": "application/json",
        "Authorization": "Basic cnB1Yi10ZXN0OnJzZWMtdGVzdA==",  # rpub-test:rsec-test
    }
    status, _, answer = await post(http, emulator.url + "/v2/events", b"[1]", headers)
    assert status == 400
    assert ANY_JSON.decode(answer)["data"]["code"] == "RequestValidationError"


# --- recording ---------------------------------------------------------------------


async def test_requests_are_recorded_when_received(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """Each request is recorded with endpoint, lowercased headers, body and time."""
    body = msgspec.json.encode(A_CONFIRM_QTY)
    await post(http, emulator.url + "/v1/cart/confirm", body)
    await post(http, emulator.url + "/v1/placements/any", b"{}")
    confirm, placements = emulator.requests()
    assert emulator.requests("confirm") == [confirm]
    assert emulator.requests("*") == [confirm, placements]
    assert (confirm.endpoint, confirm.method, confirm.path) == (
        "confirm",
        "POST",
        "/v1/cart/confirm",
    )
    assert confirm.body == body
    assert confirm.headers["rokt-api-key"] == KEY
    assert confirm.headers["content-type"] == "application/json"
    assert confirm.time == T0
    assert confirm.connection_id == placements.connection_id == 1  # one kept alive
    assert emulator.ledger().requests == 2


async def test_peak_connections_counts_simultaneous_connections(
    emulator: Emulator,
) -> None:
    """Connections open at once set the peak; a reset restarts it from those open."""
    port = int(emulator.url.rsplit(":", 1)[1])
    request = (
        b"POST /v1/placements/any HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
    )
    streams: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def open_and_ask() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        streams.append((reader, writer))
        writer.write(request)
        await writer.drain()
        assert (await reader.readline()).startswith(b"HTTP/1.1 401")

    try:
        for _ in range(3):
            await open_and_ask()
        assert emulator.peak_connections == 3
        assert emulator.ledger().peak_connections == 3
        assert len({r.connection_id for r in emulator.requests()}) == 3
        emulator.reset()
        assert emulator.peak_connections == 3
        await open_and_ask()
        assert emulator.peak_connections == 4
    finally:
        for _, writer in streams:
            writer.close()
            await writer.wait_closed()


async def test_reset_forgets_state_records_and_clock(
    emulator: Emulator, client: RoktClient
) -> None:
    """After a reset, carts, requests, effects and clock advances are gone."""
    reserved = await client.reserve_cart(reserve_request("cart-1", scarce=2))
    emulator.advance_clock(5)
    emulator.reset()
    assert emulator.requests() == []
    assert emulator.now() == T0
    ledger = emulator.ledger()
    assert (ledger.effects, ledger.stock["scarce"].held, ledger.requests) == ({}, 0, 0)
    rid = reserved.items[0].item_reservation_id
    with pytest.raises(UnprocessableEntityError):
        await client.confirm_cart(confirm_reserved("cart-1", "o", ("scarce", rid)))


def test_advance_clock_refuses_negative_seconds() -> None:
    """Time never goes backwards."""
    emu = Emulator()
    with pytest.raises(ValueError, match="seconds"):
        emu.advance_clock(-1)


async def test_confirm_quantity_flow_records_body_as_sent(
    emulator: Emulator, client: RoktClient
) -> None:
    """The recorded body is exactly the bytes the client encoded."""
    request = confirm_quantity("cart-1", "order-1", parking=2)
    await client.confirm_cart(request)
    (recorded,) = emulator.requests("confirm")
    assert recorded.body == msgspec.json.encode(request)
