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

The Event API is counted apart (``event_*``, ``events_*``, ``token_*``): an event
is *applied* when a 200 took it (not returned as an unprocessed record), even if
a fault then lost the answer; ``event_counts`` says how many times per
``clientEventId``, and ``event_duplicates`` lists those applied more than once
(a v2 resend applies again; a v1 resend under the same ``Idempotency-Key`` gets
409 and does not).
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

__all__ = ["EventTally", "Ledger", "StockLine", "effect_key"]


def effect_key(action: str, *identifiers: str) -> str:
    """The ledger key of one logical effect, e.g. ``"confirm cart-1/item-1"``."""
    return f"{action} {'/'.join(identifiers)}"


@dataclass(frozen=True, slots=True)
class EventTally:
    """The Event API's counts, as ``_events`` keeps them; see ``Ledger``."""

    event_counts: dict[str, int]
    events_unprocessed: int
    event_batches: int
    idempotency_conflicts: int
    token_requests: int
    tokens_issued: int


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
        event_counts: times each ``clientEventId`` was applied.
        event_duplicates: ``clientEventId`` values applied more than once (sorted).
        events_applied: events applied, resends included (the sum of
            ``event_counts``).
        events_unprocessed: events answered as unprocessed records (not applied).
        event_batches: events requests answered 200 (or applied, then the answer
            lost to a fault).
        idempotency_conflicts: v1 events requests answered 409 (key already used).
        token_requests: requests to the token endpoint, faulted ones included.
        tokens_issued: tokens the token endpoint issued.
    """

    effects: dict[str, int]
    replays: dict[str, int]
    duplicates: tuple[str, ...]
    stock: dict[str, StockLine]
    is_stock_conserved: bool
    peak_connections: int
    requests: int
    event_counts: dict[str, int] = msgspec.field(default_factory=dict)
    event_duplicates: tuple[str, ...] = ()
    events_applied: int = 0
    events_unprocessed: int = 0
    event_batches: int = 0
    idempotency_conflicts: int = 0
    token_requests: int = 0
    tokens_issued: int = 0

    @classmethod
    def build(
        cls,
        *,
        effects: dict[str, int],
        replays: dict[str, int],
        stock: dict[str, StockLine],
        peak_connections: int,
        requests: int,
        events: EventTally | None = None,
    ) -> Ledger:
        """A ledger whose derived fields (duplicates, conservation, events
        applied) are computed; no ``events`` means no Event API traffic."""
        tally = events or EventTally({}, 0, 0, 0, 0, 0)
        counts = tally.event_counts
        return cls(
            effects=effects,
            replays=replays,
            duplicates=tuple(sorted(k for k, n in effects.items() if n > 1)),
            stock=stock,
            is_stock_conserved=all(line.is_conserved for line in stock.values()),
            peak_connections=peak_connections,
            requests=requests,
            event_counts=counts,
            event_duplicates=tuple(sorted(k for k, n in counts.items() if n > 1)),
            events_applied=sum(counts.values()),
            events_unprocessed=tally.events_unprocessed,
            event_batches=tally.event_batches,
            idempotency_conflicts=tally.idempotency_conflicts,
            token_requests=tally.token_requests,
            tokens_issued=tally.tokens_issued,
        )

    def count(self, action: str) -> int:
        """Total effects of one action: ``"confirm"``, ``"release"`` or ``"cancel"``."""
        prefix = action + " "
        return sum(n for key, n in self.effects.items() if key.startswith(prefix))

    def confirmations(self, cart_id: str, cart_item_id: str) -> int:
        """How many times one cart line was bought (more than 1 is a double buy)."""
        return self.effects.get(effect_key("confirm", cart_id, cart_item_id), 0)

    def event_count(self, client_event_id: str) -> int:
        """How many times one event was applied (more than 1 is a duplicate)."""
        return self.event_counts.get(client_event_id, 0)
