"""Retry behaviour with an injected RNG, sleeper and clock (no real waiting)."""

from __future__ import annotations

import dataclasses
import email.utils
from typing import TYPE_CHECKING, Any

import pytest
from aioresponses import aioresponses

from rokt_async import (
    DEFAULT_RETRY,
    BadRequestError,
    ConnectError,
    ConnectionLostError,
    GatewayTimeoutError,
    OutcomeUnknownError,
    RateLimitError,
    RequestTimeoutError,
    ResponseDecodeError,
    RetryEvent,
    RetryPolicy,
    ServerError,
)
from rokt_async._budget import RetryBudget
from rokt_async._retry import (
    AMBIGUOUS,
    DEFINITE,
    NEVER_SENT,
    THROTTLED,
    Failure,
    classify,
)
from rokt_async._transport import parse_retry_after
from rokt_async.testing import FakeTiming
from tests.conftest import (
    A_CONFIRM,
    A_PLACEMENTS,
    A_RESERVE,
    FAKE_BASE,
    make_client,
)

if TYPE_CHECKING:
    from rokt_async import RoktClient

CONFIRM_URL = f"{FAKE_BASE}/v1/cart/confirm"
RESERVE_URL = f"{FAKE_BASE}/v1/cart/reserve"
PLACEMENTS_URL = f"{FAKE_BASE}/v1/placements/any"
CONFIRM_OK = {"cartId": "cart-1", "orderId": "order-1", "items": []}
RESERVE_OK = {"cartId": "cart-1", "items": []}


async def drain_budget(client: RoktClient, tokens: int) -> None:
    """Spend ``tokens`` (a multiple of 5) of the client's budget the public way:
    confirms that fail twice with 504 (mocked by the caller), one retry each."""
    two_tries = client.with_options(retry=RetryPolicy(max_attempts=2))
    for _ in range(tokens // 5):
        with pytest.raises(OutcomeUnknownError):
            await two_tries.confirm_cart(A_CONFIRM)


async def test_backoff_doubles_from_base_at_rng_one() -> None:
    """With the RNG at 1, full jitter gives exactly 0.1, 0.2 and 0.4 s."""
    fake = FakeTiming()
    async with make_client(retry=DEFAULT_RETRY, timing=fake) as client:
        with aioresponses() as mocked:
            for _ in range(3):
                mocked.post(CONFIRM_URL, status=504)
            mocked.post(CONFIRM_URL, payload=CONFIRM_OK)
            await client.confirm_cart(A_CONFIRM)
    assert fake.sleeps == pytest.approx([0.1, 0.2, 0.4])
    assert (client.stats.attempts, client.stats.retries) == (4, 3)


async def test_full_jitter_scales_each_step_by_the_rng() -> None:
    """The wait is the backoff step times the RNG's draw."""
    fake = FakeTiming(jitter=0.5)
    async with make_client(retry=DEFAULT_RETRY, timing=fake) as client:
        with aioresponses() as mocked:
            mocked.post(CONFIRM_URL, status=504)
            mocked.post(CONFIRM_URL, status=504)
            mocked.post(CONFIRM_URL, payload=CONFIRM_OK)
            await client.confirm_cart(A_CONFIRM)
    assert fake.sleeps == pytest.approx([0.05, 0.1])


async def test_backoff_is_capped_by_max_delay() -> None:
    """No single wait exceeds max_delay."""
    fake = FakeTiming()
    policy = RetryPolicy(max_attempts=6, base_delay=0.5, max_delay=1.0)
    async with make_client(retry=policy, timing=fake) as client:
        with aioresponses() as mocked:
            mocked.post(CONFIRM_URL, status=504, repeat=True)
            with pytest.raises(OutcomeUnknownError):
                await client.confirm_cart(A_CONFIRM)
    assert fake.sleeps == pytest.approx([0.5, 1.0, 1.0, 1.0, 1.0])


async def test_no_sleep_crosses_the_deadline() -> None:
    """A wait that would end past the deadline is not taken; the call gives up."""
    fake = FakeTiming()
    async with make_client(retry=DEFAULT_RETRY, timing=fake) as client:
        with aioresponses() as mocked:
            mocked.post(CONFIRM_URL, status=504, repeat=True)
            with pytest.raises(OutcomeUnknownError) as caught:
                await client.confirm_cart(A_CONFIRM, timeout=0.25)
    assert fake.sleeps == pytest.approx([0.1])
    assert caught.value.attempts == 2


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [("1", 1.0), ("30", 2.0), ("0", 0.1)],
)
async def test_retry_after_is_honoured_up_to_the_cap(
    retry_after: str, expected: float
) -> None:
    """Retry-After sets the wait, capped by max_delay; never below the backoff."""
    fake = FakeTiming()
    async with make_client(retry=DEFAULT_RETRY, timing=fake) as client:
        with aioresponses() as mocked:
            mocked.post(CONFIRM_URL, status=503, headers={"Retry-After": retry_after})
            mocked.post(CONFIRM_URL, payload=CONFIRM_OK)
            await client.confirm_cart(A_CONFIRM)
    assert fake.sleeps == pytest.approx([expected])


