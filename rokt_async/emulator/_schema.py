"""The emulator's own wire schema: every request and response body, from Rokt's docs.

Written from ``rokt-api.md`` (the API contract) and the docs' samples, not from the
client: nothing here comes from ``rokt_async`` outside the emulator, so a wire name
the client gets wrong is refused here instead of mirrored. Every wire name is
spelt out in a ``rename`` mapping (no automatic camelCase); Python attributes are
snake_case.

Requests are strict: unknown fields are refused at every level
(``forbid_unknown_fields``), ids must be non-empty strings, quantities integers of
at least 1, ``items`` holds at least one item, and a confirm item needs
``itemReservationId`` or ``quantity`` (its ``__post_init__`` raises, which msgspec
turns into a ``ValidationError``). The decoders in ``_wire`` use ``strict=False``,
so numeric strings are read as numbers (``"quantity": "15"``, as one of Rokt's
samples sends). Optional fields are ``UNSET`` when absent; ``null`` is refused.

Responses omit fields left at their default: only ``errorCode`` (and, on a failed
item, the confirmation id and URL) is ever left out.
"""

from __future__ import annotations

import datetime
from typing import Annotated, Final

import msgspec
from msgspec import UNSET, UnsetType

__all__ = [
    "ALREADY_CONFIRMED",
    "CancelRequest",
    "ConfirmItem",
    "ConfirmRequest",
    "ConfirmResponse",
    "ConfirmedItem",
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

#: A non-empty string: an empty id names nothing, so it is refused.
Id = Annotated[str, msgspec.Meta(min_length=1)]
#: A count of units: an integer of at least 1 (a bool is not one).
Quantity = Annotated[int, msgspec.Meta(ge=1)]
Attributes = dict[str, str]

#: ``errorCode`` of a confirm item refused because it was confirmed before (the
#: ``reject`` and ``duplicate`` resend modes); not in Rokt's published schema.
ALREADY_CONFIRMED: Final = "AlreadyConfirmed"


class _In(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """A request body (or part of one): unknown fields refused, immutable."""


class _Out(msgspec.Struct, omit_defaults=True, frozen=True, kw_only=True):
    """A response body (or part of one): fields at their default left out."""


# --- cart/reserve -------------------------------------------------------------------


class ReserveItem(
    _In,
    frozen=True,
    kw_only=True,
    rename={"cart_item_id": "cartItemId", "quantity": "quantity"},
):
    """``{cartItemId, quantity}``: one item to hold."""

    cart_item_id: Id
    quantity: Quantity


class ReserveRequest(
    _In,
    frozen=True,
    kw_only=True,
    rename={
        "cart_id": "cartId",
        "items": "items",
        "is_pay_pal_payment": "isPayPalPayment",
        "merchant_id": "merchantId",
        "attributes": "attributes",
    },
):
    """Body of ``POST /v1/cart/reserve``."""

    cart_id: Id
    items: Annotated[tuple[ReserveItem, ...], msgspec.Meta(min_length=1)]
    is_pay_pal_payment: bool | UnsetType = UNSET
    merchant_id: Id | UnsetType = UNSET
    attributes: Attributes | UnsetType = UNSET


class ReservedItem(
    _Out,
    frozen=True,
    kw_only=True,
    rename={
        "cart_item_id": "cartItemId",
        "item_reservation_id": "itemReservationId",
        "quantity": "quantity",
        "unit_price": "unitPrice",
        "total_price": "totalPrice",
        "currency": "currency",
        "expiration_date_time_utc": "expirationDateTimeUtc",
    },
):
    """One held item; the expiry is an ISO-8601 UTC datetime (``...Z``)."""

    cart_item_id: str
    item_reservation_id: str
    quantity: int
    unit_price: float
    total_price: float
    currency: str
    expiration_date_time_utc: datetime.datetime


class ReserveResponse(
    _Out, frozen=True, kw_only=True, rename={"cart_id": "cartId", "items": "items"}
):
    """Answer to a reserve: one ``ReservedItem`` per requested item."""

    cart_id: str
    items: tuple[ReservedItem, ...]


# --- cart/confirm -------------------------------------------------------------------


class ConfirmItem(
    _In,
    frozen=True,
    kw_only=True,
    rename={
        "cart_item_id": "cartItemId",
        "item_reservation_id": "itemReservationId",
        "quantity": "quantity",
    },
):
    """``{cartItemId, itemReservationId?, quantity?}``: at least one of the two."""

    cart_item_id: Id
    item_reservation_id: Id | UnsetType = UNSET
    quantity: Quantity | UnsetType = UNSET

    def __post_init__(self) -> None:
        if self.item_reservation_id is UNSET and self.quantity is UNSET:
            raise ValueError("a confirm item needs itemReservationId or quantity")


class ConfirmRequest(
    _In,
    frozen=True,
    kw_only=True,
    rename={
        "cart_id": "cartId",
        "order_id": "orderId",
        "items": "items",
        "pay_pal_order_id": "payPalOrderId",
        "merchant_id": "merchantId",
        "attributes": "attributes",
    },
):
    """Body of ``POST /v1/cart/confirm``."""

    cart_id: Id
    order_id: Id
    items: Annotated[tuple[ConfirmItem, ...], msgspec.Meta(min_length=1)]
    pay_pal_order_id: Id | UnsetType = UNSET
    merchant_id: Id | UnsetType = UNSET
    attributes: Attributes | UnsetType = UNSET


class ConfirmedItem(
    _Out,
    frozen=True,
    kw_only=True,
    rename={
        "cart_item_id": "cartItemId",
        "item_reservation_id": "itemReservationId",
        "item_confirmation_id": "itemConfirmationId",
        "item_confirmation_url": "itemConfirmationUrl",
        "success": "success",
        "error_code": "errorCode",
    },
):
    """Per-item outcome of a confirm; a failed item has no confirmation id or URL,
    and a failed quantity-only item no reservation id either."""

    cart_item_id: str
    item_reservation_id: str | None = None
    item_confirmation_id: str | None = None
    item_confirmation_url: str | None = None
    success: bool
    error_code: str | None = None


class ConfirmResponse(
    _Out,
    frozen=True,
    kw_only=True,
    rename={"cart_id": "cartId", "order_id": "orderId", "items": "items"},
):
    """Answer to a confirm: success is per item, so a 200 can carry failures."""

    cart_id: str
    order_id: str
    items: tuple[ConfirmedItem, ...]


# --- cart/release -------------------------------------------------------------------


class ReleaseItem(
    _In,
    frozen=True,
    kw_only=True,
    rename={"cart_item_id": "cartItemId", "item_reservation_id": "itemReservationId"},
):
    """``{cartItemId, itemReservationId}``: one reservation to give back."""

    cart_item_id: Id
    item_reservation_id: Id


class ReleaseRequest(
    _In,
    frozen=True,
    kw_only=True,
    rename={"cart_id": "cartId", "items": "items", "attributes": "attributes"},
):
    """Body of ``POST /v1/cart/release``."""

    cart_id: Id
    items: Annotated[tuple[ReleaseItem, ...], msgspec.Meta(min_length=1)]
    attributes: Attributes | UnsetType = UNSET


class ReleasedItem(
    _Out,
    frozen=True,
    kw_only=True,
    rename={
        "cart_item_id": "cartItemId",
        "item_reservation_id": "itemReservationId",
        "success": "success",
    },
):
    """Per-item outcome of a release."""

    cart_item_id: str
    item_reservation_id: str
    success: bool


class ReleaseResponse(
    _Out, frozen=True, kw_only=True, rename={"cart_id": "cartId", "items": "items"}
):
    """Answer to a release: success is per item."""

    cart_id: str
    items: tuple[ReleasedItem, ...]


# --- confirmation/cancel, placements/any --------------------------------------------


class CancelRequest(
    _In, frozen=True, kw_only=True, rename={"item_reservation_id": "itemReservationId"}
):
    """Body of ``POST /v1/confirmation/cancel``; answered ``{}``."""

    item_reservation_id: Id


class PlacementsRequest(
    _In,
    frozen=True,
    kw_only=True,
    rename={
        "cart_id": "cartId",
        "page_identifier": "pageIdentifier",
        "url": "url",
        "attributes": "attributes",
    },
):
    """Body of ``POST /v1/placements/any``."""

    cart_id: Id
    page_identifier: Id
    url: Id | UnsetType = UNSET
    attributes: Attributes | UnsetType = UNSET


class PlacementsResponse(_Out, frozen=True, kw_only=True, rename={"result": "result"}):
    """``{"result": bool}``."""

    result: bool
