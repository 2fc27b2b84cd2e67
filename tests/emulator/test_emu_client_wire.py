"""The client and the emulator agree on every wire name, each side on its own.

The emulator's schema is written from the docs and shares nothing with the client,
so these calls through the real ``RoktClient`` fail when either side misspells a
field: a request field the emulator does not know is refused (400), a response
field the client reads under another name comes back as its default (None) or
fails to decode. Every optional request field is sent, every response field read.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from rokt_async import (
    ConfirmItem,
    ConfirmRequest,
    PlacementsRequest,
    ReleaseItem,
    ReleaseRequest,
    ReserveItem,
    ReserveRequest,
)
from rokt_async.emulator import REJECT
from tests.emulator._helpers import T0, TTL

if TYPE_CHECKING:
    from rokt_async import RoktClient
    from rokt_async.emulator import Emulator

URL = "https://emulator.rokt.invalid/confirmations/"
ATTRIBUTES = {"eventId": "e-1", "country": "US"}


def reserve_all_fields() -> ReserveRequest:
    """A reserve of two units of ``scarce`` with every optional field set."""
    return ReserveRequest(
        cart_id="cart-1",
        items=(ReserveItem(cart_item_id="scarce", quantity=2),),
        is_pay_pal_payment=True,
        merchant_id="merchant-1",
        attributes=ATTRIBUTES,
    )


async def test_client_reads_every_reserve_field(client: RoktClient) -> None:
    """Every field of a reserved item reaches the client with its value."""
    response = await client.reserve_cart(reserve_all_fields())
    (item,) = response.items
    assert response.cart_id == "cart-1"
    assert (item.cart_item_id, item.quantity) == ("scarce", 2)
    assert item.item_reservation_id == "e3e70682-c209-4cac-a29f-6fbed82c07cd"
    assert (item.unit_price, item.total_price, item.currency) == (7.5, 15.0, "EUR")
    assert item.expiration_date_time_utc == datetime.datetime.fromtimestamp(
        T0 + TTL, tz=datetime.UTC
    )


async def test_client_reads_every_confirm_field(client: RoktClient) -> None:
    """A confirm with every optional field reads back ids, URL and success."""
    reserved = await client.reserve_cart(reserve_all_fields())
    rid = reserved.items[0].item_reservation_id
    response = await client.confirm_cart(
        ConfirmRequest(
            cart_id="cart-1",
            order_id="order-1",
            items=(ConfirmItem(cart_item_id="scarce", item_reservation_id=rid),),
            pay_pal_order_id="pp-1",
            merchant_id="merchant-1",
            attributes=ATTRIBUTES,
        )
    )
    (item,) = response.items
    assert (response.cart_id, response.order_id) == ("cart-1", "order-1")
    assert (item.cart_item_id, item.item_reservation_id) == ("scarce", rid)
    assert item.item_confirmation_id == "f728b4fa-4248-4e3a-8a5d-2f346baa9455"
    assert item.item_confirmation_url == URL + item.item_confirmation_id
    assert (item.success, item.error_code) == (True, None)


async def test_client_reads_error_code_when_resend_is_rejected(
    emulator: Emulator, client: RoktClient
) -> None:
    """The reject mode's ``errorCode`` reaches the client as AlreadyConfirmed."""
    emulator.set_resend(REJECT)
    request = ConfirmRequest(
        cart_id="cart-1",
        order_id="order-1",
        items=(ConfirmItem(cart_item_id="parking", quantity=1),),
    )
    await client.confirm_cart(request)
    (item,) = (await client.confirm_cart(request)).items
    assert (item.success, item.error_code) == (False, "AlreadyConfirmed")
    assert item.is_already_confirmed


async def test_client_reads_every_release_field(client: RoktClient) -> None:
    """A release with attributes reads back the reservation id and success."""
    reserved = await client.reserve_cart(reserve_all_fields())
    rid = reserved.items[0].item_reservation_id
    response = await client.release_cart(
        ReleaseRequest(
            cart_id="cart-1",
            items=(ReleaseItem(cart_item_id="scarce", item_reservation_id=rid),),
            attributes=ATTRIBUTES,
        )
    )
    (item,) = response.items
    assert response.cart_id == "cart-1"
    assert (item.cart_item_id, item.item_reservation_id, item.success) == (
        "scarce",
        rid,
        True,
    )


async def test_client_sends_every_placements_field(client: RoktClient) -> None:
    """placements/any with URL and attributes is accepted and read as a bool."""
    request = PlacementsRequest(
        cart_id="cart-1",
        page_identifier="checkout.upsell",
        url="https://partner.example/checkout",
        attributes=ATTRIBUTES,
    )
    assert await client.any_placements(request) is True