def test_retry_after_parses_seconds_and_http_dates() -> None:
    """Both Retry-After forms give seconds from now; junk gives None."""
    now = 1_800_000_000.0
    date = email.utils.formatdate(now + 3, usegmt=True)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(date, now=now) == pytest.approx(3.0)
    assert (
        parse_retry_after(email.utils.formatdate(now - 60, usegmt=True), now=now) == 0
    )
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


async def test_throttled_reserve_is_retried_after_retry_after() -> None:
    """429 is retried on every endpoint, reserve included."""
    fake = FakeTiming()
    async with make_client(retry=DEFAULT_RETRY, timing=fake) as client:
        with aioresponses() as mocked:
            mocked.post(RESERVE_URL, status=429, headers={"Retry-After": "1"})
            mocked.post(RESERVE_URL, payload=RESERVE_OK)
            await client.reserve_cart(A_RESERVE)
    assert fake.sleeps == pytest.approx([1.0])


async def test_ambiguous_reserve_is_not_retried_by_default() -> None:
    """A 504 on reserve ends at once in OutcomeUnknownError after one attempt."""
    fake = FakeTiming()
    async with make_client(retry=DEFAULT_RETRY, timing=fake) as client:
        with aioresponses() as mocked:
            mocked.post(RESERVE_URL, status=504)
            with pytest.raises(OutcomeUnknownError) as caught:
                await client.reserve_cart(A_RESERVE)
    assert caught.value.attempts == 1
    assert isinstance(caught.value.last_error, GatewayTimeoutError)
    assert caught.value.identifiers == {"cart_id": "cart-1", "cart_item_ids": "parking"}
    assert fake.sleeps == []


async def test_ambiguous_reserve_is_retried_when_the_policy_allows() -> None:
    """retry_reserve_when_ambiguous lets a 504'd reserve try again."""
    fake = FakeTiming()
    policy = dataclasses.replace(DEFAULT_RETRY, retry_reserve_when_ambiguous=True)
    async with make_client(retry=policy, timing=fake) as client:
        with aioresponses() as mocked:
            mocked.post(RESERVE_URL, status=504)
            mocked.post(RESERVE_URL, payload=RESERVE_OK)
            await client.reserve_cart(A_RESERVE)
    assert client.stats.attempts == 2


async def test_definite_4xx_is_never_retried() -> None:
    """A 400 surfaces at once as itself with attempts == 1."""
    async with make_client(retry=DEFAULT_RETRY) as client:
        with aioresponses() as mocked:
            mocked.post(CONFIRM_URL, status=400, repeat=True)
            with pytest.raises(BadRequestError) as caught:
                await client.confirm_cart(A_CONFIRM)
    assert caught.value.attempts == 1
    assert client.stats.attempts == 1


async def test_500_is_not_retried_and_502_on_placements_is() -> None:
    """500 is a definite server failure; 502 is ambiguous and placements may retry."""
    fake = FakeTiming()
    async with make_client(retry=DEFAULT_RETRY, timing=fake) as client:
        with aioresponses() as mocked:
            mocked.post(PLACEMENTS_URL, status=500)
            with pytest.raises(ServerError) as caught:
                await client.any_placements(A_PLACEMENTS)
            assert caught.value.attempts == 1
            mocked.post(PLACEMENTS_URL, status=502)
            mocked.post(PLACEMENTS_URL, payload={"result": True})
            assert await client.any_placements(A_PLACEMENTS)
    assert client.stats.attempts == 3


