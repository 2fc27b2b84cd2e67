"""A worker killed with SIGKILL at a random point loses nothing and buys nothing
twice: every job ends done, failed or unknown (with its reason), in the emulator's
``reject`` and ``duplicate`` resend modes, under 504-after and resets.

Smoke: 2 runs of 100 confirms in ``make test``; ``make soak``: 50 runs of 500.
"""

from __future__ import annotations

import asyncio
import random
from typing import TYPE_CHECKING

from rokt_async.outbox import Outbox, SQLiteStore
from tests.outbox._processes import start_worker, stop
from tests.outbox.conftest import client, quantity_confirm, reserved_confirm

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from rokt_async.emulator import Emulator
    from tests.reliability._figures import Figures


async def test_a_killed_worker_loses_no_job_and_buys_nothing_twice(
    emulator: Emulator,
    tmp_path: Path,
    size: Callable[[int, int], int],
    figures: Figures,
) -> None:
    runs, confirms = size(2, 50), size(100, 500)
    rng = random.Random(7)  # kill points, not secrets
    totals = {"done": 0, "failed": 0, "unknown": 0}
    for run in range(runs):
        emulator.reset()
        emulator.set_resend("reject" if run % 2 == 0 else "duplicate")
        db = str(tmp_path / f"run-{run}.db")
        outbox = Outbox(SQLiteStore(db), base_delay=0.02, max_delay=0.2)
        async with client(emulator) as rokt:
            for n in range(confirms):
                cart, order = f"r{run}-c{n}", f"r{run}-o{n}"
                request = (
                    quantity_confirm(cart, order)
                    if n % 4 == 0
                    else await reserved_confirm(rokt, cart, order)
                )
                await outbox.put_confirm(request)
        emulator.faults.set_rate("confirm", "504_after", 0.1)
        emulator.faults.set_rate("confirm", "reset_after", 0.02)
        first = start_worker(db, emulator, lease=1.0)
        await asyncio.sleep(rng.uniform(0.05, 0.8))
        first.kill()  # SIGKILL: no cleanup at all
        first.wait()
        assert first.stderr is not None
        first.stderr.close()
        second = start_worker(db, emulator, lease=1.0)
        try:
            async with asyncio.timeout(60):
                while True:
                    stats = await outbox.stats()
                    if stats.pending == 0 and stats.in_flight == 0:
                        break
                    await asyncio.sleep(0.05)
        finally:
            assert stop(second) == 0
        stats = await outbox.stats()
        assert stats.done + stats.failed + stats.unknown == confirms  # none lost
        for state in ("failed", "unknown"):
            assert all(job.reason for job in await outbox.jobs(state, limit=confirms))
        assert emulator.ledger().duplicates == ()  # nothing bought twice
        for name in totals:
            totals[name] += getattr(stats, name)
        await outbox.close()
    figures.record(
        "test_outbox_crash",
        f"SIGKILL mid-drain, {runs} runs x {confirms} confirms",
        f"done {totals['done']}, failed {totals['failed']},"
        f" unknown {totals['unknown']}; 0 lost, 0 bought twice",
        "0 lost, 0 duplicates",
        met=True,
    )
