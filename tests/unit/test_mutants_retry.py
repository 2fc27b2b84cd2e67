"""The retry loop's edges: the deadline reached exactly, waits that overrun it, the
budget around timeouts, hedges and cancellations, and what it logs and reports.

Written for the mutants ``make mutate`` left alive in ``_retry.py`` and the
resend reasons of ``_endpoints.py`` (issue #11). Time is a ``FakeTiming``: no test
here waits.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pytest
from aioresponses import CallbackResult, aioresponses
from multidict import CIMultiDict
from yarl import URL

from rokt_async import (
    DEFAULT_RETRY,
    NO_WAIT_RETRY,
    ConfirmItem,
    ConfirmRequest,
    GatewayTimeoutError,
    OutcomeUnknownError,
    RetryEvent,
    ServerError,
)
from rokt_async.testing import FakeTiming
from tests.conftest import A_CONFIRM, A_PLACEMENTS, A_RESERVE, FAKE_BASE, make_client

if TYPE_CHECKING:
    from rokt_async import RoktClient

CONFIRM_URL = f"{FAKE_BASE}/v1/cart/confirm"
RESERVE_URL = f"{FAKE_BASE}/v1/cart/reserve"
PLACEMENTS_URL = f"{FAKE_BASE}/v1/placements/any"
CONFIRM_OK = {"cartId": "cart-1", "orderId": "order-1"}
#: Every backoff step is 1 s (FakeTiming's jitter is 1.0).
ONE_SECOND = replace(DEFAULT_RETRY, base_delay=1.0, max_delay=1.0)


def sent(mocked: aioresponses, url: str) -> list[CIMultiDict[str]]:
    """The headers of each request the mock received (names case-insensitive)."""
    return [
        CIMultiDict(c.kwargs["headers"]) for c in mocked.requests[("POST", URL(url))]
    ]


async def drain(client: RoktClient, calls: int) -> None:
    """Spend 5 tokens per call: confirms failing twice with 504 (mocked by caller)."""
    two_tries = client.with_options(retry=replace(NO_WAIT_RETRY, max_attempts=2))
    for _ in range(calls):
        with pytest.raises(OutcomeUnknownError):
            await two_tries.confirm_cart(A_CONFIRM)


async def test_wait_as_long_as_the_time_left_is_not_started() -> None:
    """A backoff exactly as long as the time left is not slept: the call stops."""
    timing = FakeTiming()
    async with make_client(retry=ONE_SECOND, timing=timing) as client:
        with aioresponses() as mocked:
            mocked.post(PLACEMENTS_URL, status=503, repeat=True)
            with pytest.raises(ServerError) as caught:
                await client.any_placements(A_PLACEMENTS, timeout=1.0)
    assert caught.value.attempts == 1
    assert timing.sleeps == []


@pytest.mark.parametrize("overrun", [0.5, 5.0])
async def test_wait_that_reaches_the_deadline_starts_no_attempt(
    overrun: float,
) -> None:
    """When a wait ends at or past the deadline (time went elsewhere), no attempt
    starts, the retry is not counted, its tokens come back, and the confirm ends
    in OutcomeUnknownError saying the time ran out."""
    timing = FakeTiming()

    def elsewhere(event: RetryEvent) -> None:
        timing.advance(overrun)  # 0.5 s: the 1 s wait ends on the 1.5 s deadline

    async with make_client(retry=ONE_SECOND, timing=timing, on_retry=[elsewhere]) as (
        client
    ):
        with aioresponses() as mocked:
            mocked.post(CONFIRM_URL, status=504, repeat=True)
            with pytest.raises(OutcomeUnknownError) as caught:
                await client.confirm_cart(A_CONFIRM, timeout=1.5)
    assert caught.value.attempts == 1
    assert str(caught.value).endswith("; no time left before the call's deadline")
    assert len(mocked.requests[("POST", URL(CONFIRM_URL))]) == 1
    stats = client.stats
    assert (stats.retries, stats.budget_tokens) == (0, 500)


async def test_outcome_unknown_says_why_and_keeps_endpoint_and_session() -> None:
    """Out of attempts after 504s, a confirm's OutcomeUnknownError names the
    endpoint, the attempts, the last error and the reason, and keeps the session
    id every attempt carried."""
    policy = replace(NO_WAIT_RETRY, max_attempts=2)
    async with make_client(retry=policy) as client:
        with aioresponses() as mocked:
            mocked.post(CONFIRM_URL, status=504, repeat=True)
            with pytest.raises(OutcomeUnknownError) as caught:
                await client.confirm_cart(A_CONFIRM, session_id="shopper-7")
    error = caught.value
    assert str(error) == (
        "confirm: outcome unknown after 2 attempt(s) (last: GatewayTimeoutError);"
        " no attempts left (RetryPolicy.max_attempts)"
    )
    assert (error.endpoint, error.session_id) == ("confirm", "shopper-7")
    assert isinstance(error.last_error, GatewayTimeoutError)


@pytest.mark.parametrize(
    ("call", "url", "why"),
    [
        (
            lambda client: client.reserve_cart(A_RESERVE),
            RESERVE_URL,
            "not resent: a second reserve would hold stock again until it expires"
            " (RetryPolicy.retry_reserve_when_ambiguous allows it)",
        ),
        (
            lambda client: client.confirm_cart(
                ConfirmRequest(
                    cart_id="cart-1",
                    order_id="order-1",
                    items=(ConfirmItem(cart_item_id="parking", quantity=1),),
                )
            ),
            CONFIRM_URL,
            "not resent: an item without item_reservation_id could be bought twice"
            " (RetryPolicy.retry_quantity_confirm_when_ambiguous allows it)",
        ),
    ],
    ids=["reserve", "quantity-confirm"],
)
async def test_unsafe_resend_reason_ends_the_message(
    call: Any, url: str, why: str
) -> None:
    """A reserve, or a confirm with a quantity-only item, is not resent after a
    504, and its OutcomeUnknownError ends with the whole reason."""
    async with make_client() as client:
        with aioresponses() as mocked:
            mocked.post(url, status=504, repeat=True)
            with pytest.raises(OutcomeUnknownError) as caught:
                await call(client)
    assert str(caught.value).endswith(f"(last: GatewayTimeoutError); {why}")
    assert caught.value.resend_is_safe is False


async def test_retry_after_a_timeout_costs_ten_tokens_and_returns_them() -> None:
    """A retry after a timeout is charged 10 tokens while it runs, and a success
    returns them."""
    seen: list[int] = []
    opened: list[RoktClient] = []

    def budget(event: RetryEvent) -> None:
        seen.append(opened[0].stats.budget_tokens)

    async with make_client(on_retry=[budget]) as client:
        opened.append(client)
        with aioresponses() as mocked:
            mocked.post(PLACEMENTS_URL, exception=TimeoutError())
            mocked.post(PLACEMENTS_URL, payload={"result": True})
            assert await client.any_placements(A_PLACEMENTS) is True
    assert seen == [490]
    assert client.stats.budget_tokens == 500


async def test_state_changing_calls_are_never_hedged() -> None:
    """A slow confirm is sent once even when placements hedging is on."""

    async def slow(url: URL, **kwargs: Any) -> CallbackResult:
        await asyncio.sleep(0.05)
        return CallbackResult(payload=CONFIRM_OK)

    policy = replace(NO_WAIT_RETRY, hedge_placements_after=0.01)
    async with make_client(retry=policy) as client:
        with aioresponses() as mocked:
            mocked.post(CONFIRM_URL, callback=slow, repeat=True)
            await client.confirm_cart(A_CONFIRM)
    assert len(mocked.requests[("POST", URL(CONFIRM_URL))]) == 1
    assert client.stats.hedges == 0


async def test_each_hedge_is_counted_and_carries_the_call_headers() -> None:
    """Two slow placements calls send two hedges, each with the call's session id."""

    async def slow(url: URL, **kwargs: Any) -> CallbackResult:
        await asyncio.sleep(0.05)
        return CallbackResult(payload={"result": True})

    policy = replace(NO_WAIT_RETRY, hedge_placements_after=0.01)
    async with make_client(retry=policy) as client:
        with aioresponses() as mocked:
            mocked.post(PLACEMENTS_URL, callback=slow, repeat=True)
            await client.any_placements(A_PLACEMENTS, session_id="s-1")
            await client.any_placements(A_PLACEMENTS, session_id="s-2")
    assert client.stats.hedges == 2
    assert [h["rokt-session-id"] for h in sent(mocked, PLACEMENTS_URL)] == [
        "s-1",
        "s-1",
        "s-2",
        "s-2",
    ]


