"""Per-item rules of cart/confirm and cart/release, and the ids they hand out.

``LineRules`` is the part of ``State`` that decides one item at a time: confirm by
reservation or by quantity, the resend modes' answers, release. The rules are
described in ``_state``'s docstring; ``State`` owns the records these methods read
and change, and subclasses this class.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from ._inventory import CONFIRMED, EXPIRED, HELD, RELEASED, Item, Reservation
from ._ledger import effect_key
from ._schema import ALREADY_CONFIRMED, ConfirmedItem, ReleasedItem

if TYPE_CHECKING:
    import random

    from ._schema import ConfirmItem, ReleaseItem

__all__ = [
    "CONFIRMATION_URL",
    "DUPLICATE",
    "REJECT",
    "REPLAY",
    "RESEND_MODES",
    "LineRules",
]

#: Resend modes: how a resent cart/confirm is answered (see ``_state``).
REPLAY: Final = "replay"
REJECT: Final = "reject"
DUPLICATE: Final = "duplicate"
RESEND_MODES: Final = (REPLAY, REJECT, DUPLICATE)

#: Version 4 and RFC 4122 variant bits of a UUID, as ``uuid.UUID(version=4)`` sets.
_UUID4_CLEAR: Final = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET: Final = (0x4000 << 64) | (0x8000 << 48)
#: Confirmation URLs point at a reserved, never-resolving domain.
CONFIRMATION_URL: Final = "https://emulator.rokt.invalid/confirmations/"


class LineRules:
    """Confirm and release of single items, on the records ``State`` keeps."""

    _resend: str
    _default_stock: int
    _default_price: float
    _currency: str
    _rng: random.Random
    _items: dict[str, Item]
    _reservations: dict[str, Reservation]
    _by_reservation: dict[tuple[str, str, str], ConfirmedItem]
    _by_quantity: dict[tuple[str, str, str], ConfirmedItem]
    effects: dict[str, int]
    replays: dict[str, int]

    # --- confirm and release ----------------------------------------------------------

    def _confirm_item(
        self, cart_id: str, order_id: str, line: ConfirmItem
    ) -> ConfirmedItem:
        item_id = line.cart_item_id
        rid = line.item_reservation_id
        if not isinstance(rid, str):
            return self._confirm_quantity(cart_id, order_id, item_id, line.quantity)
        known = self._by_reservation.get((cart_id, item_id, rid))
        if known is not None:
            if self._resend != REPLAY:  # a reservation is confirmed at most once
                return self._already_confirmed(cart_id, item_id, rid)
            self._count(self.replays, effect_key("confirm", cart_id, item_id))
            return known
        reservation = self._reservations.get(rid)
        if (
            reservation is None
            or reservation.status != HELD
            or reservation.cart_id != cart_id
            or reservation.cart_item_id != item_id
            or (
                isinstance(line.quantity, int) and line.quantity != reservation.quantity
            )
        ):
            return ConfirmedItem(
                cart_item_id=item_id, success=False, item_reservation_id=rid
            )
        item = self._items[item_id]
        item.held -= reservation.quantity
        item.confirmed += reservation.quantity
        reservation.status = CONFIRMED
        confirmed = self._confirmation(item_id, rid)
        self._by_reservation[(cart_id, item_id, rid)] = confirmed
        self._count(self.effects, effect_key("confirm", cart_id, item_id))
        return confirmed

    def _confirm_quantity(
        self, cart_id: str, order_id: str, item_id: str, quantity: object
    ) -> ConfirmedItem:
        key = (cart_id, order_id, item_id)
        known = self._by_quantity.get(key)
        if known is not None and self._resend != DUPLICATE:
            if self._resend == REJECT:
                return self._already_confirmed(cart_id, item_id, None)
            self._count(self.replays, effect_key("confirm", cart_id, item_id))
            return known
        item = self._item(item_id)
        if not isinstance(quantity, int) or item.available < quantity:
            return ConfirmedItem(cart_item_id=item_id, success=False)
        item.available -= quantity
        item.confirmed += quantity
        reservation = Reservation(
            self._new_id(), cart_id, item_id, quantity, float("inf"), CONFIRMED
        )
        self._reservations[reservation.id] = reservation
        confirmed = self._confirmation(item_id, reservation.id)
        self._by_quantity.setdefault(key, confirmed)  # a replay answers the first
        self._count(self.effects, effect_key("confirm", cart_id, item_id))
        return confirmed

    def _already_confirmed(
        self, cart_id: str, item_id: str, rid: str | None
    ) -> ConfirmedItem:
        """A resend refused: the item failed as already confirmed, nothing changed."""
        self._count(self.replays, effect_key("confirm", cart_id, item_id))
        return ConfirmedItem(
            cart_item_id=item_id,
            success=False,
            item_reservation_id=rid,
            error_code=ALREADY_CONFIRMED,
        )

    def _release_item(self, cart_id: str, line: ReleaseItem) -> ReleasedItem:
        rid = line.item_reservation_id
        reservation = self._reservations.get(rid)
        ok = (
            reservation is not None
            and reservation.cart_id == cart_id
            and reservation.cart_item_id == line.cart_item_id
            and reservation.status in (HELD, RELEASED, EXPIRED)
        )
        if reservation is not None and ok:
            key = effect_key("release", rid)
            if reservation.status == HELD:
                item = self._items[reservation.cart_item_id]
                item.held -= reservation.quantity
                item.available += reservation.quantity
                reservation.status = RELEASED
                self._count(self.effects, key)
            elif reservation.status == RELEASED:
                self._count(self.replays, key)
        return ReleasedItem(
            cart_item_id=line.cart_item_id, success=ok, item_reservation_id=rid
        )

    # --- helpers ----------------------------------------------------------------

    def _item(self, item_id: str) -> Item:
        item = self._items.get(item_id)
        if item is None:
            item = Item(self._default_stock, self._default_price, self._currency)
            self._items[item_id] = item
        return item

    def _new_id(self) -> str:
        """A UUID4-shaped id from the seeded generator (uuid.UUID, only faster)."""
        bits = self._rng.getrandbits(128) & _UUID4_CLEAR | _UUID4_SET
        h = f"{bits:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def _confirmation(self, item_id: str, rid: str) -> ConfirmedItem:
        confirmation_id = self._new_id()
        return ConfirmedItem(
            cart_item_id=item_id,
            success=True,
            item_reservation_id=rid,
            item_confirmation_id=confirmation_id,
            item_confirmation_url=CONFIRMATION_URL + confirmation_id,
        )

    @staticmethod
    def _count(counter: dict[str, int], key: str) -> None:
        counter[key] = counter.get(key, 0) + 1
