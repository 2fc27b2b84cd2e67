"""Inventory records: catalog items, their stock counts, reservations and statuses.

Plain mutable records with no rules of their own; ``_state`` applies the rules.
A reservation's status moves ``held`` → ``confirmed`` → ``cancelled``, or ``held``
→ ``released`` / ``expired``; nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = [
    "CANCELLED",
    "CONFIRMED",
    "EXPIRED",
    "HELD",
    "RELEASED",
    "CatalogItem",
    "Item",
    "Reservation",
]

HELD: Final = "held"
CONFIRMED: Final = "confirmed"
RELEASED: Final = "released"
EXPIRED: Final = "expired"
CANCELLED: Final = "cancelled"


@dataclass(frozen=True, slots=True, kw_only=True)
class CatalogItem:
    """One seeded catalog item. None means the emulator's default.

    Args:
        stock: units on sale at start (and after every reset).
        unit_price: price per unit, or the emulator's ``default_unit_price``.
        currency: ISO currency code, or the emulator's ``currency``.
    """

    stock: int
    unit_price: float | None = None
    currency: str | None = None

    def __post_init__(self) -> None:
        if self.stock < 0:
            raise ValueError("CatalogItem.stock must be >= 0")


class Item:
    """Stock counts and price of one catalog item."""

    __slots__ = ("available", "confirmed", "currency", "held", "initial", "unit_price")

    def __init__(self, stock: int, unit_price: float, currency: str) -> None:
        self.initial = self.available = stock
        self.held = self.confirmed = 0
        self.unit_price = unit_price
        self.currency = currency


class Reservation:
    """One reservation: whose, which item, how many, until when, and its status.

    Quantity-only confirmations get one too (already ``confirmed``, never
    expiring), so that they can be cancelled by ``itemReservationId``.
    """

    __slots__ = (
        "cart_id",
        "cart_item_id",
        "expires_at",
        "id",
        "quantity",
        "status",
    )

    def __init__(
        self,
        rid: str,
        cart_id: str,
        cart_item_id: str,
        quantity: int,
        expires_at: float,
        status: str,
    ) -> None:
        self.id = rid
        self.cart_id = cart_id
        self.cart_item_id = cart_item_id
        self.quantity = quantity
        self.expires_at = expires_at
        self.status = status
