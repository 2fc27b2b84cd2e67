"""One checkout, as a partner's backend runs it; the bench's load script.

``placements/any`` (false or failed means "no upsell" and the flow ends), then
``cart/reserve`` of one to three items, then either ``cart/confirm`` of every
reservation (the paid cart) or ``cart/release`` of them (the abandoned cart). A
confirm or release whose outcome is unknown after the client's retries is sent
once more, byte for byte, as the client's docs advise, to reconcile. An order
with any item confirmed is then reported as a conversion (``confirmed``, which
queues an event on the background sender without waiting on Rokt).
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar

from .. import (
    ConfirmItem,
    ConfirmRequest,
    OutcomeUnknownError,
    PlacementsRequest,
    ReleaseItem,
    ReleaseRequest,
    ReserveItem,
    ReserveRequest,
    RoktClient,
    RoktError,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Coroutine, Sequence

    from .. import ConfirmedItem, ReleasedItem, ReservedItem
    from ._stats import FlowCounts, LedgerTally

__all__ = ["CATALOG", "Checkout"]

T = TypeVar("T")

#: Upsell items a cart picks from (the emulator creates each on first use).
CATALOG: Final = (
    "parking",
    "ticket-insurance",
    "lounge-access",
    "fast-track",
    "merch-tshirt",
    "meal-voucher",
    "seat-upgrade",
    "shuttle-bus",
    "program-book",
    "photo-pass",
    "locker",
    "poncho",
)
_ITEM_COUNTS: Final = (1, 1, 1, 2, 2, 3)  # items per cart, picked uniformly
_QUANTITIES: Final = (1, 1, 1, 2)
_PAGE: Final = "checkout.upsell"


class Timed(Protocol):
    """Awaits one client call, timing it and counting its result or error."""

    def __call__(self, endpoint: str, pending: Awaitable[T], /) -> Awaitable[T]: ...


class _Settled(Protocol):
    @property
    def items(self) -> Sequence[ConfirmedItem] | Sequence[ReleasedItem]: ...

    @property
    def is_complete(self) -> bool: ...


class Checkout:
    """The checkout script over one client: its choices come from a seeded RNG."""

    __slots__ = ("client", "confirmed", "flows", "rng", "tally", "timed")

    def __init__(
        self,
        client: RoktClient,
        seed: str,
        timed: Timed,
        tally: LedgerTally,
        flows: Callable[[], FlowCounts],
        confirmed: Callable[[str, str], None] | None = None,
    ) -> None:
        self.client = client
        # Seeded for repeatable load choices; nothing here is a secret.
        self.rng = random.Random(seed)  # noqa: S311
        self.timed = timed
        self.tally = tally
        self.flows = flows  # the current phase's counts (reconciliations)
        self.confirmed = confirmed  # (order id, email) of a confirmed order

    async def run(self, flow_id: str, releasing: bool) -> str:
        """placements/any → reserve → confirm or release; returns the outcome."""
        rng = self.rng
        client = self.client
        cart_id = f"cart-{flow_id}"
        picked = rng.sample(CATALOG, rng.choice(_ITEM_COUNTS))
        try:
            show = await self.timed(
                "placements",
                client.any_placements(
                    PlacementsRequest(cart_id=cart_id, page_identifier=_PAGE),
                    session_id=flow_id,
                ),
            )
        except RoktError:
            show = False  # a failed placements check means "no upsell", not an error
        if not show:
            return "no_upsell"
        reserve = ReserveRequest(
            cart_id=cart_id,
            items=tuple(
                ReserveItem(cart_item_id=item, quantity=rng.choice(_QUANTITIES))
                for item in picked
            ),
        )
        try:
            reserved = await self.timed(
                "reserve", client.reserve_cart(reserve, session_id=flow_id)
            )
        except RoktError:
            return "failed_reserve"
        if releasing:
            return await self._release(cart_id, flow_id, reserved.items)
        return await self._confirm(cart_id, flow_id, reserved.items)

    async def _confirm(
        self, cart_id: str, flow_id: str, items: tuple[ReservedItem, ...]
    ) -> str:
        request = ConfirmRequest(
            cart_id=cart_id,
            order_id=f"order-{flow_id}",
            items=tuple(
                ConfirmItem(
                    cart_item_id=item.cart_item_id,
                    item_reservation_id=item.item_reservation_id,
                )
                for item in items
            ),
        )
        self.tally.confirm_items_sent += len(request.items)
        response = await self._settle(
            "confirm", lambda: self.client.confirm_cart(request, session_id=flow_id)
        )
        if response is not None:
            acked = sum(
                item.success or item.is_already_confirmed for item in response.items
            )
            self.tally.confirm_items_acked += acked
            if acked and self.confirmed is not None:
                self.confirmed(request.order_id, f"{flow_id}@example.com")
        return _outcome("confirmed", "confirm", response)

    async def _release(
        self, cart_id: str, flow_id: str, items: tuple[ReservedItem, ...]
    ) -> str:
        request = ReleaseRequest(
            cart_id=cart_id,
            items=tuple(
                ReleaseItem(
                    cart_item_id=item.cart_item_id,
                    item_reservation_id=item.item_reservation_id,
                )
                for item in items
            ),
        )
        self.tally.release_items_sent += len(request.items)
        response = await self._settle(
            "release", lambda: self.client.release_cart(request, session_id=flow_id)
        )
        if response is not None:
            self.tally.release_items_acked += sum(
                item.success for item in response.items
            )
        return _outcome("released", "release", response)

    async def _settle(
        self, endpoint: str, send: Callable[[], Coroutine[Any, Any, T]]
    ) -> T | None:
        """Send; after ``OutcomeUnknownError`` send the same request once more."""
        try:
            return await self.timed(endpoint, send())
        except OutcomeUnknownError:
            pass
        except RoktError:
            return None
        try:
            response = await self.timed(endpoint, send())
        except RoktError:
            return None
        self.flows().reconciled += 1
        return response


def _outcome(done: str, endpoint: str, response: _Settled | None) -> str:
    """``done`` when every item went through, else ``partial`` or ``failed_*``."""
    if response is None:
        return f"failed_{endpoint}"
    return done if response.items and response.is_complete else "partial"
