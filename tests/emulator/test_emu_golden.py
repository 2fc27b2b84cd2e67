"""Golden bytes: the emulator's exact answer per endpoint, and the docs' samples.

Every request body here is written out by hand from ``rokt-api.md`` (field names
as the docs spell them), and every expected answer is literal bytes: nothing is
built with the client's models or encoder, so a wire name the client gets wrong
is not mirrored here. The emulator's ids come from ``random.Random(seed)`` and its
clock is fixed, so each answer is the same bytes on every run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import pytest
import pytest_asyncio

from rokt_async.emulator import REJECT, CatalogItem, Emulator
from tests.emulator._helpers import KEY, T0, TTL, rokt_headers

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import aiohttp

#: The docs' sample tag id (the session id in ``rokt_headers`` is the docs' too).
DOC_TAG: Final = "253_439d21r21r21321"
#: The first two ids ``random.Random(0)`` hands out, then the next two.
ID_1: Final = "e3e70682-c209-4cac-a29f-6fbed82c07cd"
ID_2: Final = "f728b4fa-4248-4e3a-8a5d-2f346baa9455"
ID_3: Final = "eb1167b3-67a9-4378-bc65-c1e582e2e662"
ID_4: Final = "f7c1bd87-4da5-4709-9471-3d60c8a70639"
URL: Final = "https://emulator.rokt.invalid/confirmations/"

RESERVE: Final = (
    b'{"cartId":"cart-1","items":[{"cartItemId":"scarce","quantity":2},'
    b'{"cartItemId":"parking","quantity":1}],"isPayPalPayment":false,'
    b'"merchantId":"merchant-1","attributes":{"eventId":"e-1"}}'
)
RESERVED: Final = (
    b'{"cartId":"cart-1","items":['
    b'{"cartItemId":"scarce","itemReservationId":"' + ID_1.encode() + b'",'
    b'"quantity":2,"unitPrice":7.5,"totalPrice":15.0,"currency":"EUR",'
    b'"expirationDateTimeUtc":"2023-11-14T22:23:20Z"},'
    b'{"cartItemId":"parking","itemReservationId":"' + ID_2.encode() + b'",'
    b'"quantity":1,"unitPrice":10.0,"totalPrice":10.0,"currency":"USD",'
    b'"expirationDateTimeUtc":"2023-11-14T22:23:20Z"}]}'
)
CONFIRM: Final = (
    b'{"cartId":"cart-1","orderId":"order-1","items":['
    b'{"cartItemId":"scarce","itemReservationId":"' + ID_1.encode() + b'",'
    b'"quantity":2},'
    b'{"cartItemId":"parking","itemReservationId":"' + ID_2.encode() + b'"}],'
    b'"payPalOrderId":"pp-1","merchantId":"merchant-1",'
    b'"attributes":{"eventId":"e-1"}}'
)
CONFIRMED: Final = (
    b'{"cartId":"cart-1","orderId":"order-1","items":['
    b'{"cartItemId":"scarce","itemReservationId":"' + ID_1.encode() + b'",'
    b'"itemConfirmationId":"' + ID_3.encode() + b'",'
    b'"itemConfirmationUrl":"' + (URL + ID_3).encode() + b'","success":true},'
    b'{"cartItemId":"parking","itemReservationId":"' + ID_2.encode() + b'",'
    b'"itemConfirmationId":"' + ID_4.encode() + b'",'
    b'"itemConfirmationUrl":"' + (URL + ID_4).encode() + b'","success":true}]}'
)
#: Quantity-only, with the docs' ``"quantity": "15"`` string; the second item is
#: more than the stock of ``scarce`` (2) and fails.
CONFIRM_BY_QUANTITY: Final = (
    b'{"cartId":"cart-9","orderId":"order-9","items":['
    b'{"cartItemId":"parking","quantity":"15"},'
    b'{"cartItemId":"scarce","quantity":3}]}'
)
CONFIRMED_BY_QUANTITY: Final = (
    b'{"cartId":"cart-9","orderId":"order-9","items":['
    b'{"cartItemId":"parking","itemReservationId":"' + ID_1.encode() + b'",'
    b'"itemConfirmationId":"' + ID_2.encode() + b'",'
    b'"itemConfirmationUrl":"' + (URL + ID_2).encode() + b'","success":true},'
    b'{"cartItemId":"scarce","success":false}]}'
)
REJECTED_RESEND: Final = (
    b'{"cartId":"cart-9","orderId":"order-9","items":['
    b'{"cartItemId":"parking","success":false,"errorCode":"AlreadyConfirmed"},'
    b'{"cartItemId":"scarce","success":false}]}'
)
RELEASE: Final = (
    b'{"cartId":"cart-1","items":['
    b'{"cartItemId":"scarce","itemReservationId":"' + ID_1.encode() + b'"},'
    b'{"cartItemId":"parking","itemReservationId":"nope"}],'
    b'"attributes":{"eventId":"e-1"}}'
)
RELEASED: Final = (
    b'{"cartId":"cart-1","items":['
    b'{"cartItemId":"scarce","itemReservationId":"' + ID_1.encode() + b'",'
    b'"success":true},'
    b'{"cartItemId":"parking","itemReservationId":"nope","success":false}]}'
)
CANCEL: Final = b'{"itemReservationId":"' + ID_1.encode() + b'"}'
MINIMAL_RESERVE: Final = b'{"cartId":"c","items":[{"cartItemId":"i","quantity":1}]}'
PLACEMENTS: Final = (
    b'{"cartId":"cart-1","pageIdentifier":"checkout.upsell",'
    b'"url":"https://partner.example/checkout","attributes":{"eventId":"e-1",'
    b'"userAgent":"Mozilla/5.0","venueName":"Stadium","eventdate":"20240131",'
    b'"country":"US","locale":"en-US"}}'
)


@pytest_asyncio.fixture
async def emu() -> AsyncIterator[Emulator]:
    """Seed 0, a fixed clock, the docs' tag id and two units of ``scarce``."""
    catalog = {"scarce": CatalogItem(stock=2, unit_price=7.5, currency="EUR")}
    async with Emulator(
        api_key=KEY,
        tag_id=DOC_TAG,
        reservation_ttl=TTL,
        clock=lambda: T0,
        seed=0,
        catalog=catalog,
    ) as emulator:
        yield emulator