async def test_placements_exhausted_raises_last_error_not_outcome_unknown() -> None:
    """placements/any changes nothing, so giving up raises its last error."""
    fake = FakeTiming()
    async with make_client(retry=DEFAULT_RETRY, timing=fake) as client:
        with aioresponses() as mocked:
            mocked.post(PLACEMENTS_URL, status=504, repeat=True)
            with pytest.raises(GatewayTimeoutError) as caught:
                await client.any_placements(A_PLACEMENTS, timeout=100)
    assert caught.value.attempts == 4


async def test_budget_refusal_fails_fast_with_last_error() -> None:
    """When the budget cannot pay for a retry, the call stops at once."""
    fake = FakeTiming()
    async with make_client(retry=DEFAULT_RETRY, timing=fake) as client:
        with aioresponses() as mocked:
            mocked.post(CONFIRM_URL, status=504, repeat=True)
            await drain_budget(client, 495)
            before = client.stats
            assert before.budget_tokens == 5
            with pytest.raises(OutcomeUnknownError) as first:
                await client.confirm_cart(A_CONFIRM)
            with pytest.raises(OutcomeUnknownError) as second:
                await client.confirm_cart(A_CONFIRM)
    assert (first.value.attempts, second.value.attempts) == (2, 1)
    stats = client.stats
    assert (stats.calls - before.calls, stats.attempts - before.attempts) == (2, 3)
    assert stats.retries - before.retries == 1
    assert stats.budget_refusals - before.budget_refusals == 2
    assert stats.outcomes_unknown - before.outcomes_unknown == 2
    assert stats.budget_tokens == 0


def test_budget_charges_retries_and_refunds_first_try_successes() -> None:
    """A retry costs 5, one after a timeout 10; a refund never passes capacity."""
    budget = RetryBudget()
    assert budget.tokens == 500
    assert budget.try_spend(budget.cost_of(GatewayTimeoutError(504, None)))
    assert budget.try_spend(budget.cost_of(RequestTimeoutError("t")))
    assert budget.tokens == 485
    budget.give_back(1)
    assert budget.tokens == 486
    budget.give_back(100)
    assert budget.tokens == 500
    assert not RetryBudget(capacity=9).try_spend(10)


async def test_on_retry_hooks_receive_frozen_events() -> None:
    """Each retry reports endpoint, failed attempt, wait and cause to every hook."""
    events: list[RetryEvent] = []
    fake = FakeTiming()
    async with make_client(
        retry=DEFAULT_RETRY, on_retry=[events.append], timing=fake
    ) as client:
        with aioresponses() as mocked:
            mocked.post(CONFIRM_URL, status=504)
            mocked.post(CONFIRM_URL, payload=CONFIRM_OK)
            await client.confirm_cart(A_CONFIRM)
    (event,) = events
    assert (event.endpoint, event.attempt, event.delay) == ("confirm", 1, 0.1)
    assert isinstance(event.cause, GatewayTimeoutError)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.attempt = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (ConnectError("refused"), NEVER_SENT),
        (RateLimitError(429, None), THROTTLED),
        (GatewayTimeoutError(504, None), AMBIGUOUS),
        (ServerError(502, None), AMBIGUOUS),
        (ServerError(503, None), AMBIGUOUS),
        (ConnectionLostError("reset"), AMBIGUOUS),
        (RequestTimeoutError("slow"), AMBIGUOUS),
        (ServerError(500, None), DEFINITE),
        (BadRequestError(400, None), DEFINITE),
        (ResponseDecodeError("bad", status=200), DEFINITE),
    ],
)
def test_classification_table(error: Any, kind: Failure) -> None:
    """Failures sort into never-sent, throttled, ambiguous or definite."""
    assert classify(error) is kind


async def test_retried_success_returns_its_tokens_and_first_try_earns_one() -> None:
    """Only calls that never succeed drain the budget."""
    fake = FakeTiming()
    async with make_client(retry=DEFAULT_RETRY, timing=fake) as client:
        with aioresponses() as mocked:
            for _ in range(40):  # 20 confirms failing twice: 100 tokens
                mocked.post(CONFIRM_URL, status=504)
            mocked.post(CONFIRM_URL, status=504)
            mocked.post(CONFIRM_URL, status=504)
            mocked.post(CONFIRM_URL, payload=CONFIRM_OK)
            mocked.post(CONFIRM_URL, payload=CONFIRM_OK)
            await drain_budget(client, 100)
            assert client.stats.budget_tokens == 400
            await client.confirm_cart(A_CONFIRM)
            assert client.stats.budget_tokens == 400
            await client.confirm_cart(A_CONFIRM)
    assert client.stats.budget_tokens == 401
