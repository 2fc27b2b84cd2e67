"""confirm_many / release_many: per-request session ids and results as they end."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from rokt_async import ConfirmResponse, ReleaseResponse, RoktError
from tests.emulator._helpers import confirm_reserved, release_request, reserve_request
from tests.integration.test_retry_faults import client_for

if TYPE_CHECKING:
    from rokt_async import ConfirmRequest, RoktClient
    from rokt_async.emulator import Emulator


async def reserved(rokt: RoktClient, carts: int) -> list[tuple[str, str]]:
    """``(cart_id, item_reservation_id)`` for one reserved unit per cart."""
    found = []
    for n in range(carts):
        answer = await rokt.reserve_cart(reserve_request(f"fan-{n}"))
        found.append((answer.cart_id, answer.items[0].item_reservation_id))
    return found


def confirm_of(cart: str, rid: str) -> ConfirmRequest:
    return confirm_reserved(cart, f"order-{cart}", ("parking", rid))


async def test_confirm_many_sends_each_pairs_session_id(emulator: Emulator) -> None:
    """``(request, session_id)`` pairs go out with that rokt-session-id each."""
    async with client_for(emulator) as rokt:
        carts = await reserved(rokt, 3)
        results = await rokt.confirm_many(
            [(confirm_of(c, r), f"shopper-{c}") for c, r in carts], concurrency=2
        )
    assert all(isinstance(r, ConfirmResponse) and r.is_complete for r in results)
    sent = {
        (r.body, r.headers["rokt-session-id"]) for r in emulator.requests("confirm")
    }
    assert {sid for _, sid in sent} == {f"shopper-{c}" for c, _ in carts}


async def test_release_many_releases_every_cart_in_order(emulator: Emulator) -> None:
    """release_many gives every reservation back and answers in input order."""
    async with client_for(emulator) as rokt:
        carts = await reserved(rokt, 4)
        results = await rokt.release_many(
            [release_request(c, ("parking", r)) for c, r in carts], concurrency=3
        )
    assert [r.cart_id for r in results if isinstance(r, ReleaseResponse)] == [
        c for c, _ in carts
    ]
    assert all(emulator.reservation_status(r) == "released" for _, r in carts)


async def test_cancelled_confirm_many_has_reported_what_finished(
    emulator: Emulator,
) -> None:
    """When confirm_many is cancelled part-way, on_result has been told of the
    three calls that ended, each confirmed; the three cut off took effect on the
    emulator without an answer, so they are the ones left to reconcile."""
    async with client_for(emulator) as rokt:
        carts = await reserved(rokt, 6)
        for _ in range(3):  # three answer only after the cancel
            emulator.faults.fail_next("confirm", "delay", ms=3000.0)
        ended: dict[int, ConfirmResponse | RoktError] = {}
        fan_out = asyncio.ensure_future(
            rokt.confirm_many(
                [confirm_of(c, r) for c, r in carts],
                concurrency=6,
                on_result=ended.__setitem__,
            )
        )
        for _ in range(300):  # until the quick ones are in (bounded)
            if len(ended) == 3:
                break
            await asyncio.sleep(0.01)
        fan_out.cancel()
        await asyncio.gather(fan_out, return_exceptions=True)
    ledger = emulator.ledger()
    confirmed = {c for c, _ in carts if ledger.confirmations(c, "parking")}
    told = {
        carts[i][0]
        for i, outcome in ended.items()
        if isinstance(outcome, ConfirmResponse) and outcome.is_complete
    }
    assert len(told) == 3
    assert told < confirmed  # the emulator applies a delayed confirm first
    assert len(confirmed) == 6
