"""The pure state machine: every reserve/confirm/release/cancel rule, no sockets."""

from __future__ import annotations

import datetime

import pytest

from rokt_async.emulator import CatalogItem, Ledger, StockLine
from rokt_async.emulator._inventory import (
    CANCELLED,
    CONFIRMED,
    EXPIRED,
    HELD,
    RELEASED,
)
from rokt_async.emulator._ledger import effect_key
from rokt_async.emulator._schema import (
    ConfirmItem,
    ConfirmRequest,
    ReserveItem,
    ReserveRequest,
)
from rokt_async.emulator._state import RefusedError, State
from tests.emulator._emu import (
    all_succeeded,
    cancel_request,
    confirm_quantity,
    confirm_reserved,
    release_request,
    reserve_request,
)
from tests.emulator._helpers import T0, TTL


def new_state(**options: object) -> State:
    """A state with a scarce seeded item and the test TTL."""
    settings: dict[str, object] = {
        "catalog": {"scarce": CatalogItem(stock=3, unit_price=2.5, currency="EUR")},
        "reservation_ttl": TTL,
    }
    settings.update(options)
    return State(**settings)  # type: ignore[arg-type]


def reserve_one(state: State, cart: str = "cart-1", item: str = "scarce") -> str:
    """Reserve one unit and return its reservation id."""
    response = state.reserve(reserve_request(cart, **{item: 1}), T0)
    return response.items[0].item_reservation_id


def line(state: State, item: str = "scarce", now: float = T0) -> StockLine:
    """The stock line of one item."""
    return state.stock(now)[item]


# --- reserve ------------------------------------------------------------------------


def test_reserve_holds_stock_and_locks_price_when_in_stock() -> None:
    """A reserve holds the units and answers price, currency and expiry."""
    state = new_state()
    response = state.reserve(reserve_request("cart-1", scarce=2), T0)
    (item,) = response.items
    assert (response.cart_id, item.cart_item_id, item.quantity) == (
        "cart-1",
        "scarce",
        2,
    )
    assert (item.unit_price, item.total_price, item.currency) == (2.5, 5.0, "EUR")
    assert item.expiration_date_time_utc == datetime.datetime.fromtimestamp(
        T0 + TTL, tz=datetime.UTC
    )
    assert line(state) == StockLine(initial=3, available=1, held=2, confirmed=0)


def test_reserve_uses_defaults_when_item_is_not_in_catalog() -> None:
    """An unknown cartItemId gets the default stock, unit price and currency."""
    state = new_state(default_stock=9, default_unit_price=1.25, currency="AUD")
    (item,) = state.reserve(reserve_request("cart-1", mystery=2), T0).items
    assert (item.unit_price, item.total_price, item.currency) == (1.25, 2.5, "AUD")
    assert line(state, "mystery") == StockLine(
        initial=9, available=7, held=2, confirmed=0
    )


def test_reserve_refuses_whole_request_when_one_item_is_short() -> None:
    """No unit is held when any item lacks stock, and the short item is named."""
    state = new_state()
    with pytest.raises(RefusedError) as refused:
        state.reserve(reserve_request("cart-1", parking=1, scarce=4), T0)
    assert [(code, value) for code, _, value in refused.value.errors] == [
        ("InsufficientStock", "scarce")
    ]
    assert line(state, "parking").held == 0
    assert line(state).held == 0


def test_reserve_adds_repeated_items_when_checking_stock() -> None:
    """Two lines of the same item are checked against stock together."""
    state = new_state()
    line_item = ReserveItem(cart_item_id="scarce", quantity=2)
    doubled = ReserveRequest(cart_id="cart-1", items=(line_item, line_item))
    with pytest.raises(RefusedError):
        state.reserve(doubled, T0)
    assert line(state).available == 3


def test_reserve_gives_new_reservations_when_repeated() -> None:
    """Reserve is not idempotent: each call holds more stock under new ids."""
    state = new_state()
    first = reserve_one(state)
    second = reserve_one(state)
    assert first != second
    assert line(state).held == 2


# --- expiry -------------------------------------------------------------------------


def test_reservation_expires_when_ttl_has_passed() -> None:
    """At the expiration instant the hold ends and its stock is back on sale."""
    state = new_state()
    rid = reserve_one(state)
    assert state.status(rid, T0 + TTL - 0.001) == HELD
    assert state.status(rid, T0 + TTL) == EXPIRED
    assert line(state, now=T0 + TTL) == StockLine(
        initial=3, available=3, held=0, confirmed=0
    )


