"""Checked by mypy only: the public API's types as a user's code sees them."""

from __future__ import annotations

from typing import assert_type

from rokt_async import (
    ConfirmedItem,
    ConfirmItem,
    ConfirmRequest,
    ConfirmResponse,
    PlacementsRequest,
    ReserveRequest,
    ReserveResponse,
    RoktClient,
)


async def confirm_and_check(client: RoktClient) -> None:
    request = ConfirmRequest(
        cart_id="c", order_id="o", items=(ConfirmItem(cart_item_id="i", quantity=1),)
    )
    response = await client.confirm_cart(request, session_id="s", timeout=2.0)
    assert_type(response, ConfirmResponse)
    assert_type(response.failed_items, tuple[ConfirmedItem, ...])
    shown = await client.any_placements(
        PlacementsRequest(cart_id="c", page_identifier="checkout.upsell")
    )
    assert_type(shown, bool)
    assert_type(client.with_options(locale="en"), RoktClient)


def build_from_env() -> None:
    RoktClient.from_env(base_url="http://127.0.0.1:8080", locale="en-US")
    RoktClient.from_env(retyr=None)  # type: ignore[call-arg]
    RoktClient.from_env(locale=3)  # type: ignore[arg-type]


def endpoint_table_is_typed() -> None:
    from rokt_async import _codec, _endpoints
    from rokt_async._endpoints import Endpoint

    assert_type(_endpoints.RESERVE, Endpoint[ReserveResponse])
    wrong: Endpoint[ReserveResponse] = Endpoint(  # noqa: F841
        name="reserve",
        path="/v1/cart/reserve",
        decoder=_codec.CONFIRM,  # type: ignore[arg-type]
        changes_state=True,
        unsafe_resend=_endpoints.RESERVE.unsafe_resend,
        identifiers=_endpoints.RESERVE.identifiers,
    )


async def call_path_is_typed(client: RoktClient, request: ReserveRequest) -> None:
    assert_type(await client.reserve_cart(request), ReserveResponse)
