"""The outbox on PostgreSQL, end to end: ``Outbox(ProcrastinateStore(app))`` and
its worker against the emulator over real sockets."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

from rokt_async.outbox import Outbox
from tests.outbox.conftest import client, reserved_confirm, reserved_release

if TYPE_CHECKING:
    from rokt_async.emulator import Emulator
    from rokt_async.outbox._procrastinate import ProcrastinateStore


async def drained(outbox: Outbox, limit: float = 20.0) -> None:
    """Wait until nothing is pending or in flight (bounded)."""
    async with asyncio.timeout(limit):
        while True:
            stats = await outbox.stats()
            if stats.pending == 0 and stats.in_flight == 0:
                return
            await asyncio.sleep(0.02)


async def test_200_confirms_are_delivered_once_under_504_after(
    pg_store: ProcrastinateStore, emulator: Emulator
) -> None:
    """200 confirms drained by ``outbox.worker`` while 10% of confirms answer 504
    after taking effect: all done, and Rokt's ledger holds no duplicate."""
    outbox = Outbox(pg_store, base_delay=0.02, max_delay=0.1)
    async with client(emulator) as rokt:
        for n in range(200):
            await outbox.put_confirm(await reserved_confirm(rokt, f"c{n}", f"o{n}"))
        emulator.faults.set_rate("confirm", "504_after", 0.1)
        async with outbox.worker(rokt, concurrency=16, poll_interval=0.02):
            await drained(outbox)
    stats = await outbox.stats()
    assert (stats.done, stats.failed, stats.unknown) == (200, 0, 0)
    ledger = emulator.ledger()
    assert ledger.duplicates == ()
    confirmed = sum(n for key, n in ledger.effects.items() if key.startswith("confirm"))
    assert confirmed == 200
    assert len(emulator.requests("confirm")) > 200  # the 504s were resent


async def test_a_release_put_after_a_confirm_is_sent_after_it(
    pg_store: ProcrastinateStore, emulator: Emulator
) -> None:
    """The cart lock orders each cart's jobs even with 16 sends at once and
    replies delayed at random."""
    outbox = Outbox(pg_store, base_delay=0.02, max_delay=0.1)
    carts = [f"c{n}" for n in range(10)]
    async with client(emulator) as rokt:
        for cart in carts:
            await outbox.put_confirm(await reserved_confirm(rokt, cart, f"o-{cart}"))
            await outbox.put_release(await reserved_release(rokt, cart))
        emulator.faults.set_rate("*", "delay", 1.0, max_ms=20)
        async with outbox.worker(rokt, concurrency=16, poll_interval=0.02):
            await drained(outbox)
    order = [
        (r.endpoint, json.loads(r.body)["cartId"])
        for r in emulator.requests()
        if r.endpoint in ("confirm", "release")
    ]
    for cart in carts:
        assert [endpoint for endpoint, c in order if c == cart] == [
            "confirm",
            "release",
        ]
    assert (await outbox.stats()).done == 20
