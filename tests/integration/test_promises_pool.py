"""README promises about the connection pool, each watched from the server's side
(#11): the pool's bound, the client's keep-alive, and stale keep-alives."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Final

import pytest

from rokt_async import (
    ConfirmItem,
    ConfirmRequest,
    ConnectionLostError,
    OutcomeUnknownError,
    PoolLimits,
    ReserveItem,
    ReserveRequest,
    Timeouts,
)
from rokt_async.emulator import Emulator
from tests.conftest import A_CONFIRM, emulator_client, make_client
from tests.integration._servers import raw_server, read_request, reply
from tests.integration.test_promises import CONFIRM_OK
from tests.integration.test_retry_faults import quantity_confirm

if TYPE_CHECKING:
    from asyncio import StreamReader, StreamWriter

    from rokt_async import RoktClient

#: Attempts roomy enough that nothing in these tests times out on a loaded machine.
ROOMY: Final = Timeouts(connect=2.0, response=10.0)
#: How long after its answer the emulator's ``idle_close`` fault drops the
#: connection: the client sends its next request well within it.
CLOSE_MS: Final = 300.0
#: Longer than any of these tests: a request held this long is in flight on its
#: connection when the server drops it.
HELD_MS: Final = 10_000.0
#: Hang guard only (a client that ignored its keep-alive would keep the connection
#: for aiohttp's default 15 s); the keep-alive under test is 0.2 s.
CLOSE_GUARD: Final = 3.0


def one_spot(cart: str) -> ReserveRequest:
    return ReserveRequest(
        cart_id=cart, items=(ReserveItem(cart_item_id="p", quantity=1),)
    )


async def test_pool_never_opens_more_connections_than_its_limit() -> None:
    """Twelve concurrent confirms, each answered slowly, on a pool of 3: the
    emulator never holds more than 3 connections from the client, and holds 3."""
    async with Emulator() as emulator:  # its own: the peak is this test's alone
        emulator.faults.set_rate("confirm", "delay", 1.0, ms=50.0)
        async with emulator_client(
            emulator, limits=PoolLimits(connections=3), timeouts=ROOMY
        ) as rokt:
            results = await asyncio.gather(
                *(rokt.confirm_cart(quantity_confirm(n)) for n in range(12))
            )
        peak = emulator.peak_connections
        used = {r.connection_id for r in emulator.requests("confirm")}
    assert all(r.is_complete for r in results)
    assert peak == 3
    assert len(used) == 3


async def test_idle_connection_is_closed_by_the_client_after_keepalive() -> None:
    """With PoolLimits(keepalive=0.2), back-to-back calls share one connection;
    left idle, the client closes it itself, and the next call opens a new one."""
    served: list[int] = []  # the connection (1, 2...) each request arrived on
    closed_by_client: list[int] = []
    client_closed = asyncio.Event()
    opened = 0

    async def handler(reader: StreamReader, writer: StreamWriter) -> None:
        nonlocal opened
        opened += 1
        connection = opened
        try:
            while True:
                await read_request(reader)
                served.append(connection)
                writer.write(reply(200, CONFIRM_OK))
                await writer.drain()
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:  # a clean EOF between requests: the client closed
                closed_by_client.append(connection)
                client_closed.set()
        finally:
            writer.close()

    limits = PoolLimits(connections=4, keepalive=0.2)
    async with raw_server(handler) as url, make_client(url, limits=limits) as rokt:
        await rokt.confirm_cart(A_CONFIRM)
        await rokt.confirm_cart(A_CONFIRM)
        reused, closed_while_busy = list(served), list(closed_by_client)
        async with asyncio.timeout(CLOSE_GUARD):  # hang guard, see CLOSE_GUARD
            await client_closed.wait()
        await rokt.confirm_cart(A_CONFIRM)
    assert reused == [1, 1]
    assert closed_while_busy == []
    assert closed_by_client[:1] == [1]
    assert served == [1, 1, 2]


def _stale_keepalive_client(emulator: Emulator) -> RoktClient:
    """One pooled connection, so the second call must take the first call's."""
    return emulator_client(emulator, limits=PoolLimits(connections=1), timeouts=ROOMY)


async def test_stale_keepalive_on_a_reserve_is_outcome_unknown_and_not_resent(
    emulator: Emulator,
) -> None:
    """The server drops a kept-alive connection while a reserve is in flight on
    it: ConnectionLostError, not resent (a second reserve could hold stock
    twice), so OutcomeUnknownError saying a resend is unsafe; it did take effect."""
    emulator.faults.fail_next("reserve", "idle_close", ms=CLOSE_MS)
    emulator.faults.fail_next("reserve", "delay", ms=HELD_MS)
    async with _stale_keepalive_client(emulator) as rokt:
        await rokt.reserve_cart(one_spot("kept"))
        with pytest.raises(OutcomeUnknownError) as caught:
            await rokt.reserve_cart(one_spot("stale"))
    first, second = emulator.requests("reserve")
    assert first.connection_id == second.connection_id  # the pooled one, reused
    error = caught.value
    assert isinstance(error.last_error, ConnectionLostError)
    assert (error.endpoint, error.attempts, error.resend_is_safe) == (
        "reserve",
        1,
        False,
    )
    assert emulator.ledger().stock["p"].held == 2  # the lost reserve held stock


async def test_stale_keepalive_on_a_reservation_confirm_is_retried_and_succeeds(
    emulator: Emulator,
) -> None:
    """The server drops a kept-alive connection while a reservation confirm is in
    flight on it: the same bytes go again on a new connection, the caller gets
    the confirmation, and the cart line is bought once."""
    async with _stale_keepalive_client(emulator) as rokt:
        held = [await rokt.reserve_cart(one_spot(cart)) for cart in ("kept", "stale")]
        confirms = [
            ConfirmRequest(
                cart_id=r.cart_id,
                order_id=f"order-{r.cart_id}",
                items=(
                    ConfirmItem(
                        cart_item_id="p",
                        item_reservation_id=r.items[0].item_reservation_id,
                    ),
                ),
            )
            for r in held
        ]
        emulator.faults.fail_next("confirm", "idle_close", ms=CLOSE_MS)
        emulator.faults.fail_next("confirm", "delay", ms=HELD_MS)
        await rokt.confirm_cart(confirms[0])
        confirmed = await rokt.confirm_cart(confirms[1])
        stats = rokt.stats
    kept, lost, resent = emulator.requests("confirm")
    assert kept.connection_id == lost.connection_id != resent.connection_id
    assert lost.body == resent.body
    assert confirmed.is_complete
    assert stats.retries == 1
    ledger = emulator.ledger()
    assert ledger.confirmations("stale", "p") == 1
    assert ledger.duplicates == ()
