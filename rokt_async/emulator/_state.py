"""The emulator's state machine: catalog, reservations, confirmations. No I/O.

Every operation takes the emulator's own request Struct (``_schema``, never the
client's) and ``now`` (seconds since the epoch, from the emulator's injectable
clock) and returns its own response Struct or raises ``RefusedError`` (answered as
422). Nothing here sleeps, reads a clock or touches a socket, so the rules can be
tested directly and fast. The per-item confirm and release rules live in
``_lines``.

Rules:

- **Catalog.** Items have stock, a unit price and a currency. Seeded items come
  from ``catalog``; any other ``cartItemId`` is created on first use with
  ``default_stock`` units at ``default_unit_price`` in ``currency``.
- **Stock is conserved.** For every item ``available + held + confirmed ==
  initial`` and no count goes negative.
- **Carts.** A cart exists once a reserve for it succeeded, or once a confirm for
  it carried a quantity-only item.
- **reserve** holds ``quantity`` units per item and returns a fresh
  ``itemReservationId``, ``unitPrice``, ``totalPrice`` (rounded to cents),
  ``currency`` and ``expirationDateTimeUtc = now + reservation_ttl``. It is
  all-or-nothing: if any item lacks stock (quantities of repeated items add up),
  nothing is held and the request is refused (422, code ``InsufficientStock``, one
  error per short item, ``value`` = the ``cartItemId``). Every reserve creates new
  reservations; earlier ones of the same cart stay until released or expired.
- **Expiry.** A reservation is live while ``now < expiration``. Expiry is
  evaluated lazily, at the start of every operation: expired holds go back on sale.
- **confirm**, per item:

  - with ``itemReservationId``: the live reservation of that cart and
    ``cartItemId`` becomes a confirmation (``itemConfirmationId``,
    ``itemConfirmationUrl``, the ``itemReservationId`` echoed). If ``quantity`` is
    given too it must equal the reserved quantity. Unknown, expired, released or
    cancelled reservations, and reservations of another cart or item, fail that
    item (``success: false``) while the other items go through.
  - quantity only: the units come straight from stock and the confirmation gets a
    new ``itemReservationId`` too, so it can be cancelled. Not enough stock fails
    the item.
  - a resend (the same ``(cartId, cartItemId, itemReservationId)``, or ``(cartId,
    orderId, cartItemId)`` for a quantity-only item, confirmed again, even after a
    cancel; a resend's quantity is not compared) is answered by the resend mode
    (Rokt documents no idempotency, so each answer it might give is a mode):

    - ``replay`` (default): the first confirmation, and nothing changes.
    - ``reject``: the item fails (``success: false``, ``errorCode:
      "AlreadyConfirmed"``, ``itemReservationId`` echoed where the item has one)
      and nothing changes.
    - ``duplicate``: no idempotency. A quantity-only item is confirmed again, a
      new purchase with new identifiers that takes stock again (the ledger lists
      it in ``duplicates``); a reservation-based resend fails as in ``reject``,
      since a reservation is confirmed at most once.

    Every mode recognises a resend by the same identifiers; only the answer
    differs. Resends answered without an effect count as replays. The mode can
    change at any time and applies to cart/confirm only. Other failed items carry
    no ``errorCode``.
  - a cart that never existed, confirmed with reservation-based items only, is
    refused (422, code ``UnknownCart``).
- **release**, per item: a live reservation of that cart and item goes back on
  sale. Releasing it again (a replay), or releasing an expired one, succeeds and
  changes nothing. A confirmed or cancelled item, an unknown reservation or one of
  another cart/item fails the item. A released reservation can no longer be
  confirmed. A cart that never existed is refused (422, code ``UnknownCart``).
- **cancel** turns a confirmed item (by ``itemReservationId``) into a cancelled
  one and puts its units back on sale; cancelling again changes nothing. Unknown
  reservations are refused (422, ``UnknownReservation``), reservations that were
  never confirmed too (422, ``NotConfirmed``).
- **placements/any** is true when any item has stock on sale; an item never seen
  counts as in stock when ``default_stock > 0``. The page, URL, attributes and
  locale are not considered; the emulator can force the answer.
- **Ledger.** Each effect is counted under its key (see ``_ledger``); answers from
  an earlier effect are counted as replays. Identifiers come from
  ``random.Random(seed)``, so a run is repeatable.
"""

from __future__ import annotations

