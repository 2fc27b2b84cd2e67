"""A worker process that claims every due outbox job, starts the sends of the
ids it is given, says so and hangs until killed: ``python -m
tests.outbox.pg._claimer DSN [JOB_ID ...]``."""

from __future__ import annotations

import asyncio
import sys
import time

from rokt_async.outbox._procrastinate import ProcrastinateStore
from tests.outbox._pg import open_app

#: The heartbeats of the store in this process, and the timeout the test uses.
HEARTBEAT = 0.2
STALLED = 1.5


async def main(dsn: str, started: set[int]) -> None:
    app = open_app(dsn)
    async with app.open_async():
        store = ProcrastinateStore(
            app, heartbeat_interval=HEARTBEAT, stalled_timeout=STALLED
        )
        now = time.time()
        jobs = await store.claim(now=now, lease=3600, limit=100, worker="doomed")
        for job in jobs:
            if job.id in started:
                await store.started(job.id, now)
        sys.stdout.write(f"claimed {len(jobs)}\n")
        sys.stdout.flush()
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], {int(arg) for arg in sys.argv[2:]}))
