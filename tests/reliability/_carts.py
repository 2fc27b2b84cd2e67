"""Carts for the reliability suite: reserved first, then confirmed by reservation."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from rokt_async import (
    ConfirmItem,
    ConfirmRequest,
    ReserveItem,
    ReserveRequest,
)

if TYPE_CHECKING:
    from rokt_async import RoktClient

ITEM = "parking"


async def reserved_confirms(
    client: RoktClient, count: int, *, prefix: str = "cart", concurrency: int = 128
) -> list[ConfirmRequest]:
    """Reserve one unit in each of ``count`` carts (with no faults armed) and
    return the confirms that name those reservations, in cart order."""
    gate = asyncio.Semaphore(concurrency)

    async def one(n: int) -> ConfirmRequest:
        cart = f"{prefix}-{n}"
        async with gate:
            reserved = await client.reserve_cart(
                ReserveRequest(
                    cart_id=cart, items=(ReserveItem(cart_item_id=ITEM, quantity=1),)
                )
            )
        return ConfirmRequest(
            cart_id=cart,
            order_id=f"order-{cart}",
            items=(
                ConfirmItem(
                    cart_item_id=ITEM,
                    item_reservation_id=reserved.items[0].item_reservation_id,
                ),
            ),
        )

    return list(await asyncio.gather(*(one(n) for n in range(count))))


def quantity_confirm(n: int, *, prefix: str = "qcart") -> ConfirmRequest:
    """A confirm by quantity alone: nothing on Rokt's side recognises a resend."""
    return ConfirmRequest(
        cart_id=f"{prefix}-{n}",
        order_id=f"order-{prefix}-{n}",
        items=(ConfirmItem(cart_item_id=ITEM, quantity=1),),
    )