import datetime
import heapq
import random
from typing import TYPE_CHECKING, Any

from ._inventory import (
    CANCELLED,
    CONFIRMED,
    EXPIRED,
    HELD,
    CatalogItem,
    Item,
    Reservation,
)
from ._ledger import StockLine, effect_key
from ._lines import DUPLICATE, REJECT, REPLAY, RESEND_MODES, LineRules
from ._schema import (
    ConfirmedItem,
    ConfirmResponse,
    ReleaseResponse,
    ReservedItem,
    ReserveResponse,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ._schema import (
        CancelRequest,
        ConfirmRequest,
        ReleaseRequest,
        ReserveRequest,
    )

__all__ = [
    "DUPLICATE",
    "REJECT",
    "REPLAY",
    "RESEND_MODES",
    "RefusedError",
    "State",
]


def _check_resend(mode: str) -> str:
    """``mode`` if it is one of ``RESEND_MODES``.

    Raises:
        ValueError: it is not.
    """
    if mode not in RESEND_MODES:
        raise ValueError(f"resend must be one of {RESEND_MODES}, got {mode!r}")
    return mode


class RefusedError(Exception):
    """A well-formed request the state cannot perform; the app answers 422.

    Attributes:
        errors: ``(code, message, value)`` per problem, as in Rokt's error body.
    """

    def __init__(self, errors: list[tuple[str, str, Any]]) -> None:
        super().__init__("; ".join(message for _, message, _ in errors))
        self.errors = errors


class State(LineRules):
    """All of the emulator's business state; see the module docstring for rules.

    Args:
        catalog: seeded items by ``cartItemId``.
        default_stock: stock of an item first seen in a request.
        default_unit_price: its unit price.
        currency: currency of items that do not name one.
        reservation_ttl: seconds a reservation lives.
        seed: seeds the identifiers.
        resend: how a resent confirm is answered, one of ``RESEND_MODES``.

    Raises:
        ValueError: ``resend`` is not a resend mode.
    """

    def __init__(
        self,
        *,
        catalog: Mapping[str, CatalogItem] | None = None,
        default_stock: int = 1_000_000,
        default_unit_price: float = 10.0,
        currency: str = "USD",
        reservation_ttl: float = 600.0,
        seed: int = 0,
        resend: str = REPLAY,
    ) -> None:
        self._resend = _check_resend(resend)
        self._default_stock = default_stock
        self._default_price = default_unit_price
        self._currency = currency
        self._ttl = reservation_ttl
        self._rng = random.Random(seed)
        self._items: dict[str, Item] = {}
        for item_id, spec in (catalog or {}).items():
            self._items[item_id] = Item(
                spec.stock,
                default_unit_price if spec.unit_price is None else spec.unit_price,
                spec.currency or currency,
            )
        self._reservations: dict[str, Reservation] = {}
        self._expiry: list[tuple[float, int, Reservation]] = []
        self._expiry_seq = 0
        self._carts: set[str] = set()
        self._by_reservation: dict[tuple[str, str, str], ConfirmedItem] = {}
        self._by_quantity: dict[tuple[str, str, str], ConfirmedItem] = {}
        self.effects: dict[str, int] = {}
        self.replays: dict[str, int] = {}

    @property
    def resend(self) -> str:
        """How a resent confirm is answered: ``replay``, ``reject`` or ``duplicate``.

        Raises:
            ValueError: on assignment, the value is not a resend mode.
        """
        return self._resend

    @resend.setter
    def resend(self, mode: str) -> None:
        self._resend = _check_resend(mode)

    # --- operations -------------------------------------------------------------

    def reserve(self, request: ReserveRequest, now: float) -> ReserveResponse:
        """Hold stock for every item, or nothing at all.

        Raises:
            RefusedError: an item lacks stock (``InsufficientStock``).
        """
        self.expire(now)
        wanted: dict[str, int] = {}
        for line in request.items:
            wanted[line.cart_item_id] = wanted.get(line.cart_item_id, 0) + line.quantity
        short = [
            (
                "InsufficientStock",
                f"{qty} requested, {item.available} available",
                item_id,
            )
            for item_id, qty in wanted.items()
            if (item := self._item(item_id)).available < qty
        ]
        if short:
            raise RefusedError(short)
        expires_at = now + self._ttl
        expiration = datetime.datetime.fromtimestamp(expires_at, tz=datetime.UTC)
        cart_id = request.cart_id
        self._carts.add(cart_id)
        reserved = []
        for line in request.items:
            item = self._items[line.cart_item_id]
            quantity = line.quantity
            item.available -= quantity
            item.held += quantity
            reservation = Reservation(
                self._new_id(), cart_id, line.cart_item_id, quantity, expires_at, HELD
            )
            self._reservations[reservation.id] = reservation
            self._expiry_seq += 1
            heapq.heappush(self._expiry, (expires_at, self._expiry_seq, reservation))
            reserved.append(
                ReservedItem(
                    cart_item_id=line.cart_item_id,
                    item_reservation_id=reservation.id,
                    quantity=quantity,
                    unit_price=item.unit_price,
                    total_price=round(item.unit_price * quantity, 2),
                    currency=item.currency,
                    expiration_date_time_utc=expiration,
                )
            )
        return ReserveResponse(cart_id=cart_id, items=tuple(reserved))

    def confirm(self, request: ConfirmRequest, now: float) -> ConfirmResponse:
        """Confirm each item; failures are reported per item.

        Raises:
            RefusedError: the cart never existed and every item names a reservation
                (``UnknownCart``).
        """
        self.expire(now)
        cart_id = request.cart_id
        has_quantity_only = False
        for line in request.items:
            if isinstance(line.item_reservation_id, str):
                continue
            has_quantity_only = True
        if cart_id not in self._carts:
            if not has_quantity_only:
                raise RefusedError([("UnknownCart", "no such cart", cart_id)])
            self._carts.add(cart_id)
        items = tuple(
            self._confirm_item(cart_id, request.order_id, line)
            for line in request.items
        )
        return ConfirmResponse(cart_id=cart_id, order_id=request.order_id, items=items)

    def release(self, request: ReleaseRequest, now: float) -> ReleaseResponse:
        """Release each item; failures are reported per item.

        Raises:
            RefusedError: the cart never existed (``UnknownCart``).
        """
        self.expire(now)
        cart_id = request.cart_id
        if cart_id not in self._carts:
            raise RefusedError([("UnknownCart", "no such cart", cart_id)])
        items = tuple(self._release_item(cart_id, line) for line in request.items)
        return ReleaseResponse(cart_id=cart_id, items=items)

    def cancel(self, request: CancelRequest, now: float) -> None:
        """Cancel one confirmed item and put its units back on sale.

        Raises:
            RefusedError: unknown reservation (``UnknownReservation``) or one that was
                never confirmed (``NotConfirmed``).
        """
        self.expire(now)
        rid = request.item_reservation_id
        reservation = self._reservations.get(rid)
        if reservation is None:
            raise RefusedError([("UnknownReservation", "no such reservation", rid)])
        key = effect_key("cancel", rid)
        if reservation.status == CANCELLED:
            self._count(self.replays, key)
            return
        if reservation.status != CONFIRMED:
            raise RefusedError(
                [("NotConfirmed", f"reservation is {reservation.status}", rid)]
            )
        item = self._items[reservation.cart_item_id]
        item.confirmed -= reservation.quantity
        item.available += reservation.quantity
        reservation.status = CANCELLED
        self._count(self.effects, key)

    def any_in_stock(self, now: float) -> bool:
        """True when any item has stock on sale (unseen items count as default)."""
        self.expire(now)
        if self._default_stock > 0:
            return True
        return any(item.available > 0 for item in self._items.values())

    # --- inspection -------------------------------------------------------------

    def expire(self, now: float) -> None:
        """Put the stock of every reservation that expired by ``now`` back on sale."""
        heap = self._expiry
        while heap and heap[0][0] <= now:
            reservation = heapq.heappop(heap)[2]
            if reservation.status == HELD:
                reservation.status = EXPIRED
                item = self._items[reservation.cart_item_id]
                item.held -= reservation.quantity
                item.available += reservation.quantity

    def stock(self, now: float) -> dict[str, StockLine]:
        """One ``StockLine`` per known item, after expiring what is due."""
        self.expire(now)
        return {
            item_id: StockLine(
                initial=item.initial,
                available=item.available,
                held=item.held,
                confirmed=item.confirmed,
            )
            for item_id, item in self._items.items()
        }

    def status(self, item_reservation_id: str, now: float) -> str | None:
        """A reservation's status (``held``, ``confirmed``...), None if unknown."""
        self.expire(now)
        reservation = self._reservations.get(item_reservation_id)
        return None if reservation is None else reservation.status
