"""The retry layer against the emulator's faults, over real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import json
import random
import warnings
from typing import TYPE_CHECKING, Any

import pytest

from rokt_async import (
    DEFAULT_RETRY,
    NO_WAIT_RETRY,
    CancelRequest,
    ConfirmItem,
    ConfirmRequest,
    ConfirmResponse,
    OutcomeUnknownError,
    PlacementsRequest,
    PoolLimits,
    ReleaseItem,
    ReleaseRequest,
    ReserveItem,
    ReserveRequest,
    RetryEvent,
    RoktError,
    Timeouts,
    UnprocessableEntityError,
)
from rokt_async.testing import FakeTiming
from tests.conftest import emulator_client, make_client

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from rokt_async import RoktClient
    from rokt_async.emulator import Emulator

#: Short attempts (connect + read = 1.25 s) so "slow beyond timeout" faults stay
#: cheap, with connect roomy enough that a loaded CI machine still connects.
FAST_TIMEOUTS = Timeouts(connect=1.0, response=0.25)
SLOW_MS = 1500.0  # a "slow" fault: well past one FAST_TIMEOUTS attempt
#: No waits, and quantity-only confirms resent after ambiguous failures too: for
#: tests about retries themselves (budget, memory), not about resend safety.
QUANTITY_RESENDS = dataclasses.replace(
    NO_WAIT_RETRY, retry_quantity_confirm_when_ambiguous=True
)


def quantity_confirm(n: int, *, order: str = "o") -> ConfirmRequest:
    """A confirm that needs no reservation: a quantity-only item in its own cart."""
    return ConfirmRequest(
        cart_id=f"cart-{n}",
        order_id=f"{order}-{n}",
        items=(ConfirmItem(cart_item_id="parking", quantity=1),),
    )


def client_for(emulator: Emulator, **options: Any) -> RoktClient:
    options.setdefault("timeouts", FAST_TIMEOUTS)
    return emulator_client(emulator, **options)


async def test_retried_confirm_resends_identical_bytes_and_session_id(
    emulator: Emulator,
) -> None:
    """Every attempt of one confirm carries the same body and rokt-session-id."""
    async with client_for(emulator) as client:
        reservation = await _reserved(client, "cart-1")
        emulator.faults.fail_next("confirm", "504_after")
        emulator.faults.fail_next("confirm", "reset_after")
        response = await client.confirm_cart(
            ConfirmRequest(
                cart_id="cart-1",
                order_id="order-1",
                items=(ConfirmItem(cart_item_id="p", item_reservation_id=reservation),),
            )
        )
    assert response.items[0].success
    seen = emulator.requests("confirm")
    assert len(seen) == 3
    assert len({r.body for r in seen}) == 1
    assert len({r.headers["rokt-session-id"] for r in seen}) == 1
    ledger = emulator.ledger()
    assert ledger.confirmations("cart-1", "p") == 1
    assert ledger.duplicates == ()


async def test_total_outage_is_not_amplified_and_recovery_is_clean(
    emulator: Emulator,
) -> None:
    """During a 504 outage the budget pays for 100 retries and refuses the rest:
    10,000 confirms cost 10,100 requests. Healed, 1,000 confirms each succeed at
    the first attempt though the bucket starts empty, and refill it."""
    emulator.faults.set_rate("confirm", "504_before", 1.0)
    # Quantity confirms are resent only when the policy allows it: here it must,
    # so that every call of the outage wants retries the budget has to refuse.
    # FakeTiming: no backoff wait takes time and no deadline passes while the
    # machine is busy; roomy attempts: no attempt times out (a timeout costs 10
    # tokens, not 5, and would change every figure below).
    timing = FakeTiming()
    async with client_for(
        emulator,
        limits=_pool(128),
        retry=dataclasses.replace(
            DEFAULT_RETRY, retry_quantity_confirm_when_ambiguous=True
        ),
        timeouts=Timeouts(connect=5.0, response=10.0),
        timing=timing,
    ) as client:
        full = client.stats.budget_tokens
        outage = await client.confirm_many(
            [quantity_confirm(n) for n in range(10_000)], concurrency=128
        )
        during = client.stats
        sent_during = len(emulator.requests("confirm"))
        emulator.faults.clear()
        after = await client.confirm_many(
            [quantity_confirm(n, order="next") for n in range(10_000, 11_000)]
        )
        healed = client.stats
    paid = full // 5  # retries an empty bucket paid for, 5 tokens each
    assert all(isinstance(r, OutcomeUnknownError) for r in outage)
    assert (during.calls, during.retries, during.attempts) == (
        10_000,
        paid,
        10_000 + paid,
    )
    assert sent_during == during.attempts  # the emulator saw every one, no more
    assert during.budget_tokens == 0
    assert len(timing.sleeps) == paid  # one backoff wait per paid retry
    # Every call but those that used all 4 attempts (3 paid retries each) ended
    # on a refusal.
    assert 10_000 - paid // 3 <= during.budget_refusals <= 10_000
    assert all(isinstance(r, ConfirmResponse) and r.is_complete for r in after)
    assert (
        healed.calls - during.calls,
        healed.attempts - during.attempts,
        healed.retries - during.retries,
    ) == (1_000, 1_000, 0)
    assert len(emulator.requests("confirm")) - sent_during == 1_000
    assert healed.budget_tokens == full  # 1 token back per first-try success


def _pool(size: int) -> PoolLimits:
    return PoolLimits(connections=size)


async def _reserved(client: RoktClient, cart: str) -> str:
    reserved = await client.reserve_cart(
        ReserveRequest(cart_id=cart, items=(ReserveItem(cart_item_id="p", quantity=1),))
    )
    return reserved.items[0].item_reservation_id


async def _confirmed(client: RoktClient, cart: str) -> str:
    reservation = await _reserved(client, cart)
    await client.confirm_cart(
        ConfirmRequest(
            cart_id=cart,
            order_id=f"order-{cart}",
            items=(ConfirmItem(cart_item_id="p", item_reservation_id=reservation),),
        )
    )
    return reservation


async def _call(client: RoktClient, endpoint: str) -> Callable[[], Awaitable[object]]:
    """Prepare state for ``endpoint`` (without faults) and return the call to test."""
    if endpoint == "reserve":
        request = ReserveRequest(
            cart_id="m", items=(ReserveItem(cart_item_id="p", quantity=1),)
        )
        return lambda: client.reserve_cart(request)
    if endpoint == "confirm":
        reservation = await _reserved(client, "m")
        confirm = ConfirmRequest(
            cart_id="m",
            order_id="order-m",
            items=(ConfirmItem(cart_item_id="p", item_reservation_id=reservation),),
        )
        return lambda: client.confirm_cart(confirm)
    if endpoint == "release":
        reservation = await _reserved(client, "m")
        release = ReleaseRequest(
            cart_id="m",
            items=(ReleaseItem(cart_item_id="p", item_reservation_id=reservation),),
        )
        return lambda: client.release_cart(release)
    if endpoint == "cancel":
        cancel = CancelRequest(item_reservation_id=await _confirmed(client, "m"))
        return lambda: client.cancel_confirmation(cancel)
    placements = PlacementsRequest(cart_id="m", page_identifier="checkout.upsell")
    return lambda: client.any_placements(placements)


ENDPOINTS = ["reserve", "confirm", "release", "cancel", "placements"]
AMBIGUOUS_FAULTS = [
    "504_before",
    "504_after",
    "502_html",
    "503_retry_after",
    "reset_before",
    "reset_after",
    "truncate",
    "delay",
]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("kind", [*AMBIGUOUS_FAULTS, "500"])
async def test_attempts_follow_the_classification(
    emulator: Emulator, endpoint: str, kind: str
) -> None:
    """Under a persistent fault, attempts are 4 where resending is safe, else 1."""
    policy = dataclasses.replace(NO_WAIT_RETRY, deadlines={endpoint: 30.0})
    params = {"ms": SLOW_MS} if kind == "delay" else {}
    # An attempt lasts at most connect + response: 0.5 s, not FAST_TIMEOUTS' 1.25.
    quick = Timeouts(connect=0.25, response=0.25)
    async with client_for(emulator, retry=policy, timeouts=quick) as client:
        call = await _call(client, endpoint)
        before = len(emulator.requests(endpoint))
        emulator.faults.set_rate(endpoint, kind, 1.0, **params)
        with pytest.raises(RoktError) as caught:
            await call()
        emulator.faults.clear()
    attempts = len(emulator.requests(endpoint)) - before
    retried = kind != "500" and endpoint != "reserve"
    assert attempts == (4 if retried else 1)
    assert caught.value.attempts == attempts
    unknown = kind != "500" and endpoint != "placements"
    assert isinstance(caught.value, OutcomeUnknownError) is unknown


async def test_hedged_placements_takes_the_first_answer(emulator: Emulator) -> None:
    """A stalled placements call is hedged; the quick copy answers, the slow one is
    cancelled and gives its pool slot back, and the hedge is counted."""
    emulator.faults.fail_next("placements", "delay", ms=2000.0)
    policy = dataclasses.replace(NO_WAIT_RETRY, hedge_placements_after=0.05)
    placements = PlacementsRequest(cart_id="h", page_identifier="checkout.upsell")
    roomy = Timeouts(connect=1.0, response=2.0)  # the 300 ms replies below fit
    async with client_for(
        emulator, retry=policy, limits=_pool(2), timeouts=roomy
    ) as client:
        shown = await client.any_placements(placements)
        stats = client.stats
        # Both slots free again: two slow calls at once take two connections.
        emulator.faults.fail_next("placements", "delay", count=2, ms=300.0)
        slow = dataclasses.replace(NO_WAIT_RETRY, deadlines={"placements": 10.0})
        both = await asyncio.gather(
            *(
                client.with_options(retry=slow).any_placements(placements)
                for _ in range(2)
            )
        )
    assert shown is True
    assert (stats.calls, stats.attempts, stats.hedges) == (1, 2, 1)
    seen = emulator.requests("placements")
    assert len(seen) == 4  # the first copy and its hedge, then the pair
    assert both == [True, True]
    assert len({r.connection_id for r in seen[2:]}) == 2


async def test_confirm_many_keeps_order_and_isolates_failures(
    emulator: Emulator,
) -> None:
    """Results come back in input order; a refused request fails alone."""
    ghost = ConfirmRequest(
        cart_id="never-reserved",
        order_id="o",
        items=(ConfirmItem(cart_item_id="p", item_reservation_id="nope"),),
    )
    requests = [quantity_confirm(0), ghost, quantity_confirm(2)]
    async with client_for(emulator) as client:
        results = await client.confirm_many(requests, concurrency=2)
    assert [type(r) for r in results] == [
        ConfirmResponse,
        UnprocessableEntityError,
        ConfirmResponse,
    ]
    assert [r.cart_id for r in results if isinstance(r, ConfirmResponse)] == [
        "cart-0",
        "cart-2",
    ]


async def test_cancelling_in_flight_calls_leaves_a_clean_pool(
    emulator: Emulator,
) -> None:
    """2,000 confirms cancelled at random points (pool wait, send, read, backoff):
    each ends in CancelledError, the emulator receives no attempt of a call beyond
    those it had begun when it was cancelled, every pool slot comes back, nothing
    warns, and the client keeps working."""
    emulator.faults.set_rate("confirm", "delay", 0.5, max_ms=40.0)
    emulator.faults.set_rate("confirm", "504_before", 0.2)
    # Resent after a 504, so calls are also cancelled in their backoff waits.
    policy = dataclasses.replace(QUANTITY_RESENDS, base_delay=0.01, max_delay=0.02)
    rng = random.Random(3)
    retries_of: collections.Counter[asyncio.Task[Any] | None] = collections.Counter()

    def count_retry(event: RetryEvent) -> None:  # runs in the retrying call's task
        retries_of[asyncio.current_task()] += 1

    pool = 32
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client = make_client(
            emulator.url,
            api_key=emulator.api_key,
            tag_id=emulator.tag_id,
            retry=policy,
            limits=_pool(pool),
            on_retry=[count_retry],
        )
        async with client:
            tasks = [
                asyncio.ensure_future(client.confirm_cart(quantity_confirm(n)))
                for n in range(2_000)
            ]
            # Attempts each call had begun (its first, and one per retry announced
            # to the hook) when it was first cancelled before finishing.
            begun: dict[int, int] = {}

            def cancel(index: int) -> None:
                attempts_so_far = 1 + retries_of[tasks[index]]
                if tasks[index].cancel():
                    begun.setdefault(index, attempts_so_far)

            for _ in range(20):  # cancel in waves: pool wait, send, read, backoff
                await asyncio.sleep(rng.uniform(0.0, 0.01))
                for index in rng.sample(range(len(tasks)), 100):
                    cancel(index)
            for index in range(len(tasks)):
                cancel(index)
            outcomes = await asyncio.gather(*tasks, return_exceptions=True)
            finished = {
                n: 1 + retries_of[task]
                for n, task in enumerate(tasks)
                if n not in begun
            }
            # Every slot came back: as many slow calls at once as the pool holds
            # each get a connection of their own.
            emulator.faults.clear()
            emulator.faults.set_rate("confirm", "delay", 1.0, ms=300.0)
            again = await asyncio.gather(
                *(
                    client.confirm_cart(quantity_confirm(100_000 + n))
                    for n in range(pool)
                )
            )
            attempts = client.stats.attempts
    seen = emulator.requests("confirm")
    sent_to = collections.Counter(json.loads(r.body)["cartId"] for r in seen)
    assert len(begun) >= 100
    assert all(isinstance(outcomes[i], asyncio.CancelledError) for i in begun)
    assert all(
        isinstance(o, ConfirmResponse | RoktError | asyncio.CancelledError)
        for o in outcomes
    )
    assert sum(retries_of.values()) > 0  # 504s were resent: there were waits to cut
    beyond = {
        n: (sent_to[f"cart-{n}"], most)
        for n, most in {**finished, **begun}.items()
        if sent_to[f"cart-{n}"] > most
    }
    assert beyond == {}  # no attempt started after its call was cancelled
    assert len(seen) <= attempts  # and none went out uncounted
    assert all(r.items[0].success for r in again)
    late = {f"cart-{100_000 + n}" for n in range(pool)}
    last = [r for r in seen if json.loads(r.body)["cartId"] in late]
    assert len(last) == pool
    assert len({r.connection_id for r in last}) == pool
    assert [w for w in caught if "Unclosed" in str(w.message)] == []
    assert emulator.ledger().duplicates == ()
