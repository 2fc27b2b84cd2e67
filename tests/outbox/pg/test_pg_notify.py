"""Workers on PostgreSQL wake on procrastinate's LISTEN/NOTIFY, not only by polling."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import psycopg

from rokt_async.outbox import Outbox
from rokt_async.outbox._procrastinate import ProcrastinateStore
from tests.outbox._pg import open_app
from tests.outbox.conftest import client, confirms_seen, reserved_confirm

if TYPE_CHECKING:
    from rokt_async.emulator import Emulator


async def listening(dsn: str, limit: float = 20.0) -> None:
    """Wait (bounded) until a connection LISTENs on the outbox queue's channel."""
    async with asyncio.timeout(limit):
        while True:
            async with await psycopg.AsyncConnection.connect(dsn) as conn:
                cur = await conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE query ILIKE %s",
                    ("LISTEN %rokt_outbox%",),
                )
                row = await cur.fetchone()
            if row is not None and row[0] > 0:
                return
            await asyncio.sleep(0.05)


async def test_a_job_put_elsewhere_wakes_a_waiting_worker(
    pg_dsn: str, emulator: Emulator
) -> None:
    """A worker polling only every 60 s sends, within a few seconds, a job that
    another app (another process, as far as the database can tell) put: the
    insert's NOTIFY woke it."""
    worker_app, putter_app = open_app(pg_dsn), open_app(pg_dsn)
    async with worker_app.open_async(), putter_app.open_async():
        worker_store = ProcrastinateStore(worker_app, recovery_cron=None)
        putter = Outbox(ProcrastinateStore(putter_app, recovery_cron=None))
        try:
            async with client(emulator) as rokt:
                request = await reserved_confirm(rokt, "c1", "o1")
                async with Outbox(worker_store).worker(rokt, poll_interval=60.0):
                    await listening(pg_dsn)  # and its first look found nothing
                    job_id = await putter.put_confirm(request)
                    await confirms_seen(emulator, 1)
            job = await putter.job(job_id)
            assert job is not None
            assert job.state == "done"
        finally:
            await putter.close()
            await worker_store.close()
