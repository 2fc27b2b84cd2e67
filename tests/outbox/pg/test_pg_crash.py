"""A worker process killed mid-send: procrastinate's heartbeats find its jobs."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from rokt_async import CancelRequest
from rokt_async.outbox import JobState, Outbox
from rokt_async.outbox._procrastinate import ProcrastinateStore
from tests.outbox.conftest import quantity_confirm
from tests.outbox.pg._claimer import HEARTBEAT, STALLED

if TYPE_CHECKING:
    from procrastinate import App

ROOT = Path(__file__).resolve().parents[3]


async def recovered_within(store: ProcrastinateStore, limit: float) -> int:
    """Call ``recover`` until it takes jobs back (bounded); how many it took."""
    async with asyncio.timeout(limit):
        while True:
            count = await store.recover(time.time())
            if count:
                return count
            await asyncio.sleep(0.1)


async def test_a_killed_workers_jobs_come_back_by_the_resend_rules(
    pg_dsn: str, pg_app: App
) -> None:
    """SIGKILL a process holding three jobs on a one-hour lease: once its
    heartbeat is ``stalled_timeout`` old they are recovered (the unsafe started
    one as unknown), while a live worker keeps its own job past that timeout."""
    live = ProcrastinateStore(
        pg_app, heartbeat_interval=HEARTBEAT, stalled_timeout=STALLED
    )
    outbox = Outbox(live)
    safe = await outbox.put_cancel(CancelRequest(item_reservation_id="r1"))
    unsafe = await outbox.put_confirm(quantity_confirm("c1", "o1"))
    idle = await outbox.put_confirm(quantity_confirm("c2", "o1"))
    child = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "tests.outbox.pg._claimer", pg_dsn),
        *(str(safe), str(unsafe)),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        async with asyncio.timeout(20):
            assert await child.stdout.readline() == b"claimed 3\n"
        mine = await outbox.put_confirm(quantity_confirm("c3", "o1"))
        (held,) = await live.claim(now=time.time(), lease=3600, limit=5, worker="me")
        assert held.id == mine
        assert await live.recover(time.time()) == 0  # its heartbeat is fresh
    finally:
        child.kill()
        await child.wait()
    try:
        assert await recovered_within(live, 10 * STALLED) == 3
        await asyncio.sleep(STALLED)  # our own claim is now older than that too
        assert await live.recover(time.time()) == 0
        jobs = {j.id: j for j in await outbox.jobs()}
        assert {i: j.state for i, j in jobs.items()} == {
            safe: JobState.PENDING,
            unsafe: JobState.UNKNOWN,
            idle: JobState.PENDING,
            mine: JobState.IN_FLIGHT,
        }
        assert (jobs[safe].attempts, jobs[unsafe].attempts) == (1, 1)
    finally:
        await live.close()
