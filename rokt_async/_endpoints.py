"""The API's operations: path, response decoder and retry facts.

One table describes each operation, so the client's methods stay three lines each
and the retry layer reads what makes an operation safe to repeat from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

from . import _codec
from ._event_models import EventsAnswer

if TYPE_CHECKING:
    from collections.abc import Callable

    import msgspec

    from ._config import RetryPolicy
    from ._event_models import TokenAnswer
    from ._models import (
        ConfirmResponse,
        PlacementsResponse,
        ReleaseResponse,
        ReserveResponse,
        _Request,
    )


T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class Endpoint(Generic[T]):
    """One API operation, whose 2xx answer decodes to ``T``.

    Attributes:
        name: short name, also the key of ``RetryPolicy.deadlines``.
        path: path below ``base_url`` (lowercase, as Rokt's docs spell it).
        decoder: typed decoder of the 2xx body, or None when no body is documented
            (then ``T`` is None). ``Endpoint[ReserveResponse]`` with another
            response's decoder is a type error.
        changes_state: the call acts on Rokt's side (everything but placements).
        unsafe_resend: why resending this request after an ambiguous failure (504,
            reset, read timeout) could act twice, or None when the request's
            identifiers make a resend the same operation. Asked only after an
            ambiguous failure, never on the happy path.
        identifiers: the request's identifying fields, for OutcomeUnknownError.
        empty: what an empty 2xx body means, or None when it is an error.
    """

    name: str
    path: str
    decoder: msgspec.json.Decoder[T] | None
    changes_state: bool
    unsafe_resend: Callable[[_Request, RetryPolicy], str | None]
    identifiers: Callable[[_Request], dict[str, str]]
    empty: T | None = None


def _fields(*names: str) -> Callable[[_Request], dict[str, str]]:
    def pick(request: _Request) -> dict[str, str]:
        return {name: str(getattr(request, name)) for name in names}

    return pick


def _item_fields(*names: str) -> Callable[[_Request], dict[str, str]]:
    top = _fields(*names)

    def pick(request: _Request) -> dict[str, str]:
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


def _always_safe(request: _Request, policy: RetryPolicy) -> str | None:
    """Release, cancel and placements: a reservation (or a read) acts at most once."""
    return None


def _reserve_resend(request: _Request, policy: RetryPolicy) -> str | None:
    if policy.retry_reserve_when_ambiguous:
        return None
    return (
        "not resent: a second reserve would hold stock again until it expires"
        " (RetryPolicy.retry_reserve_when_ambiguous allows it)"
    )


def _confirm_resend(request: _Request, policy: RetryPolicy) -> str | None:
    """Safe only when every item names its reservation: a reservation is confirmed
    at most once, while nothing Rokt documents recognises a resent quantity-only
    confirm, which could buy the items a second time."""
    if policy.retry_quantity_confirm_when_ambiguous:
        return None
    items = getattr(request, "items", ())
    if all(isinstance(item.item_reservation_id, str) for item in items):
        return None
    return (
        "not resent: an item without item_reservation_id could be bought twice"
        " (RetryPolicy.retry_quantity_confirm_when_ambiguous allows it)"
    )


RESERVE: Final[Endpoint[ReserveResponse]] = Endpoint(
    name="reserve",
    path="/v1/cart/reserve",
    decoder=_codec.RESERVE,
    changes_state=True,
    unsafe_resend=_reserve_resend,
    identifiers=_item_fields("cart_id"),
)
CONFIRM: Final[Endpoint[ConfirmResponse]] = Endpoint(
    name="confirm",
    path="/v1/cart/confirm",
    decoder=_codec.CONFIRM,
    changes_state=True,
    unsafe_resend=_confirm_resend,
    identifiers=_item_fields("cart_id", "order_id"),
)
RELEASE: Final[Endpoint[ReleaseResponse]] = Endpoint(
    name="release",
    path="/v1/cart/release",
    decoder=_codec.RELEASE,
    changes_state=True,
    unsafe_resend=_always_safe,
    identifiers=_item_fields("cart_id"),
)
CANCEL: Final[Endpoint[None]] = Endpoint(
    name="cancel",
    path="/v1/confirmation/cancel",
    decoder=None,
    changes_state=True,
    unsafe_resend=_always_safe,
    identifiers=_fields("item_reservation_id"),
)
PLACEMENTS: Final[Endpoint[PlacementsResponse]] = Endpoint(
    name="placements",
    path="/v1/placements/any",
    decoder=_codec.PLACEMENTS,
    changes_state=False,
    unsafe_resend=_always_safe,
    identifiers=_fields("cart_id", "page_identifier"),
)


def _no_identifiers(request: _Request) -> dict[str, str]:
    return {}


def _event_ids(request: _Request) -> dict[str, str]:
    events = getattr(request, "events", ())
    return {
        "account_id": str(getattr(request, "account_id", "")),
        "events": str(len(events)),
    }


#: Events are repeatable: ``/v1`` by the batch's Idempotency-Key (a repeat is a
#: 409), ``/v2`` by each ``clientEventId`` (at least once). An empty 2xx body is
#: an accepted batch.
def _events(path: str) -> Endpoint[EventsAnswer]:
    return Endpoint(
        name="events",
        path=path,
        decoder=_codec.EVENTS,
        changes_state=True,
        unsafe_resend=_always_safe,
        identifiers=_event_ids,
        empty=EventsAnswer(),
    )


EVENTS_V1: Final = _events("/v1/events")
EVENTS_V2: Final = _events("/v2/events")
#: A token request changes nothing: safe to repeat.
TOKEN: Final[Endpoint[TokenAnswer]] = Endpoint(
    name="token",
    path="/auth/oauth2/token",
    decoder=_codec.TOKEN,
    changes_state=False,
    unsafe_resend=_always_safe,
    identifiers=_no_identifiers,
)

#: Every operation the client has, by name: ``RetryPolicy.deadlines`` keys must
#: be among these (``_config.ENDPOINT_NAMES`` lists them; a test holds the two
#: together).
ALL: Final[tuple[Endpoint[Any], ...]] = (
    RESERVE,
    CONFIRM,
    RELEASE,
    CANCEL,
    PLACEMENTS,
    EVENTS_V1,
    EVENTS_V2,
    TOKEN,
)
#: The cart, confirmation and placements operations (those with an api_key).
CART: Final[tuple[Endpoint[Any], ...]] = ALL[:5]