@pytest.fixture
def send(emu: Emulator, http: aiohttp.ClientSession) -> Sender:
    """POST raw bytes to the emulator with the docs' headers."""
    return Sender(emu.url, http)


class Sender:
    """POSTs raw bytes to one emulator; answers ``(status, body)``."""

    def __init__(self, url: str, http: aiohttp.ClientSession) -> None:
        self._url = url
        self._http = http

    async def __call__(
        self, path: str, body: bytes, **headers: str | None
    ) -> tuple[int, bytes]:
        sent = rokt_headers(**{"rokt-tag-id": DOC_TAG, **headers})
        async with self._http.post(self._url + path, data=body, headers=sent) as r:
            return r.status, await r.read()


# --- one golden answer per endpoint -------------------------------------------------


async def test_reserve_answers_golden_bytes(send: Sender) -> None:
    """A reserve with every documented field answers exactly these bytes."""
    assert await send("/v1/cart/reserve", RESERVE) == (200, RESERVED)


async def test_confirm_by_reservation_answers_golden_bytes(send: Sender) -> None:
    """Confirming both reservations answers ids, URLs and success per item."""
    await send("/v1/cart/reserve", RESERVE)
    assert await send("/v1/cart/confirm", CONFIRM) == (200, CONFIRMED)


async def test_confirm_by_quantity_answers_golden_bytes(send: Sender) -> None:
    """The docs' string quantity is read as 15; a failed item carries no ids."""
    answer = await send("/v1/cart/confirm", CONFIRM_BY_QUANTITY)
    assert answer == (200, CONFIRMED_BY_QUANTITY)


async def test_resend_answers_golden_bytes_when_mode_is_reject(
    emu: Emulator, send: Sender
) -> None:
    """In reject mode a resend names ``errorCode`` and only there."""
    emu.set_resend(REJECT)
    await send("/v1/cart/confirm", CONFIRM_BY_QUANTITY)
    assert await send("/v1/cart/confirm", CONFIRM_BY_QUANTITY) == (200, REJECTED_RESEND)


async def test_release_answers_golden_bytes(send: Sender) -> None:
    """A release echoes each reservation id with its own success."""
    await send("/v1/cart/reserve", RESERVE)
    assert await send("/v1/cart/release", RELEASE) == (200, RELEASED)


