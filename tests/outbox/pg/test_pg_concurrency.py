"""Four claimers, each on its own app and connections, racing over one queue."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import defaultdict

from rokt_async.outbox import JobState, Outbox
from rokt_async.outbox._procrastinate import ProcrastinateStore
from tests.outbox._pg import open_app
from tests.outbox.conftest import quantity_confirm

CARTS = 50
PER_CART = 4


async def test_four_concurrent_claimers_never_lease_a_job_twice(pg_dsn: str) -> None:
    """200 jobs over 50 carts, drained by 4 claimers at once: every job is leased
    exactly once, no cart ever has two jobs in flight, and each cart's jobs are
    leased in the order they were put."""
    async with contextlib.AsyncExitStack() as stack:
        stores = []
        for _ in range(4):
            app = open_app(pg_dsn)
            await stack.enter_async_context(app.open_async())
            store = ProcrastinateStore(app)
            stack.push_async_callback(store.close)
            stores.append(store)
        outbox = Outbox(stores[0])
        put: dict[str, list[int]] = defaultdict(list)
        for n in range(PER_CART):
            for c in range(CARTS):
                job_id = await outbox.put_confirm(quantity_confirm(f"c{c}", f"o{n}"))
                put[f"c{c}"].append(job_id)
        leased: list[tuple[int, str]] = []
        per_cart: dict[str, list[int]] = defaultdict(list)
        busy: set[str] = set()
        overlaps: list[int] = []

        async def claimer(store: ProcrastinateStore, name: str) -> None:
            while len(leased) < CARTS * PER_CART:
                jobs = await store.claim(
                    now=time.time(), lease=60, limit=8, worker=name
                )
                for job in jobs:
                    if job.cart in busy:
                        overlaps.append(job.id)
                    busy.add(job.cart)
                    leased.append((job.id, name))
                    per_cart[job.cart].append(job.id)
                await asyncio.sleep(random.random() / 500)  # a send, interleaved
                busy.difference_update(job.cart for job in jobs)  # before settling
                for job in jobs:
                    await store.settle(job.id, JobState.DONE, now=time.time())
                if not jobs:
                    await asyncio.sleep(0.002)

        async with asyncio.timeout(30):
            await asyncio.gather(
                *(claimer(store, f"w{i}") for i, store in enumerate(stores))
            )
        stats = await outbox.stats()
    ids = [job_id for job_id, _ in leased]
    assert len(ids) == len(set(ids)) == CARTS * PER_CART
    assert {name for _, name in leased} == {"w0", "w1", "w2", "w3"}
    assert overlaps == []
    assert per_cart == put
    assert (stats.done, stats.pending, stats.in_flight) == (200, 0, 0)
