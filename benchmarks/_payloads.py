"""Our payloads for the benchmarks: confirm requests and answers of 1 and 20 items."""

from __future__ import annotations

import datetime
from typing import Any

from rokt_async import (
    ConfirmedItem,
    ConfirmItem,
    ConfirmRequest,
    ConfirmResponse,
    ReservedItem,
    ReserveResponse,
)
from rokt_async._codec import ENCODER

__all__ = [
    "confirm_request",
    "confirm_request_dict",
    "confirm_response_bytes",
    "reserve_response_bytes",
]

_EXPIRES = datetime.datetime(2026, 11, 23, 10, 0, 0, 123456, tzinfo=datetime.UTC)


def confirm_request(items: int) -> ConfirmRequest:
    """A confirm of ``items`` reserved cart lines."""
    return ConfirmRequest(
        cart_id="cart-7f3a9c1e",
        order_id="order-2026-000123",
        items=tuple(
            ConfirmItem(
                cart_item_id=f"item-{i}",
                item_reservation_id=f"5f0e9b4a-0c1d-4e2f-9a3b-{i:012d}",
            )
            for i in range(items)
        ),
    )


def confirm_request_dict(items: int) -> dict[str, Any]:
    """The same confirm as plain dicts, as stdlib-json code builds it."""
    return {
        "cartId": "cart-7f3a9c1e",
        "orderId": "order-2026-000123",
        "items": [
            {
                "cartItemId": f"item-{i}",
                "itemReservationId": f"5f0e9b4a-0c1d-4e2f-9a3b-{i:012d}",
            }
            for i in range(items)
        ],
    }


def confirm_response_bytes(items: int) -> bytes:
    """A confirm answer of ``items`` lines, as Rokt (and the emulator) sends it."""
    return ENCODER.encode(
        ConfirmResponse(
            cart_id="cart-7f3a9c1e",
            order_id="order-2026-000123",
            items=tuple(
                ConfirmedItem(
                    cart_item_id=f"item-{i}",
                    success=True,
                    item_reservation_id=f"5f0e9b4a-0c1d-4e2f-9a3b-{i:012d}",
                    item_confirmation_id=f"c1a2b3d4-0000-4000-8000-{i:012d}",
                    item_confirmation_url="https://emulator.rokt.invalid/"
                    f"confirmations/c1a2b3d4-0000-4000-8000-{i:012d}",
                )
                for i in range(items)
            ),
        )
    )


def reserve_response_bytes(items: int) -> bytes:
    """A reserve answer of ``items`` lines, with prices and expiry times."""
    return ENCODER.encode(
        ReserveResponse(
            cart_id="cart-7f3a9c1e",
            items=tuple(
                ReservedItem(
                    cart_item_id=f"item-{i}",
                    item_reservation_id=f"5f0e9b4a-0c1d-4e2f-9a3b-{i:012d}",
                    quantity=1 + i % 3,
                    unit_price=12.5,
                    total_price=12.5 * (1 + i % 3),
                    currency="USD",
                    expiration_date_time_utc=_EXPIRES,
                )
                for i in range(items)
            ),
        )
    )
