"""msgspec Structs for every Transactions API request and response.

Attributes are snake_case in Python and camelCase on the wire. Requests are frozen
and validated when built (``__post_init__``), so a request that exists is one Rokt
can accept. Responses accept unknown fields and give every optional field a default.
"""

from __future__ import annotations

import datetime
from typing import Any, Final

import msgspec
from msgspec import UNSET, UnsetType

from ._errors import RequestValidationError

__all__ = [
    "CancelRequest",
    "ConfirmItem",
    "ConfirmRequest",
    "ConfirmResponse",
    "ConfirmedItem",
    "ErrorBody",
    "ErrorDetail",
    "PlacementsRequest",
    "PlacementsResponse",
    "ReleaseItem",
    "ReleaseRequest",
    "ReleaseResponse",
    "ReleasedItem",
    "ReserveItem",
    "ReserveRequest",
    "ReserveResponse",
    "ReservedItem",
]


class _Wire(msgspec.Struct, rename="camel", omit_defaults=True, frozen=True, gc=False):
    """camelCase wire names, defaults omitted, immutable and cycle-free."""


def _require_items(owner: str, items: tuple[object, ...]) -> None:
    if not items:
        raise RequestValidationError(f"{owner}.items must hold at least one item")


# --- cart/reserve -----------------------------------------------------------------


class ReserveItem(_Wire, kw_only=True, frozen=True):
    """One cart item to hold: which item and how many."""

    cart_item_id: str
    quantity: int

    def __post_init__(self) -> None:
        if self.quantity < 1:
            raise RequestValidationError("ReserveItem.quantity must be at least 1")


class ReserveRequest(_Wire, kw_only=True, frozen=True):
    """Body of ``POST /v1/cart/reserve``: hold stock and lock prices until expiry."""

    cart_id: str
    items: tuple[ReserveItem, ...]
    is_pay_pal_payment: bool | UnsetType = UNSET
    merchant_id: str | UnsetType = UNSET
    attributes: dict[str, str] | UnsetType = UNSET

    def __post_init__(self) -> None:
        _require_items("ReserveRequest", self.items)


class ReservedItem(_Wire, kw_only=True, frozen=True):
    """One held item: its reservation id, price and when the hold lapses."""

    cart_item_id: str
    item_reservation_id: str
    quantity: int
    unit_price: float
    total_price: float
    currency: str
    expiration_date_time_utc: datetime.datetime


class ReserveResponse(_Wire, kw_only=True, frozen=True):
    """Answer to a reserve: one ``ReservedItem`` per requested item."""

    cart_id: str
    items: tuple[ReservedItem, ...] = ()


# --- cart/confirm -----------------------------------------------------------------


class ConfirmItem(_Wire, kw_only=True, frozen=True):
    """One item to confirm, by reservation, by quantity, or both."""

    cart_item_id: str
    item_reservation_id: str | UnsetType = UNSET
    quantity: int | UnsetType = UNSET

    def __post_init__(self) -> None:
        if self.item_reservation_id is UNSET and self.quantity is UNSET:
            raise RequestValidationError(
                "ConfirmItem needs item_reservation_id or quantity"
            )
        if self.quantity is not UNSET and self.quantity < 1:
            raise RequestValidationError("ConfirmItem.quantity must be at least 1")


class ConfirmRequest(_Wire, kw_only=True, frozen=True):
    """Body of ``POST /v1/cart/confirm``: the purchase went through, fulfil it."""

    cart_id: str
    order_id: str
    items: tuple[ConfirmItem, ...]
    pay_pal_order_id: str | UnsetType = UNSET
    merchant_id: str | UnsetType = UNSET
    attributes: dict[str, str] | UnsetType = UNSET

    def __post_init__(self) -> None:
        _require_items("ConfirmRequest", self.items)


#: ``ConfirmedItem.error_code`` of an item whose reservation an earlier request (or
#: an earlier, ambiguous attempt of this one) already confirmed.
ALREADY_CONFIRMED: Final = "AlreadyConfirmed"


