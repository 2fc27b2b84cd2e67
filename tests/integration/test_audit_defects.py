"""Regression tests for the defects the outside reliability audit found (#9).

Each runs over a real socket on 127.0.0.1 and failed before its fix.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from typing import TYPE_CHECKING

import msgspec
import pytest

from rokt_async import (
    NO_WAIT_RETRY,
    ConfirmItem,
    ConfirmRequest,
    ConnectError,
    GatewayTimeoutError,
    OutcomeUnknownError,
    PlacementsRequest,
    PoolLimits,
    RequestTimeoutError,
    ResponseDecodeError,
    RetryEvent,
    Timeouts,
)
from tests.conftest import A_CONFIRM, A_PLACEMENTS, A_RESERVE, make_client
from tests.integration._servers import raw_server, read_request, reply
from tests.integration.test_retry_faults import client_for, quantity_confirm
from tests.reliability._carts import reserved_confirms

if TYPE_CHECKING:
    from asyncio import StreamReader, StreamWriter

    from rokt_async.emulator import Emulator
    from tests.integration._servers import RawHandler

NOT_UTF8 = b"\xff\xfe"


def answering(status: int, body: bytes, seen: list[bytes]) -> RawHandler:
    """A keep-alive peer that answers every request with ``status`` and ``body``."""

    async def handler(reader: StreamReader, writer: StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                seen.append(await read_request(reader))
                writer.write(reply(status, body))
                await writer.drain()
        writer.close()

    return handler


# --- invalid UTF-8 ------------------------------------------------------------


async def test_invalid_utf8_in_a_field_of_a_2xx_is_response_decode_error() -> None:
    """A 2xx whose cartId is not UTF-8 raises ResponseDecodeError, nothing bare."""
    body = (
        b'{"cartId":"' + NOT_UTF8 + b'","items":[{"cartItemId":"parking",'
        b'"itemReservationId":"r1","quantity":2,"unitPrice":10,"totalPrice":20,'
        b'"currency":"USD","expirationDateTimeUtc":"2026-11-23T10:00:00Z"}]}'
    )
    seen: list[bytes] = []
    async with raw_server(answering(200, body, seen)) as url, make_client(url) as rokt:
        with pytest.raises(ResponseDecodeError, match="not valid UTF-8") as caught:
            await rokt.reserve_cart(A_RESERVE)
    assert caught.value.status == 200
    assert len(seen) == 1  # a definite failure: not retried


async def test_504_with_a_non_utf8_body_is_retried_and_ends_outcome_unknown() -> None:
    """A 504 whose error body is not UTF-8 keeps its class: retried, then unknown."""
    body = b'{"description":"' + NOT_UTF8 + b'","errors":[]}'
    seen: list[bytes] = []
    async with raw_server(answering(504, body, seen)) as url, make_client(url) as rokt:
        with pytest.raises(OutcomeUnknownError) as caught:
            await rokt.confirm_cart(A_CONFIRM)  # names its reservation: resent
    last = caught.value.last_error
    assert isinstance(last, GatewayTimeoutError)
    assert last.body is None
    assert caught.value.attempts == len(seen) == 4


async def test_400_with_a_non_utf8_body_is_bad_request_without_a_body() -> None:
    """A 400 whose error body is not UTF-8 is BadRequestError with body None."""
    from rokt_async import BadRequestError

    body = b'{"description":"bad","errors":[{"code":"' + NOT_UTF8 + b'"}]}'
    seen: list[bytes] = []
    async with raw_server(answering(400, body, seen)) as url, make_client(url) as rokt:
        with pytest.raises(BadRequestError) as caught:
            await rokt.confirm_cart(A_CONFIRM)
    assert (caught.value.status, caught.value.body) == (400, None)


# --- cancellation and the retry budget ----------------------------------------


async def test_calls_cancelled_while_waiting_to_retry_refund_the_budget(
    emulator: Emulator,
) -> None:
    """50 confirms cancelled in their backoff wait leave the budget full."""
    emulator.faults.set_rate("confirm", "504_before", 1.0)
    waiting = asyncio.Event()
    retried: list[RetryEvent] = []

    def on_retry(event: RetryEvent) -> None:
        retried.append(event)
        if len(retried) >= 50:
            waiting.set()

    slow = dataclasses.replace(NO_WAIT_RETRY, base_delay=30.0, max_delay=30.0)
    async with client_for(
        emulator,
        retry=dataclasses.replace(slow, deadlines={"confirm": 120.0}),
        on_retry=[on_retry],
    ) as rokt:
        full = rokt.stats.budget_tokens
        reservation_confirms = [
            msgspec.structs.replace(A_CONFIRM, cart_id=f"c-{n}") for n in range(50)
        ]
        tasks = [
            asyncio.ensure_future(rokt.confirm_cart(request))
            for request in reservation_confirms
        ]
        await asyncio.wait_for(waiting.wait(), timeout=30)  # hang guard only
        spent, retries = rokt.stats.budget_tokens, len(retried)  # no await between
        for task in tasks:
            task.cancel()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        after = rokt.stats.budget_tokens
    assert all(isinstance(o, asyncio.CancelledError) for o in outcomes)
    assert spent == full - 5 * retries  # each retry was paid for...
    assert after == full  # ...and got it back when cancelled


async def test_cancelled_hedged_placements_refund_the_hedge(
    emulator: Emulator,
) -> None:
    """A placements call cancelled after its hedge went out gives the hedge's
    tokens back."""
    emulator.faults.set_rate("placements", "delay", 1.0, ms=5000.0)
    policy = dataclasses.replace(NO_WAIT_RETRY, hedge_placements_after=0.05)
    async with client_for(
        emulator, retry=policy, timeouts=Timeouts(connect=1.0, response=10.0)
    ) as rokt:
        full = rokt.stats.budget_tokens
        task = asyncio.ensure_future(
            rokt.any_placements(
                PlacementsRequest(cart_id="h", page_identifier="checkout.upsell"),
                timeout=10.0,
            )
        )
        for _ in range(200):  # until the hedge is out (bounded)
            if rokt.stats.hedges:
                break
            await asyncio.sleep(0.01)
        hedged = rokt.stats
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        after = rokt.stats.budget_tokens
    assert (hedged.hedges, hedged.budget_tokens) == (1, full - 5)
    assert after == full


# --- a pool wait that runs out of time ----------------------------------------


async def test_pool_wait_past_a_short_deadline_is_connect_error(
    emulator: Emulator,
) -> None:
    """With the one pooled connection busy, a confirm whose deadline (0.3 s) is
    shorter than Timeouts.connect (3 s) fails with ConnectError, never sent."""
    emulator.faults.fail_next("confirm", "delay", ms=2000.0)
    async with client_for(
        emulator,
        limits=PoolLimits(connections=1),
        timeouts=Timeouts(connect=3.0, response=10.0),
    ) as rokt:
        busy = asyncio.ensure_future(rokt.confirm_cart(quantity_confirm(1)))
        for _ in range(200):  # until the busy confirm holds the connection
            if emulator.requests("confirm"):
                break
            await asyncio.sleep(0.01)
        full = rokt.stats.budget_tokens
        with pytest.raises(ConnectError) as caught:
            await rokt.confirm_cart(quantity_confirm(2), timeout=0.3)
        waited = rokt.stats
        await busy
    assert [r.body for r in emulator.requests("confirm")] == [
        emulator.requests("confirm")[0].body
    ]  # only the busy confirm ever reached the emulator
    assert emulator.ledger().confirmations("cart-2", "parking") == 0
    assert waited.outcomes_unknown == 0
    assert waited.budget_tokens == full  # not charged as a timeout
    assert caught.value.attempts == 1


# --- honest resends -------------------------------------------------------------


async def test_quantity_confirm_is_not_resent_after_an_ambiguous_failure(
    emulator: Emulator,
) -> None:
    """A quantity-only confirm whose reply was lost (504 after the effect) is sent
    once and ends in OutcomeUnknownError saying why it was not resent."""
    emulator.faults.fail_next("confirm", "504_after")
    async with client_for(emulator) as rokt:
        with pytest.raises(OutcomeUnknownError) as caught:
            await rokt.confirm_cart(quantity_confirm(1))
    error = caught.value
    assert len(emulator.requests("confirm")) == 1
    assert (error.attempts, error.resend_is_safe) == (1, False)
    assert "item_reservation_id" in str(error)
    assert emulator.ledger().confirmations("cart-1", "parking") == 1


async def test_quantity_confirm_is_resent_when_the_policy_allows_it(
    emulator: Emulator,
) -> None:
    """retry_quantity_confirm_when_ambiguous=True resends it after a 504."""
    emulator.faults.fail_next("confirm", "504_before")
    policy = dataclasses.replace(
        NO_WAIT_RETRY, retry_quantity_confirm_when_ambiguous=True
    )
    async with client_for(emulator, retry=policy) as rokt:
        response = await rokt.confirm_cart(quantity_confirm(1))
    assert response.is_complete
    assert len(emulator.requests("confirm")) == 2


async def test_mixed_confirm_with_one_quantity_item_is_not_resent(
    emulator: Emulator,
) -> None:
    """One item without a reservation makes the whole confirm unsafe to resend."""
    emulator.faults.fail_next("confirm", "reset_before")
    mixed = ConfirmRequest(
        cart_id="mix",
        order_id="o-mix",
        items=(
            ConfirmItem(cart_item_id="a", item_reservation_id="r-a"),
            ConfirmItem(cart_item_id="b", quantity=1),
        ),
    )
    async with client_for(emulator) as rokt:
        with pytest.raises(OutcomeUnknownError) as caught:
            await rokt.confirm_cart(mixed)
    assert caught.value.resend_is_safe is False
    assert len(emulator.requests("confirm")) == 1


async def test_reservation_confirm_is_resent_and_says_resend_is_safe(
    emulator: Emulator,
) -> None:
    """A confirm naming its reservation is resent; when it still gives up, the
    error says a resend is safe and carries the request, whose resend confirms
    the cart once."""
    emulator.faults.set_rate("confirm", "504_before", 1.0)
    async with client_for(emulator) as rokt:
        (confirm,) = await reserved_confirms(rokt, 1)
        with pytest.raises(OutcomeUnknownError) as caught:
            await rokt.confirm_cart(confirm)
        assert (caught.value.attempts, caught.value.resend_is_safe) == (4, True)
        assert len(emulator.requests("confirm")) == 4
        emulator.faults.clear()
        assert caught.value.request == confirm  # what to send again, as it was
        again = await rokt.confirm_cart(caught.value.request)
    assert again.is_complete
    assert emulator.ledger().confirmations(confirm.cart_id, "parking") == 1


# --- deadlines over 5 s ---------------------------------------------------------


async def test_a_deadline_over_5_s_is_not_rounded_up_to_the_next_second() -> None:
    """A 5.2 s deadline ends the call at 5.2 s: aiohttp rounds timers of 5 s and
    more up to the next whole second of the loop's clock unless told not to."""
    release = asyncio.Event()

    async def silent(reader: StreamReader, writer: StreamWriter) -> None:
        await read_request(reader)
        await release.wait()
        writer.close()

    loop = asyncio.get_running_loop()
    async with raw_server(silent) as url, make_client(url) as rokt:
        # Start just after a whole second, so that rounding up would add at least
        # 0.68 s: the bound below is far from both outcomes (0.0x s vs >= 0.68 s).
        await asyncio.sleep(1.02 - loop.time() % 1.0)
        started = loop.time()
        with pytest.raises(RequestTimeoutError):
            await rokt.any_placements(A_PLACEMENTS, timeout=5.2)
        overrun = loop.time() - started - 5.2
        release.set()
    assert overrun < 0.4
