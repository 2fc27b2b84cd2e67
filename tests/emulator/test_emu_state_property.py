"""Property: any interleaving of operations and expiry keeps stock conserved."""

from __future__ import annotations

from collections import defaultdict
from typing import TypeAlias

from hypothesis import given, settings
from hypothesis import strategies as st

from rokt_async.emulator import CatalogItem
from rokt_async.emulator._inventory import CONFIRMED, HELD
from rokt_async.emulator._schema import ConfirmItem, ConfirmRequest
from rokt_async.emulator._state import RefusedError, State
from tests.emulator._emu import (
    cancel_request,
    confirm_quantity,
    release_request,
    reserve_request,
)
from tests.emulator._helpers import T0, TTL

INITIAL = {"a": 5, "b": 3}
CARTS = ("cart-1", "cart-2", "cart-3")

Op: TypeAlias = tuple[str, int, int, int]
#: What the test knows of a reservation: cart, item, quantity.
Known: TypeAlias = tuple[str, str, int]

ops = st.lists(
    st.tuples(
        st.sampled_from(
            ["reserve", "confirm", "confirm_qty", "release", "cancel", "advance"]
        ),
        st.integers(0, 40),  # picks a cart, an item or a known reservation
        st.integers(1, 4),  # a quantity
        st.integers(0, 2),  # an order or a time step
    ),
    max_size=40,
)


def apply(state: State, op: Op, now: float, known: dict[str, Known]) -> float:
    """Run one operation; returns the new time. Learns new reservations."""
    action, pick, quantity, extra = op
    cart = CARTS[pick % len(CARTS)]
    item = "ab"[pick % 2]
    if action == "advance":
        return now + (0.0, TTL / 2, TTL)[extra]
    try:
        if action == "reserve":
            for reserved in state.reserve(
                reserve_request(cart, **{item: quantity}), now
            ).items:
                known[reserved.item_reservation_id] = (cart, item, quantity)
        elif action == "confirm_qty":
            request = confirm_quantity(cart, f"order-{extra}", **{item: quantity})
            for confirmed in state.confirm(request, now).items:
                if confirmed.item_reservation_id is not None:
                    known.setdefault(
                        confirmed.item_reservation_id, (cart, item, quantity)
                    )
        elif known:
            rid = list(known)[pick % len(known)]
            r_cart, r_item, _ = known[rid]
            if action == "confirm":
                line = ConfirmItem(cart_item_id=r_item, item_reservation_id=rid)
                state.confirm(
                    ConfirmRequest(cart_id=r_cart, order_id="o", items=(line,)), now
                )
            elif action == "release":
                state.release(release_request(r_cart, (r_item, rid)), now)
            else:
                state.cancel(cancel_request(rid), now)
    except RefusedError:
        pass
    return now


@settings(max_examples=150, deadline=None, database=None)
@given(ops)
def test_stock_is_conserved_when_operations_interleave(sequence: list[Op]) -> None:
    """Stock never goes negative and available + held + confirmed stays initial."""
    state = State(
        catalog={name: CatalogItem(stock=stock) for name, stock in INITIAL.items()},
        default_stock=0,
        reservation_ttl=TTL,
    )
    known: dict[str, Known] = {}
    now = T0
    for op in sequence:
        now = apply(state, op, now, known)
        stock = state.stock(now)
        for name, initial in INITIAL.items():
            line = stock[name]
            assert min(line.available, line.held, line.confirmed) >= 0
            assert line.available + line.held + line.confirmed == initial
        by_status: dict[tuple[str, str], int] = defaultdict(int)
        for rid, (_, item, quantity) in known.items():
            by_status[item, state.status(rid, now) or ""] += quantity
        for name in INITIAL:
            assert stock[name].held == by_status[name, HELD]
            assert stock[name].confirmed == by_status[name, CONFIRMED]
