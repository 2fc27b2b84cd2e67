"""The ledger: what took effect, stock per item and connection peaks, as one value.

A ``Ledger`` is a snapshot; reading it again after more requests gives a new one.
It is a msgspec Struct so ``GET /_emulator/ledger`` encodes it as it is.

Effect keys name one logical side effect:

- ``"confirm <cartId>/<cartItemId>"``: a cart line was bought. An identical resend
  (same identifiers) is a replay and changes nothing, unless the emulator's
  resend mode is ``duplicate`` and the item is quantity-only; a second purchase of
  the same cart line (under new identifiers, a new reservation or ``orderId``, or
  resent in ``duplicate`` mode) counts again and lands in ``duplicates``: that is
  a client buying twice.
- ``"release <itemReservationId>"``: held stock went back on sale.
- ``"cancel <itemReservationId>"``: a confirmed item was cancelled.

``replays`` counts, under the same keys, the requests answered from an earlier
effect without changing anything: resends answered with the first confirmation
(``replay`` mode) or failed as ``AlreadyConfirmed`` (``reject``, and reservations
in ``duplicate``).
"""

from __future__ import annotations

import msgspec

__all__ = ["Ledger", "StockLine", "effect_key"]


def effect_key(action: str, *identifiers: str) -> str:
    """The ledger key of one logical effect, e.g. ``"confirm cart-1/item-1"``."""
    return f"{action} {'/'.join(identifiers)}"


class StockLine(msgspec.Struct, frozen=True, kw_only=True):
    """Stock of one catalog item, split by where the units are.

    Attributes:
        initial: units the item started with.
        available: units on sale now.
        held: units held by live reservations.
        confirmed: units confirmed and not cancelled.
    """

    initial: int
    available: int
    held: int
    confirmed: int

    @property
    def is_conserved(self) -> bool:
        """True when no count is negative and they add up to ``initial``."""
        counts = (self.available, self.held, self.confirmed)
        return min(counts) >= 0 and sum(counts) == self.initial


class Ledger(msgspec.Struct, frozen=True, kw_only=True):
    """Side effects, stock and connection counts at one moment.

    Attributes:
        effects: times each logical effect took place, by effect key.
        replays: requests answered from an earlier effect, by effect key.
        duplicates: effect keys that took place more than once (sorted).
        stock: one ``StockLine`` per item that was ever touched or seeded.
        is_stock_conserved: every line is conserved
            (``available + held + confirmed == initial``, none negative).
        peak_connections: most client connections open at the same time.
        requests: API requests received (admin requests are not counted).
    """

    effects: dict[str, int]
    replays: dict[str, int]
    duplicates: tuple[str, ...]
    stock: dict[str, StockLine]
    is_stock_conserved: bool
    peak_connections: int
    requests: int

    @classmethod
    def build(
        cls,
        *,
        effects: dict[str, int],
        replays: dict[str, int],
        stock: dict[str, StockLine],
        peak_connections: int,
        requests: int,
    ) -> Ledger:
        """A ledger whose derived fields (duplicates, conservation) are computed."""
        return cls(
            effects=effects,
            replays=replays,
            duplicates=tuple(sorted(k for k, n in effects.items() if n > 1)),
            stock=stock,
            is_stock_conserved=all(line.is_conserved for line in stock.values()),
            peak_connections=peak_connections,
            requests=requests,
        )

    def count(self, action: str) -> int:
        """Total effects of one action: ``"confirm"``, ``"release"`` or ``"cancel"``."""
        prefix = action + " "
        return sum(n for key, n in self.effects.items() if key.startswith(prefix))

    def confirmations(self, cart_id: str, cart_item_id: str) -> int:
        """How many times one cart line was bought (more than 1 is a double buy)."""
        return self.effects.get(effect_key("confirm", cart_id, cart_item_id), 0)
