"""Rokt down (100% 503) for a while, then healthy: the outbox waits it out on
its stored backoff, never in a hot loop, and then delivers every job.

Smoke: a 2 s outage in ``make test``; ``make soak``: the issue's 60 s.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from rokt_async import NO_RETRY
from rokt_async.outbox import JobState, Outbox, SQLiteStore
from tests.outbox.conftest import client, reserved_confirm

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from rokt_async.emulator import Emulator
    from tests.reliability._figures import Figures


def most_sends(seconds: float, base: float, cap: float) -> int:
    """Sends a job can make in ``seconds`` when every wait is the shortest the
    backoff allows: after the k-th send, half of ``min(cap, base * 2**(k - 1))``."""
    sends, spent = 1, 0.0
    while True:
        wait = min(cap, base * 2 ** (sends - 1)) / 2
        if spent + wait > seconds:
            return sends
        spent += wait
        sends += 1


async def test_an_outage_is_waited_out_on_the_stored_backoff(
    emulator: Emulator,
    tmp_path: Path,
    size: Callable[[int, int], int],
    figures: Figures,
) -> None:
    seconds = float(size(2, 60))
    base, cap = 0.1, 5.0
    outbox = Outbox(SQLiteStore(str(tmp_path / "o.db")), base_delay=base, max_delay=cap)
    try:
        async with client(emulator, retry=NO_RETRY) as rokt:
            ids = [
                await outbox.put_confirm(await reserved_confirm(rokt, f"c{n}", f"o{n}"))
                for n in range(20)
            ]
            emulator.faults.set_rate("confirm", "503_retry_after", 1.0, retry_after=0)
            async with outbox.worker(rokt, concurrency=20, poll_interval=0.05):
                await asyncio.sleep(seconds)
                during = [await outbox.job(i) for i in ids]
                sent_during = len(emulator.requests("confirm"))
                emulator.faults.clear()
                async with asyncio.timeout(2 * cap + 10):
                    while (await outbox.stats()).done < len(ids):  # noqa: ASYNC110
                        await asyncio.sleep(0.05)
        bound = most_sends(seconds, base, cap)
        attempts = [j.attempts for j in during if j is not None]
        assert len(attempts) == len(ids)
        assert max(attempts) <= bound  # no hot loop: the backoff held
        assert min(attempts) >= 2  # and it kept trying
        assert all(
            j is not None and j.state in (JobState.PENDING, JobState.IN_FLIGHT)
            for j in during
        )
        assert emulator.ledger().duplicates == ()
        figures.record(
            "test_outbox_outage",
            f"sends per job during a {seconds:.0f} s outage",
            f"{min(attempts)}..{max(attempts)} ({sent_during} in all), then all done",
            f"<= {bound} (backoff {base} s doubling to {cap} s)",
            met=True,
        )
    finally:
        await outbox.close()