class ConfirmedItem(_Wire, kw_only=True, frozen=True):
    """Per-item outcome of a confirm; ``success`` is false for an item that failed.

    ``error_code`` is not in Rokt's published schema: it is read when present (the
    emulator sends ``AlreadyConfirmed`` for a resent reservation in its ``reject``
    and ``duplicate`` resend modes) and None otherwise.
    """

    cart_item_id: str
    success: bool
    item_reservation_id: str | None = None
    item_confirmation_id: str | None = None
    item_confirmation_url: str | None = None
    error_code: str | None = None

    @property
    def is_already_confirmed(self) -> bool:
        """True when the item failed only because it was confirmed before.

        That is the answer to a resend whose earlier attempt took effect: the
        purchase went through once (its confirmation id is in the first answer).
        """
        return not self.success and self.error_code == ALREADY_CONFIRMED


class ConfirmResponse(_Wire, kw_only=True, frozen=True):
    """Answer to a confirm. A 200 can carry failed items: see ``failed_items``."""

    cart_id: str
    order_id: str
    items: tuple[ConfirmedItem, ...] = ()

    @property
    def failed_items(self) -> tuple[ConfirmedItem, ...]:
        """The items Rokt did not confirm, and had not confirmed before."""
        return tuple(
            item
            for item in self.items
            if not item.success and not item.is_already_confirmed
        )

    @property
    def already_confirmed_items(self) -> tuple[ConfirmedItem, ...]:
        """Items refused as already confirmed: bought once, by an earlier request."""
        return tuple(item for item in self.items if item.is_already_confirmed)

    @property
    def is_complete(self) -> bool:
        """True when every item is confirmed, now or by an earlier attempt."""
        return not self.failed_items


# --- cart/release -----------------------------------------------------------------


class ReleaseItem(_Wire, kw_only=True, frozen=True):
    """One reservation to give back."""

    cart_item_id: str
    item_reservation_id: str


class ReleaseRequest(_Wire, kw_only=True, frozen=True):
    """Body of ``POST /v1/cart/release``: return reserved stock now."""

    cart_id: str
    items: tuple[ReleaseItem, ...]
    attributes: dict[str, str] | UnsetType = UNSET

    def __post_init__(self) -> None:
        _require_items("ReleaseRequest", self.items)


class ReleasedItem(_Wire, kw_only=True, frozen=True):
    """Per-item outcome of a release."""

    cart_item_id: str
    success: bool
    item_reservation_id: str | None = None


class ReleaseResponse(_Wire, kw_only=True, frozen=True):
    """Answer to a release. A 200 can carry failed items: see ``failed_items``."""

    cart_id: str
    items: tuple[ReleasedItem, ...] = ()

    @property
    def failed_items(self) -> tuple[ReleasedItem, ...]:
        """The items Rokt did not release (``success`` false)."""
        return tuple(item for item in self.items if not item.success)

    @property
    def is_complete(self) -> bool:
        """True when every item was released."""
        return all(item.success for item in self.items)


# --- confirmation/cancel ----------------------------------------------------------


class CancelRequest(_Wire, kw_only=True, frozen=True):
    """Body of ``POST /v1/confirmation/cancel``: cancel one confirmed item."""

    item_reservation_id: str

    def __post_init__(self) -> None:
        if not self.item_reservation_id:
            raise RequestValidationError("CancelRequest.item_reservation_id is empty")


# --- placements/any ---------------------------------------------------------------


class PlacementsRequest(_Wire, kw_only=True, frozen=True):
    """Body of ``POST /v1/placements/any``: is any placement worth showing?"""

    cart_id: str
    page_identifier: str
    url: str | UnsetType = UNSET
    attributes: dict[str, str] | UnsetType = UNSET


class PlacementsResponse(_Wire, kw_only=True, frozen=True):
    """Answer to placements/any; the client returns ``result`` as a plain bool."""

    result: bool


# --- errors -----------------------------------------------------------------------


class ErrorDetail(_Wire, kw_only=True, frozen=True):
    """One entry of Rokt's ``errors`` list. ``value`` may echo customer data."""

    code: str = ""
    message: str = ""
    value: Any = None


class ErrorBody(_Wire, kw_only=True, frozen=True):
    """Rokt's error JSON: ``{"description": ..., "errors": [...]}``."""

    description: str = ""
    errors: tuple[ErrorDetail, ...] = ()
