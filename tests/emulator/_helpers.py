"""Shared helpers for the emulator tests: credentials, canned requests, raw posts."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import msgspec

import rokt_async
from rokt_async import (
    CancelRequest,
    ConfirmItem,
    ConfirmRequest,
    ReleaseItem,
    ReleaseRequest,
    ReserveItem,
    ReserveRequest,
)

if TYPE_CHECKING:
    import aiohttp

    from rokt_async.emulator import Emulator

KEY: Final = "emu-test-key"
TAG: Final = "emu-test-tag"
#: A fixed clock: 2023-11-14T22:13:20Z.
T0: Final = 1_700_000_000.0
TTL: Final = 600.0
ENCODE: Final = msgspec.json.Encoder().encode
ANY_JSON: Final = msgspec.json.Decoder()
#: Where ``rokt_async`` is imported from, for child Python processes.
SOURCE_ROOT: Final = Path(rokt_async.__file__).resolve().parent.parent


def child_env() -> dict[str, str]:
    """The environment for a child Python that must import this checkout."""
    return {**os.environ, "PYTHONPATH": str(SOURCE_ROOT)}


def rokt_headers(**overrides: str | None) -> dict[str, str]:
    """The headers RoktClient sends; an override of None drops that header."""
    headers: dict[str, str | None] = {
        "rokt-api-key": KEY,
        "rokt-tag-id": TAG,
        "rokt-session-id": "ca75f48-ebbd-4d8e-83c3-fdd70893294d",
        "Content-Type": "application/json",
        "Accept": "application/json",
    }
    headers.update(overrides)
    return {name: value for name, value in headers.items() if value is not None}


def reserve_request(cart: str = "cart-1", **items: int) -> ReserveRequest:
    """A reserve of ``item=quantity`` pairs (default: one parking spot)."""
    lines = items or {"parking": 1}
    return ReserveRequest(
        cart_id=cart,
        items=tuple(ReserveItem(cart_item_id=i, quantity=q) for i, q in lines.items()),
    )


def confirm_reserved(
    cart: str, order: str, *pairs: tuple[str, str], quantity: int | None = None
) -> ConfirmRequest:
    """A confirm of ``(cart_item_id, item_reservation_id)`` pairs."""
    items = tuple(
        ConfirmItem(cart_item_id=item, item_reservation_id=rid)
        if quantity is None
        else ConfirmItem(cart_item_id=item, item_reservation_id=rid, quantity=quantity)
        for item, rid in pairs
    )
    return ConfirmRequest(cart_id=cart, order_id=order, items=items)


def confirm_quantity(cart: str, order: str, **items: int) -> ConfirmRequest:
    """A confirm of quantity-only ``item=quantity`` pairs."""
    return ConfirmRequest(
        cart_id=cart,
        order_id=order,
        items=tuple(ConfirmItem(cart_item_id=i, quantity=q) for i, q in items.items()),
    )


def release_request(cart: str, *pairs: tuple[str, str]) -> ReleaseRequest:
    """A release of ``(cart_item_id, item_reservation_id)`` pairs."""
    return ReleaseRequest(
        cart_id=cart,
        items=tuple(
            ReleaseItem(cart_item_id=item, item_reservation_id=rid)
            for item, rid in pairs
        ),
    )


def cancel_request(rid: str) -> CancelRequest:
    """A cancel of one reservation id."""
    return CancelRequest(item_reservation_id=rid)


async def post(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes | Any,
    headers: dict[str, str] | None = None,
) -> tuple[int, str, bytes]:
    """POST raw bytes (or a Struct/dict, encoded); returns status, type, body."""
    data = body if isinstance(body, bytes) else ENCODE(body)
    async with session.post(
        url, data=data, headers=rokt_headers() if headers is None else headers
    ) as response:
        return response.status, response.content_type, await response.read()


async def admin(
    http: aiohttp.ClientSession, emulator: Emulator, path: str, body: Any = None
) -> tuple[int, Any]:
    """POST (or GET without a body) an admin path; status and decoded JSON."""
    url = f"{emulator.url}/_emulator/{path}"
    if body is None:
        async with http.get(url) as response:
            return response.status, ANY_JSON.decode(await response.read())
    data = body if isinstance(body, bytes) else ENCODE(body)
    async with http.post(url, data=data) as response:
        return response.status, ANY_JSON.decode(await response.read())
