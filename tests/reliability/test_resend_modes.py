"""What the client promises under each answer Rokt may give to a resent confirm.

The emulator's resend modes model them: ``replay`` (the first confirmation),
``reject`` (the item fails as ``AlreadyConfirmed``) and ``duplicate`` (nothing is
recognised: a resent quantity-only confirm buys again).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import pytest

from rokt_async import (
    NO_WAIT_RETRY,
    ConfirmResponse,
    OutcomeUnknownError,
    PoolLimits,
    Timeouts,
)
from rokt_async.emulator import RESEND_MODES
from tests.conftest import emulator_client

from ._carts import ITEM, quantity_confirm, reserved_confirms

if TYPE_CHECKING:
    from collections.abc import Callable

    from rokt_async import RoktClient
    from rokt_async.emulator import Emulator

    from ._figures import Figures


def client_on(emulator: Emulator, **options: object) -> RoktClient:
    return emulator_client(
        emulator, timeouts=Timeouts(connect=1.0, response=0.25), **options
    )


@pytest.mark.parametrize("mode", RESEND_MODES)
async def test_reservation_confirm_is_bought_once_and_reported_when_mode_is(
    emulator: Emulator, mode: str
) -> None:
    """A reservation confirm whose first reply was lost is resent and reported as
    confirmed: a success (replay) or an item already confirmed (reject,
    duplicate), never a failure; the ledger shows one purchase."""
    emulator.set_resend(mode)
    async with client_on(emulator) as rokt:
        (confirm,) = await reserved_confirms(rokt, 1)
        emulator.faults.fail_next("confirm", "504_after")
        response = await rokt.confirm_cart(confirm)
    (item,) = response.items
    assert response.is_complete
    assert response.failed_items == ()
    if mode == "replay":
        assert item.success
        assert item.item_confirmation_id
    else:
        assert (item.success, item.is_already_confirmed) == (False, True)
        assert response.already_confirmed_items == (item,)
    assert len(emulator.requests("confirm")) == 2
    assert emulator.ledger().confirmations(confirm.cart_id, ITEM) == 1


@pytest.mark.parametrize("mode", RESEND_MODES)
async def test_quantity_confirm_is_never_bought_twice_when_mode_is(
    emulator: Emulator, mode: str
) -> None:
    """A quantity-only confirm whose reply was lost is not resent in any mode: it
    ends in OutcomeUnknownError (resend not safe) and one purchase."""
    emulator.set_resend(mode)
    emulator.faults.fail_next("confirm", "504_after")
    async with client_on(emulator) as rokt:
        with pytest.raises(OutcomeUnknownError) as caught:
            await rokt.confirm_cart(quantity_confirm(1))
    assert caught.value.resend_is_safe is False
    ledger = emulator.ledger()
    assert ledger.confirmations("qcart-1", ITEM) == 1
    assert ledger.duplicates == ()


async def test_allowing_quantity_resends_buys_twice_when_rokt_recognises_none(
    emulator: Emulator,
) -> None:
    """The opt-in flag is what it says: where Rokt recognises no resend
    (duplicate mode), a resent quantity confirm is a second purchase."""
    emulator.set_resend("duplicate")
    emulator.faults.fail_next("confirm", "504_after")
    policy = dataclasses.replace(
        NO_WAIT_RETRY, retry_quantity_confirm_when_ambiguous=True
    )
    async with client_on(emulator, retry=policy) as rokt:
        response = await rokt.confirm_cart(quantity_confirm(1))
    assert response.is_complete
    assert emulator.ledger().duplicates == (f"confirm qcart-1/{ITEM}",)


@pytest.mark.parametrize("mode", RESEND_MODES)
async def test_mixed_storm_never_buys_twice_when_mode_is(
    emulator: Emulator,
    mode: str,
    size: Callable[[int, int], int],
    figures: Figures,
    request: pytest.FixtureRequest,
) -> None:
    """Reservation and quantity-only confirms under 504s (before and after the
    effect) and resets: 0 duplicates in every mode; reservation confirms end
    complete or unknown-but-safe, quantity ones complete or unknown-and-unsafe."""
    count = size(1_000, 10_000)
    emulator.set_resend(mode)
    async with client_on(emulator, limits=PoolLimits(connections=128)) as rokt:
        by_reservation = await reserved_confirms(rokt, count)
        by_quantity = [quantity_confirm(n) for n in range(count)]
        faults = emulator.faults
        faults.set_rate("confirm", "504_before", 0.10)
        faults.set_rate("confirm", "504_after", 0.10)
        faults.set_rate("confirm", "reset_after", 0.05)
        results = await rokt.confirm_many(by_reservation + by_quantity, concurrency=128)
    reserved, quantity = results[:count], results[count:]
    ledger = emulator.ledger()
    unsafe = sum(isinstance(r, OutcomeUnknownError) for r in quantity)
    test = request.node.name
    figures.record(
        test,
        "duplicate purchases",
        len(ledger.duplicates),
        "0",
        met=not ledger.duplicates,
    )
    figures.record(
        test,
        "quantity confirms left unknown",
        unsafe,
        "~25% (an ambiguous fault: never resent)",
        met=True,
    )
    assert ledger.duplicates == ()
    for result in reserved:
        assert (isinstance(result, ConfirmResponse) and result.is_complete) or (
            isinstance(result, OutcomeUnknownError) and result.resend_is_safe
        )
    for result in quantity:
        assert (isinstance(result, ConfirmResponse) and result.is_complete) or (
            isinstance(result, OutcomeUnknownError) and not result.resend_is_safe
        )