def test_expired_stock_is_reservable_again_when_time_has_passed() -> None:
    """Stock held by an expired reservation can be reserved by another cart."""
    state = new_state()
    state.reserve(reserve_request("cart-1", scarce=3), T0)
    with pytest.raises(RefusedError):
        state.reserve(reserve_request("cart-2", scarce=1), T0 + 1)
    response = state.reserve(reserve_request("cart-2", scarce=3), T0 + TTL)
    assert response.items[0].quantity == 3


# --- confirm ------------------------------------------------------------------------


def test_confirm_turns_live_reservation_into_confirmation() -> None:
    """A live reservation confirms with an id and URL and echoes its reservation id."""
    state = new_state()
    rid = reserve_one(state)
    response = state.confirm(confirm_reserved("cart-1", "order-1", ("scarce", rid)), T0)
    (item,) = response.items
    assert (response.cart_id, response.order_id) == ("cart-1", "order-1")
    assert item.success
    assert item.item_reservation_id == rid
    assert item.item_confirmation_id
    assert item.item_confirmation_url == (
        "https://emulator.rokt.invalid/confirmations/" + item.item_confirmation_id
    )
    assert state.status(rid, T0) == CONFIRMED
    assert line(state) == StockLine(initial=3, available=2, held=0, confirmed=1)


def test_confirm_returns_same_confirmation_when_repeated() -> None:
    """The same identifiers confirmed again answer the first confirmation, once."""
    state = new_state()
    rid = reserve_one(state)
    request = confirm_reserved("cart-1", "order-1", ("scarce", rid))
    first = state.confirm(request, T0)
    again = state.confirm(request, T0 + 1)
    assert again == first
    key = effect_key("confirm", "cart-1", "scarce")
    assert (state.effects[key], state.replays[key]) == (1, 1)
    assert line(state).confirmed == 1


def test_confirm_returns_same_confirmation_when_repeated_after_expiry() -> None:
    """A confirmed reservation never expires, so a late resend is still a replay."""
    state = new_state()
    rid = reserve_one(state)
    request = confirm_reserved("cart-1", "order-1", ("scarce", rid))
    first = state.confirm(request, T0)
    assert state.confirm(request, T0 + 2 * TTL) == first


def test_confirm_takes_stock_directly_when_item_has_quantity_only() -> None:
    """A quantity-only item confirms from stock and gets a reservation id."""
    state = new_state()
    (item,) = state.confirm(confirm_quantity("cart-9", "order-1", scarce=2), T0).items
    assert item.success
    assert item.item_reservation_id
    assert item.item_confirmation_id
    assert state.status(item.item_reservation_id, T0) == CONFIRMED
    assert line(state) == StockLine(initial=3, available=1, held=0, confirmed=2)


def test_confirm_accepts_quantity_equal_to_reservation() -> None:
    """A reservation-based item may repeat the reserved quantity."""
    state = new_state()
    rid = reserve_one(state)
    request = confirm_reserved("cart-1", "o", ("scarce", rid), quantity=1)
    assert all_succeeded(state.confirm(request, T0))


def test_confirm_is_replay_when_quantity_item_repeats_order() -> None:
    """A quantity-only item with the same cart, order and item is one purchase."""
    state = new_state()
    request = confirm_quantity("cart-1", "order-1", scarce=1)
    first = state.confirm(request, T0)
    assert state.confirm(request, T0) == first
    assert line(state).confirmed == 1


def test_confirm_counts_duplicate_when_quantity_item_gets_new_order() -> None:
    """A new orderId for the same cart line is a second purchase, flagged."""
    state = new_state()
    state.confirm(confirm_quantity("cart-1", "order-1", scarce=1), T0)
    state.confirm(confirm_quantity("cart-1", "order-2", scarce=1), T0)
    key = effect_key("confirm", "cart-1", "scarce")
    assert state.effects[key] == 2
    assert line(state).confirmed == 2


def test_confirm_fails_item_when_quantity_exceeds_stock() -> None:
    """A quantity-only item larger than the stock fails and takes nothing."""
    state = new_state()
    (item,) = state.confirm(confirm_quantity("cart-1", "o", scarce=4), T0).items
    assert not item.success
    assert item.item_confirmation_id is None
    assert line(state).available == 3


