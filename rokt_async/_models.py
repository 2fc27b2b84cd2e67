"""msgspec Structs for every Transactions API request and response.

Attributes are snake_case in Python and camelCase on the wire. Requests are frozen
and validated when built (``__post_init__``), so a request that exists is one Rokt
can accept. Responses accept unknown fields and give every optional field a default.

No ``from __future__ import annotations`` here, unlike every other module: the
package re-labels these classes ``rokt_async.X`` (``__module__``), and msgspec
resolves string annotations in the module a class claims to live in. Evaluated
annotations need no such lookup.
"""

import datetime
from collections.abc import Sequence
from typing import Any, ClassVar, Final, Self

import msgspec
from msgspec import UNSET, UnsetType

from . import _checks
from ._errors import RequestValidationError, clip

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
    """camelCase wire names, defaults omitted, immutable and cycle-free.

    Two ways out: ``to_dict()`` with Python's snake_case names (to return from a
    FastAPI handler, say) and ``to_json()`` with Rokt's camelCase wire names (the
    exact bytes the client sends for a request).
    """

    def to_dict(self) -> dict[str, Any]:
        """The fields as JSON-ready builtins under their snake_case names; unset
        fields are left out, datetimes become RFC 3339 strings."""
        plain: dict[str, Any] = _builtins(self)  # type: ignore[assignment]
        return plain

    def to_json(self) -> bytes:
        """The JSON body in Rokt's wire format (camelCase names)."""
        return msgspec.json.encode(self)


class _Request(_Wire, frozen=True):
    """A request body: validated when built, and parsed back with ``from_json``."""

    _decoders: ClassVar[dict[type, msgspec.json.Decoder[Any]]] = {}

    @classmethod
    def from_json(cls, data: bytes | str) -> Self:
        """Parse a body saved with ``to_json()`` (Rokt's wire format), validated as
        if built in Python.

        Raises:
            RequestValidationError: not JSON, or not a valid request of this kind.
        """
        decoder = _Request._decoders.get(cls)
        if decoder is None:
            decoder = _Request._decoders[cls] = msgspec.json.Decoder(cls)
        try:
            result: Self = decoder.decode(data)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
            message = str(exc) if isinstance(exc, msgspec.DecodeError) else "not JSON"
            raise RequestValidationError(
                f"{cls.__name__}.from_json: {clip(message)}"
            ) from None
        return result


def _builtins(value: object) -> object:
    if isinstance(value, msgspec.Struct):
        return {
            field: _builtins(item)
            for field in value.__struct_fields__
            if (item := getattr(value, field)) is not UNSET
        }
    if isinstance(value, tuple | list):
        return [_builtins(item) for item in value]
    if isinstance(value, dict):
        return {key: _builtins(item) for key, item in value.items()}
    return msgspec.to_builtins(value)  # datetimes as RFC 3339 strings


# --- cart/reserve -----------------------------------------------------------------


class ReserveItem(_Wire, kw_only=True, frozen=True):
    """One cart item to hold: which item and how many."""

    cart_item_id: str
    quantity: int

    def __post_init__(self) -> None:
        _checks.text("ReserveItem", "cart_item_id", self.cart_item_id)
        _checks.count("ReserveItem", "quantity", self.quantity)


class ReserveRequest(_Request, kw_only=True, frozen=True):
    """Body of ``POST /v1/cart/reserve``: hold stock and lock prices until expiry.

    ``items`` takes any sequence and is stored as a tuple.
    """

    cart_id: str
    items: Sequence[ReserveItem]
    is_pay_pal_payment: bool | UnsetType = UNSET
    merchant_id: str | UnsetType = UNSET
    attributes: dict[str, str] | UnsetType = UNSET

    def __post_init__(self) -> None:
        _checks.text("ReserveRequest", "cart_id", self.cart_id)
        items = _checks.items("ReserveRequest", self.items, ReserveItem)
        msgspec.structs.force_setattr(self, "items", items)
        _checks.flag("ReserveRequest", "is_pay_pal_payment", self.is_pay_pal_payment)
        _checks.text("ReserveRequest", "merchant_id", self.merchant_id, optional=True)
        _checks.attributes("ReserveRequest", self.attributes)


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
        _checks.text("ConfirmItem", "cart_item_id", self.cart_item_id)
        if self.item_reservation_id is UNSET and self.quantity is UNSET:
            raise RequestValidationError(
                "ConfirmItem needs item_reservation_id or quantity"
            )
        _checks.text(
            "ConfirmItem",
            "item_reservation_id",
            self.item_reservation_id,
            optional=True,
        )
        _checks.count("ConfirmItem", "quantity", self.quantity, optional=True)


class ConfirmRequest(_Request, kw_only=True, frozen=True):
    """Body of ``POST /v1/cart/confirm``: the purchase went through, fulfil it.

    ``items`` takes any sequence and is stored as a tuple.
    """

    cart_id: str
    order_id: str
    items: Sequence[ConfirmItem]
    pay_pal_order_id: str | UnsetType = UNSET
    merchant_id: str | UnsetType = UNSET
    attributes: dict[str, str] | UnsetType = UNSET

    def __post_init__(self) -> None:
        _checks.text("ConfirmRequest", "cart_id", self.cart_id)
        _checks.text("ConfirmRequest", "order_id", self.order_id)
        items = _checks.items("ConfirmRequest", self.items, ConfirmItem)
        msgspec.structs.force_setattr(self, "items", items)
        _checks.text(
            "ConfirmRequest", "pay_pal_order_id", self.pay_pal_order_id, optional=True
        )
        _checks.text("ConfirmRequest", "merchant_id", self.merchant_id, optional=True)
        _checks.attributes("ConfirmRequest", self.attributes)


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

    def __post_init__(self) -> None:
        _checks.text("ReleaseItem", "cart_item_id", self.cart_item_id)
        _checks.text("ReleaseItem", "item_reservation_id", self.item_reservation_id)


class ReleaseRequest(_Request, kw_only=True, frozen=True):
    """Body of ``POST /v1/cart/release``: return reserved stock now.

    ``items`` takes any sequence and is stored as a tuple.
    """

    cart_id: str
    items: Sequence[ReleaseItem]
    attributes: dict[str, str] | UnsetType = UNSET

    def __post_init__(self) -> None:
        _checks.text("ReleaseRequest", "cart_id", self.cart_id)
        items = _checks.items("ReleaseRequest", self.items, ReleaseItem)
        msgspec.structs.force_setattr(self, "items", items)
        _checks.attributes("ReleaseRequest", self.attributes)


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


class CancelRequest(_Request, kw_only=True, frozen=True):
    """Body of ``POST /v1/confirmation/cancel``: cancel one confirmed item."""

    item_reservation_id: str

    def __post_init__(self) -> None:
        _checks.text("CancelRequest", "item_reservation_id", self.item_reservation_id)


# --- placements/any ---------------------------------------------------------------


class PlacementsRequest(_Request, kw_only=True, frozen=True):
    """Body of ``POST /v1/placements/any``: is any placement worth showing?"""

    cart_id: str
    page_identifier: str
    url: str | UnsetType = UNSET
    attributes: dict[str, str] | UnsetType = UNSET

    def __post_init__(self) -> None:
        _checks.text("PlacementsRequest", "cart_id", self.cart_id)
        _checks.text("PlacementsRequest", "page_identifier", self.page_identifier)
        _checks.text("PlacementsRequest", "url", self.url, optional=True)
        _checks.attributes("PlacementsRequest", self.attributes)


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