async def test_hedge_the_budget_cannot_pay_for_is_refused_and_counted() -> None:
    """With the budget spent, a slow placements call sends no hedge and the
    refusal is counted once."""

    async def slow(url: URL, **kwargs: Any) -> CallbackResult:
        await asyncio.sleep(0.05)
        return CallbackResult(payload={"result": True})

    policy = replace(NO_WAIT_RETRY, hedge_placements_after=0.01)
    async with make_client(retry=policy) as client:
        with aioresponses() as mocked:
            mocked.post(CONFIRM_URL, status=504, repeat=True)
            await drain(client, 100)
            before = client.stats
            mocked.post(PLACEMENTS_URL, callback=slow, repeat=True)
            assert await client.any_placements(A_PLACEMENTS) is True
    after = client.stats
    assert before.budget_tokens == 0
    assert after.hedges == 0
    assert after.budget_refusals - before.budget_refusals == 1
    assert len(mocked.requests[("POST", URL(PLACEMENTS_URL))]) == 1


@pytest.mark.parametrize("hedge", [None, 5.0], ids=["plain", "hedged-not-yet"])
async def test_cancelled_call_gives_back_only_what_it_took(hedge: float | None) -> None:
    """Cancelling a call that has spent nothing leaves the budget as it was."""
    started = asyncio.Event()

    async def hangs(url: URL, **kwargs: Any) -> CallbackResult:
        started.set()
        await asyncio.sleep(10)
        return CallbackResult(payload={"result": True})

    policy = replace(NO_WAIT_RETRY, hedge_placements_after=hedge)
    async with make_client(retry=policy) as client:
        with aioresponses() as mocked:
            mocked.post(CONFIRM_URL, status=504, repeat=True)
            await drain(client, 1)
            mocked.post(PLACEMENTS_URL, callback=hangs)
            call = asyncio.ensure_future(client.any_placements(A_PLACEMENTS))
            await started.wait()
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
    assert client.stats.budget_tokens == 495


async def test_each_attempt_is_logged_at_debug(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A failed attempt and the answer that follows are logged at DEBUG with the
    URL, the attempt and the error class or status."""
    caplog.set_level(logging.DEBUG, logger="rokt_async")
    async with make_client() as client:
        with aioresponses() as mocked:
            mocked.post(PLACEMENTS_URL, status=503)
            mocked.post(PLACEMENTS_URL, payload={"result": True})
            await client.any_placements(A_PLACEMENTS)
    assert [r.getMessage() for r in caplog.records if r.name == "rokt_async"] == [
        f"POST {PLACEMENTS_URL} attempt 1 failed: ServerError",
        f"POST {PLACEMENTS_URL} -> 200 (attempt 2)",
    ]