def spoiled(spoil: str) -> tuple[State, ConfirmRequest, float]:
    """A confirm of one good reservation and one made unusable by ``spoil``."""
    state = new_state()
    good_id = reserve_one(state, "cart-1", "parking")
    bad = reserve_one(state, "cart-1", "scarce")
    now, item, rid, quantity = T0, "scarce", bad, None
    if spoil == "expire":
        now = T0 + TTL
        renewed = state.reserve(reserve_request("cart-1", parking=1), now)
        good_id = renewed.items[0].item_reservation_id
    elif spoil == "release":
        state.release(release_request("cart-1", ("scarce", bad)), T0)
    elif spoil == "unknown":
        rid = "no-such-reservation"
    elif spoil == "other_cart":
        rid = reserve_one(state, "cart-2", "scarce")
    elif spoil == "other_item":
        item = "parking"
    elif spoil == "bad_quantity":
        quantity = 2
    spoilt = (
        ConfirmItem(cart_item_id=item, item_reservation_id=rid)
        if quantity is None
        else ConfirmItem(cart_item_id=item, item_reservation_id=rid, quantity=quantity)
    )
    items = (ConfirmItem(cart_item_id="parking", item_reservation_id=good_id), spoilt)
    return state, ConfirmRequest(cart_id="cart-1", order_id="o", items=items), now


@pytest.mark.parametrize(
    "spoil",
    ["expire", "release", "unknown", "other_cart", "other_item", "bad_quantity"],
)
def test_confirm_fails_only_that_item_when_reservation_is_unusable(spoil: str) -> None:
    """An unusable reservation fails its item while the other item succeeds."""
    state, request, now = spoiled(spoil)
    response = state.confirm(request, now)
    assert [item.success for item in response.items] == [True, False]
    assert response.items[1].item_confirmation_id is None
    assert all(line.is_conserved for line in state.stock(now).values())


def test_confirm_refuses_cart_when_it_never_existed() -> None:
    """A never-seen cart with reservation-based items only is refused (422)."""
    state = new_state()
    rid = reserve_one(state, "cart-1")
    with pytest.raises(RefusedError) as refused:
        state.confirm(confirm_reserved("cart-x", "o", ("scarce", rid)), T0)
    assert refused.value.errors == [("UnknownCart", "no such cart", "cart-x")]


def test_confirm_creates_cart_when_it_has_quantity_items() -> None:
    """A never-seen cart is accepted when it carries a quantity-only item."""
    state = new_state()
    request = ConfirmRequest(
        cart_id="cart-new",
        order_id="o",
        items=(
            ConfirmItem(cart_item_id="parking", quantity=1),
            ConfirmItem(cart_item_id="scarce", item_reservation_id="nope"),
        ),
    )
    response = state.confirm(request, T0)
    assert [item.success for item in response.items] == [True, False]


# --- release ------------------------------------------------------------------------


def test_release_returns_stock_when_reservation_is_live() -> None:
    """A released reservation's units go back on sale."""
    state = new_state()
    rid = reserve_one(state)
    response = state.release(release_request("cart-1", ("scarce", rid)), T0)
    assert response.items[0].success
    assert response.items[0].item_reservation_id == rid
    assert state.status(rid, T0) == RELEASED
    assert line(state) == StockLine(initial=3, available=3, held=0, confirmed=0)


def test_release_succeeds_without_effect_when_repeated() -> None:
    """Releasing twice succeeds twice and returns the units once."""
    state = new_state()
    rid = reserve_one(state)
    request = release_request("cart-1", ("scarce", rid))
    state.release(request, T0)
    assert all_succeeded(state.release(request, T0))
    key = effect_key("release", rid)
    assert (state.effects[key], state.replays[key]) == (1, 1)
    assert line(state).available == 3


def test_release_succeeds_without_effect_when_reservation_expired() -> None:
    """An expired reservation has nothing left to release; that is a success."""
    state = new_state()
    rid = reserve_one(state)
    response = state.release(release_request("cart-1", ("scarce", rid)), T0 + TTL)
    assert all_succeeded(response)
    assert state.effects == {}
    assert line(state, now=T0 + TTL).available == 3


def test_release_fails_item_when_it_was_confirmed() -> None:
    """A confirmed item cannot be released; its units stay confirmed."""
    state = new_state()
    rid = reserve_one(state)
    state.confirm(confirm_reserved("cart-1", "o", ("scarce", rid)), T0)
    response = state.release(release_request("cart-1", ("scarce", rid)), T0)
    assert not response.items[0].success
    assert line(state).confirmed == 1


def test_release_fails_item_when_reservation_is_unknown() -> None:
    """An unknown reservation fails its item while the cart's others release."""
    state = new_state()
    rid = reserve_one(state)
    response = state.release(
        release_request("cart-1", ("scarce", rid), ("scarce", "nope")), T0
    )
    assert [item.success for item in response.items] == [True, False]


def test_release_refuses_cart_when_it_never_existed() -> None:
    """A release for a never-seen cart is refused (422, UnknownCart)."""
    state = new_state()
    with pytest.raises(RefusedError) as refused:
        state.release(release_request("cart-x", ("scarce", "nope")), T0)
    assert refused.value.errors[0][0] == "UnknownCart"


