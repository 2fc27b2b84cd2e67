"""The Transactions API operations: path, response decoder and retry facts.

One table describes each operation, so the client's methods stay three lines each
and the retry layer reads what makes an operation safe to repeat from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from . import _codec

if TYPE_CHECKING:
    from collections.abc import Callable

    import msgspec

    from ._models import _Wire


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One API operation.

    Attributes:
        name: short name, also the key of ``RetryPolicy.deadlines``.
        path: path below ``base_url`` (lowercase, as Rokt's docs spell it).
        decoder: typed decoder of the 2xx body, or None when no body is documented.
        changes_state: the call acts on Rokt's side (everything but placements).
        repeatable: carries identifiers that make a resend after an ambiguous
            failure (504, reset, read timeout) the same operation, not a new one.
        identifiers: the request's identifying fields, for OutcomeUnknownError.
    """

    name: str
    path: str
    decoder: msgspec.json.Decoder[Any] | None
    changes_state: bool
    repeatable: bool
    identifiers: Callable[[_Wire], dict[str, str]]


def _fields(*names: str) -> Callable[[_Wire], dict[str, str]]:
    def pick(request: _Wire) -> dict[str, str]:
        return {name: str(getattr(request, name)) for name in names}

    return pick


def _item_fields(*names: str) -> Callable[[_Wire], dict[str, str]]:
    top = _fields(*names)

    def pick(request: _Wire) -> dict[str, str]:
        found = top(request)
        items = getattr(request, "items", ())
        found["cart_item_ids"] = ",".join(item.cart_item_id for item in items)
        reservations = [
            item.item_reservation_id
            for item in items
            if isinstance(getattr(item, "item_reservation_id", None), str)
        ]
        if reservations:
            found["item_reservation_ids"] = ",".join(reservations)
        return found

    return pick


RESERVE: Final = Endpoint(
    "reserve", "/v1/cart/reserve", _codec.RESERVE, True, False, _item_fields("cart_id")
)
CONFIRM: Final = Endpoint(
    "confirm",
    "/v1/cart/confirm",
    _codec.CONFIRM,
    True,
    True,
    _item_fields("cart_id", "order_id"),
)
RELEASE: Final = Endpoint(
    "release", "/v1/cart/release", _codec.RELEASE, True, True, _item_fields("cart_id")
)
CANCEL: Final = Endpoint(
    "cancel",
    "/v1/confirmation/cancel",
    None,
    True,
    True,
    _fields("item_reservation_id"),
)
PLACEMENTS: Final = Endpoint(
    "placements",
    "/v1/placements/any",
    _codec.PLACEMENTS,
    False,
    True,
    _fields("cart_id", "page_identifier"),
)