async def test_cancel_answers_empty_object(send: Sender) -> None:
    """Cancel has no documented body: the emulator answers ``{}``."""
    await send("/v1/cart/confirm", CONFIRM_BY_QUANTITY)
    assert await send("/v1/confirmation/cancel", CANCEL) == (200, b"{}")


async def test_placements_answers_golden_bytes(send: Sender) -> None:
    """placements/any with the docs' attributes answers ``{"result":true}``."""
    assert await send("/v1/placements/any", PLACEMENTS) == (200, b'{"result":true}')


@pytest.mark.parametrize(
    ("path", "body", "headers", "expected"),
    [
        (
            "/v1/cart/reserve",
            b'{"cartId":"c","items":[{"cartItemId":"scarce","quantity":3}]}',
            {},
            (
                422,
                b'{"description":"Unprocessable Entity","errors":[{"code":'
                b'"InsufficientStock","message":"3 requested, 2 available",'
                b'"value":"scarce"}]}',
            ),
        ),
        (
            "/v1/cart/confirm",
            b'{"cartId":"ghost","orderId":"o","items":'
            b'[{"cartItemId":"i","itemReservationId":"r"}]}',
            {},
            (
                422,
                b'{"description":"Unprocessable Entity","errors":[{"code":'
                b'"UnknownCart","message":"no such cart","value":"ghost"}]}',
            ),
        ),
        (
            "/v1/cart/confirm",
            CONFIRM_BY_QUANTITY,
            {"rokt-tag-id": "other"},
            (
                403,
                b'{"description":"Forbidden","errors":[{"code":"Forbidden",'
                b'"message":"rokt-tag-id is not allowed for this API key",'
                b'"value":"other"}]}',
            ),
        ),
        (
            "/v1/cart/release",
            RELEASE,
            {"rokt-session-id": None},
            (
                400,
                b'{"description":"Bad Request","errors":[{"code":"MissingHeader",'
                b'"message":"rokt-session-id is required",'
                b'"value":"rokt-session-id"}]}',
            ),
        ),
        (
            "/v1/cart/confirm",
            b'{"cartId":"c","orderId":"o","items":[{"cartItemId":"i","qty":1}]}',
            {},
            (
                400,
                b'{"description":"Bad Request","errors":[{"code":"ValidationError",'
                b'"message":"Object contains unknown field `qty` - at `$.items[0]`",'
                b'"value":null}]}',
            ),
        ),
    ],
    ids=["422-stock", "422-cart", "403-tag", "400-session", "400-field"],
)
async def test_error_answers_golden_bytes(
    send: Sender,
    path: str,
    body: bytes,
    headers: dict[str, str | None],
    expected: tuple[int, bytes],
) -> None:
    """Each refusal answers Rokt's error body, byte for byte."""
    assert await send(path, body, **headers) == expected


# --- the docs' samples are accepted -------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/Cart/reserve", RESERVE),
        ("/v1/cart/confirm", CONFIRM_BY_QUANTITY),
        ("/v1/Placements/any", PLACEMENTS),
        ("/v1/cart/reserve", MINIMAL_RESERVE),
    ],
)
async def test_docs_samples_are_accepted(send: Sender, path: str, body: bytes) -> None:
    """The docs' sample bodies, every optional field included, answer 200."""
    assert (await send(path, body))[0] == 200


async def test_docs_flow_is_accepted_on_capitalised_paths(send: Sender) -> None:
    """Reserve, confirm, release and cancel on the docs' capitalised paths."""
    await send("/v1/Cart/reserve", RESERVE)
    confirm_one = (
        b'{"cartId":"cart-1","orderId":"order-1","items":'
        b'[{"cartItemId":"scarce","itemReservationId":"' + ID_1.encode() + b'"}]}'
    )
    release_other = (
        b'{"cartId":"cart-1","items":'
        b'[{"cartItemId":"parking","itemReservationId":"' + ID_2.encode() + b'"}]}'
    )
    assert (await send("/v1/Cart/confirm", confirm_one))[0] == 200
    assert (await send("/v1/Cart/release", release_other))[0] == 200
    assert await send("/v1/Confirmation/cancel", CANCEL) == (200, b"{}")