# --- cancel -------------------------------------------------------------------------


def test_cancel_returns_stock_when_item_was_confirmed() -> None:
    """Cancelling a confirmed item puts its units back on sale, once."""
    state = new_state()
    rid = reserve_one(state)
    state.confirm(confirm_reserved("cart-1", "o", ("scarce", rid)), T0)
    state.cancel(cancel_request(rid), T0)
    state.cancel(cancel_request(rid), T0)
    assert state.status(rid, T0) == CANCELLED
    key = effect_key("cancel", rid)
    assert (state.effects[key], state.replays[key]) == (1, 1)
    assert line(state) == StockLine(initial=3, available=3, held=0, confirmed=0)


def test_cancel_works_when_item_was_confirmed_by_quantity() -> None:
    """The reservation id given to a quantity-only confirmation can be cancelled."""
    state = new_state()
    confirmed = state.confirm(confirm_quantity("cart-1", "o", scarce=1), T0)
    rid = confirmed.items[0].item_reservation_id
    assert rid is not None
    state.cancel(cancel_request(rid), T0)
    assert line(state).available == 3


def test_cancel_refuses_reservation_when_unknown() -> None:
    """An unknown reservation id is refused (422, UnknownReservation)."""
    with pytest.raises(RefusedError) as refused:
        new_state().cancel(cancel_request("nope"), T0)
    assert refused.value.errors[0][0] == "UnknownReservation"


def test_cancel_refuses_reservation_when_never_confirmed() -> None:
    """A held reservation is not a confirmation: refused (422, NotConfirmed)."""
    state = new_state()
    rid = reserve_one(state)
    with pytest.raises(RefusedError) as refused:
        state.cancel(cancel_request(rid), T0)
    assert refused.value.errors[0][0] == "NotConfirmed"
    assert state.status(rid, T0) == HELD


def test_confirm_replays_original_when_item_was_cancelled() -> None:
    """A resent confirm after a cancel answers the original and changes nothing."""
    state = new_state()
    rid = reserve_one(state)
    request = confirm_reserved("cart-1", "o", ("scarce", rid))
    first = state.confirm(request, T0)
    state.cancel(cancel_request(rid), T0)
    assert state.confirm(request, T0) == first
    assert state.status(rid, T0) == CANCELLED
    assert line(state).available == 3


# --- placements, identifiers, ledger ------------------------------------------------


def test_any_in_stock_is_true_when_default_stock_is_positive() -> None:
    """Unseen items count as in stock when the default stock is positive."""
    assert new_state().any_in_stock(T0)


def test_any_in_stock_follows_catalog_when_default_stock_is_zero() -> None:
    """With no default stock, the answer follows the catalog's available units."""
    state = new_state(default_stock=0)
    assert state.any_in_stock(T0)
    state.reserve(reserve_request("cart-1", scarce=3), T0)
    assert not state.any_in_stock(T0)
    assert state.any_in_stock(T0 + TTL)


def test_identifiers_repeat_when_seed_is_the_same() -> None:
    """Two states with one seed hand out the same ids; another seed differs."""
    assert reserve_one(new_state(seed=3)) == reserve_one(new_state(seed=3))
    assert reserve_one(new_state(seed=3)) != reserve_one(new_state(seed=4))


def test_catalog_item_refuses_negative_stock() -> None:
    """A catalog item cannot start below zero."""
    with pytest.raises(ValueError, match="stock"):
        CatalogItem(stock=-1)


def test_ledger_reports_duplicates_and_counts() -> None:
    """Duplicates list effects counted twice; count and confirmations sum them."""
    ledger = Ledger.build(
        effects={"confirm c/i": 2, "confirm c/j": 1, "cancel r": 1},
        replays={},
        stock={"i": StockLine(initial=3, available=1, held=0, confirmed=2)},
        peak_connections=0,
        requests=0,
    )
    assert ledger.duplicates == ("confirm c/i",)
    assert (ledger.count("confirm"), ledger.count("cancel")) == (3, 1)
    assert ledger.confirmations("c", "i") == 2
    assert ledger.confirmations("c", "x") == 0
    assert ledger.is_stock_conserved


def test_ledger_flags_stock_when_counts_do_not_add_up() -> None:
    """A stock line whose parts do not add up to the initial stock is flagged."""
    broken = StockLine(initial=3, available=3, held=1, confirmed=0)
    negative = StockLine(initial=0, available=1, held=-1, confirmed=0)
    assert not broken.is_conserved
    assert not negative.is_conserved
