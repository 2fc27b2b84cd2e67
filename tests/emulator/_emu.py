"""Requests in the emulator's own types (``_schema``), for tests of its state machine.

Same names and arguments as the client-typed builders in ``_helpers``; these build
the Structs the emulator decodes requests into, so state tests need no client.
"""

from __future__ import annotations

from rokt_async.emulator._schema import (
    CancelRequest,
    ConfirmItem,
    ConfirmRequest,
    ConfirmResponse,
    ReleaseItem,
    ReleaseRequest,
    ReleaseResponse,
    ReserveItem,
    ReserveRequest,
)


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


def all_succeeded(response: ConfirmResponse | ReleaseResponse) -> bool:
    """True when every item of a confirm or release answer succeeded."""
    return all(item.success for item in response.items)
