"""README promises about calls, each watched from the server's side (#11): hedges
and their cost, with_options(retry=), from_env's keywords, the fan-out bound, and
per-item failures."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
from typing import TYPE_CHECKING, Final

import pytest
from aiohttp import web

from rokt_async import (
    NO_RETRY,
    NO_WAIT_RETRY,
    ConfirmItem,
    ConfirmRequest,
    ConfirmResponse,
    GatewayTimeoutError,
    PlacementsRequest,
    ReleaseItem,
    ReleaseRequest,
    ReleaseResponse,
    ReserveItem,
    ReserveRequest,
    RoktClient,
    Timeouts,
)
from tests.conftest import A_CONFIRM, A_RELEASE, make_client
from tests.integration.test_promises import CONFIRM_OK
from tests.integration.test_retry_faults import client_for

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from rokt_async.emulator import Emulator

PLACEMENTS: Final = PlacementsRequest(cart_id="h", page_identifier="checkout.upsell")
#: Attempts roomy enough that nothing here times out on a loaded machine.
ROOMY: Final = Timeouts(connect=2.0, response=10.0)
RELEASE_OK: Final = (
    b'{"cartId":"cart-1","items":[{"cartItemId":"parking",'
    b'"itemReservationId":"res-1","success":true}]}'
)


# --- hedged placements ----------------------------------------------------------


async def test_a_hedge_costs_the_budget_one_retry(emulator: Emulator) -> None:
    """A placements call whose first copy stalls is hedged once; the hedge takes a
    retry's 5 tokens and is not given back when the call succeeds (the success
    earns its usual 1)."""
    emulator.faults.fail_next("placements", "delay", ms=2000.0)
    policy = dataclasses.replace(NO_WAIT_RETRY, hedge_placements_after=0.05)
    async with client_for(emulator, retry=policy, timeouts=ROOMY) as rokt:
        full = rokt.stats.budget_tokens
        shown = await rokt.any_placements(PLACEMENTS)
        stats = rokt.stats
    assert shown is True
    assert (stats.hedges, stats.retries, stats.attempts) == (1, 0, 2)
    assert stats.budget_tokens == full - 5 + 1
    assert len(emulator.requests("placements")) == 2


async def test_no_hedge_is_sent_when_the_first_copy_answers_before_the_delay(
    emulator: Emulator,
) -> None:
    """A placements call answered well before hedge_placements_after sends one
    request: the emulator records one, no hedge is counted and nothing is paid."""
    policy = dataclasses.replace(
        NO_WAIT_RETRY, hedge_placements_after=5.0, deadlines={"placements": 10.0}
    )
    async with client_for(emulator, retry=policy, timeouts=ROOMY) as rokt:
        full = rokt.stats.budget_tokens
        shown = await rokt.any_placements(PLACEMENTS)
        stats = rokt.stats
    assert shown is True
    assert len(emulator.requests("placements")) == 1
    assert (stats.hedges, stats.attempts) == (0, 1)
    assert stats.budget_tokens == full


# --- with_options(retry=...) ------------------------------------------------------


async def test_with_options_retry_sets_the_views_attempts_and_not_the_parents(
    emulator: Emulator,
) -> None:
    """Under a persistent 504 the view made with a 2-attempt policy sends 2
    requests, and its parent, still on its own 4-attempt policy, sends 4."""
    emulator.faults.set_rate("placements", "504_before", 1.0)
    two = dataclasses.replace(NO_WAIT_RETRY, max_attempts=2)
    async with client_for(emulator, retry=NO_WAIT_RETRY, timeouts=ROOMY) as rokt:
        view = rokt.with_options(retry=two)
        with pytest.raises(GatewayTimeoutError) as by_view:
            await view.any_placements(PLACEMENTS)
        sent_by_view = len(emulator.requests("placements"))
        with pytest.raises(GatewayTimeoutError) as by_parent:
            await rokt.any_placements(PLACEMENTS)
        sent_by_parent = len(emulator.requests("placements")) - sent_by_view
    assert (sent_by_view, sent_by_parent) == (2, 4)
    assert (by_view.value.attempts, by_parent.value.attempts) == (2, 4)


# --- from_env ---------------------------------------------------------------------


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port that is bound but not listening: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


async def test_from_env_keywords_win_over_the_environment(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch, closed_port: int
) -> None:
    """ROKT_* name a refused key, tag id and a closed port; from_env's keyword
    arguments name the emulator's, and they are what the emulator receives."""
    monkeypatch.setenv("ROKT_API_KEY", "env-key-the-emulator-refuses")
    monkeypatch.setenv("ROKT_TAG_ID", "env-tag-the-emulator-refuses")
    monkeypatch.setenv("ROKT_BASE_URL", f"http://127.0.0.1:{closed_port}")
    async with RoktClient.from_env(
        api_key=emulator.api_key,
        tag_id=emulator.tag_id,
        base_url=emulator.url,
        retry=NO_RETRY,
    ) as rokt:
        assert await rokt.any_placements(PLACEMENTS) is True
    [seen] = emulator.requests("placements")
    assert (seen.headers["rokt-api-key"], seen.headers["rokt-tag-id"]) == (
        emulator.api_key,
        emulator.tag_id,
    )


async def test_from_env_fills_in_only_what_the_keywords_leave_out(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ROKT_API_KEY unset, a keyword api_key is enough: the tag id and base
    URL still come from ROKT_TAG_ID and ROKT_BASE_URL."""
    monkeypatch.delenv("ROKT_API_KEY", raising=False)
    monkeypatch.setenv("ROKT_TAG_ID", emulator.tag_id)
    monkeypatch.setenv("ROKT_BASE_URL", emulator.url)
    async with RoktClient.from_env(api_key=emulator.api_key, retry=NO_RETRY) as rokt:
        assert await rokt.any_placements(PLACEMENTS) is True
    [seen] = emulator.requests("placements")
    assert seen.headers["rokt-api-key"] == emulator.api_key


# --- the fan-out bound ------------------------------------------------------------


@contextlib.asynccontextmanager
async def counting_server(body: bytes, in_flight: list[int]) -> AsyncIterator[str]:
    """Holds each request 50 ms before answering ``body``; ``in_flight`` gets the
    number of requests in the server after each one arrives."""
    busy = 0

    async def handle(request: web.Request) -> web.Response:
        nonlocal busy
        await request.read()
        busy += 1
        in_flight.append(busy)
        try:
            await asyncio.sleep(0.05)
        finally:
            busy -= 1
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def test_confirm_many_never_has_more_than_concurrency_calls_in_flight() -> None:
    """12 confirms at concurrency=3 against a slow server: it never holds more than
    3 at once, and does hold 3 (the pool, 100, is not what limits them)."""
    in_flight: list[int] = []
    async with counting_server(CONFIRM_OK, in_flight) as url, make_client(url) as rokt:
        results = await rokt.confirm_many([A_CONFIRM] * 12, concurrency=3)
    assert all(isinstance(r, ConfirmResponse) for r in results)
    assert len(in_flight) == 12
    assert max(in_flight) == 3


async def test_release_many_never_has_more_than_concurrency_calls_in_flight() -> None:
    """8 releases at concurrency=2 against a slow server: it never holds more than
    2 at once, and does hold 2."""
    in_flight: list[int] = []
    async with counting_server(RELEASE_OK, in_flight) as url, make_client(url) as rokt:
        results = await rokt.release_many([A_RELEASE] * 8, concurrency=2)
    assert all(isinstance(r, ReleaseResponse) for r in results)
    assert len(in_flight) == 8
    assert max(in_flight) == 2


# --- per-item failures ------------------------------------------------------------


async def test_failed_items_of_a_confirm_keep_their_item_reservation_id(
    emulator: Emulator,
) -> None:
    """A 200 confirm whose second item names a reservation already released
    reports that item failed, with the itemReservationId it was sent with."""
    async with client_for(emulator, timeouts=ROOMY) as rokt:
        held = await rokt.reserve_cart(
            ReserveRequest(
                cart_id="mixed",
                items=(
                    ReserveItem(cart_item_id="p", quantity=1),
                    ReserveItem(cart_item_id="q", quantity=1),
                ),
            )
        )
        by_item = {i.cart_item_id: i.item_reservation_id for i in held.items}
        await rokt.release_cart(
            ReleaseRequest(
                cart_id="mixed",
                items=(
                    ReleaseItem(cart_item_id="q", item_reservation_id=by_item["q"]),
                ),
            )
        )
        confirmed = await rokt.confirm_cart(
            ConfirmRequest(
                cart_id="mixed",
                order_id="order-mixed",
                items=tuple(
                    ConfirmItem(cart_item_id=item, item_reservation_id=rid)
                    for item, rid in by_item.items()
                ),
            )
        )
    [failed] = confirmed.failed_items
    assert (failed.cart_item_id, failed.item_reservation_id) == ("q", by_item["q"])
    assert [
        (i.cart_item_id, i.success, i.item_reservation_id) for i in confirmed.items
    ] == [
        ("p", True, by_item["p"]),
        ("q", False, by_item["q"]),
    ]
