"""Four worker processes, ``rokt-async outbox --store postgresql://... work``,
draining one PostgreSQL outbox against the emulator."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from typing import TYPE_CHECKING

import psycopg

from rokt_async.outbox import Outbox
from tests.outbox._processes import spawn_worker, wait_started
from tests.outbox.conftest import (
    client,
    drained,
    reserved_confirm,
    reserved_release,
)
from tests.outbox.pg._pg_processes import (
    claims,
    claims_recorded,
    kill,
    started_per_job,
    stop,
    store_url,
    workers_registered,
)

if TYPE_CHECKING:
    from rokt_async.emulator import Emulator
    from rokt_async.outbox._procrastinate import ProcrastinateStore

CARTS = 60
WORKERS = 4
EXPECTED = ["confirm", "release"]  # what each cart gets, in this order


async def test_four_worker_processes_on_postgresql_never_send_a_job_twice(
    pg_dsn: str, pg_store: ProcrastinateStore, emulator: Emulator
) -> None:
    """60 carts x (confirm, release), drained by 4 worker processes at once: the
    emulator gets each job exactly once and each cart's confirm before its
    release; procrastinate started each job once; and at least 2 of the
    processes (by pid, as the database recorded their claims) sent jobs."""
    outbox = Outbox(pg_store)
    await outbox.stats()  # the side table exists: the claim recorder watches it
    async with client(emulator) as rokt:
        carts = [
            (
                await reserved_confirm(rokt, f"c{n}", f"o{n}"),
                await reserved_release(rokt, f"c{n}"),
            )
            for n in range(CARTS)
        ]
    emulator.faults.set_rate("*", "delay", 1.0, max_ms=10)  # sends overlap
    url = store_url(pg_dsn)
    async with claims_recorded(pg_dsn):
        # A lease long enough that no call times out under load: each job is
        # sent once. Started together, so that all four are up before any job.
        workers = [
            spawn_worker(url, emulator, concurrency=8, lease=20.0)
            for _ in range(WORKERS)
        ]
        try:
            for worker in workers:
                wait_started(worker)
            # Each registers its procrastinate worker row on its first claim.
            await workers_registered(pg_dsn, WORKERS, limit=20.0)
            # All 120 jobs in one transaction: every worker finds them at once.
            async with (
                await psycopg.AsyncConnection.connect(pg_dsn, autocommit=True) as conn,
                conn.transaction(),
            ):
                for confirm, release in carts:
                    await outbox.put_confirm(confirm, connection=conn)
                    await outbox.put_release(release, connection=conn)
            await drained(outbox, limit=60.0)
            stopped = [stop(worker) for worker in workers]
        finally:
            for worker in workers:
                kill(worker)
        recorded = await claims(pg_dsn)
    assert [status for status, _ in stopped] == [0] * WORKERS
    stats = await outbox.stats()
    assert (stats.done, stats.pending, stats.in_flight) == (2 * CARTS, 0, 0)
    assert (stats.failed, stats.unknown) == (0, 0)

    # What the emulator received: every cart once confirmed, then once released.
    sent: dict[str, list[str]] = defaultdict(list)
    for request in emulator.requests():
        if request.endpoint in ("confirm", "release"):
            sent[json.loads(request.body)["cartId"]].append(request.endpoint)
    assert len(sent) == CARTS
    wrong = {cart: calls for cart, calls in sent.items() if calls != EXPECTED}
    assert wrong == {}
    ledger = emulator.ledger()
    assert (ledger.count("confirm"), ledger.count("release")) == (CARTS, CARTS)
    assert ledger.duplicates == ()  # nothing bought twice
    assert ledger.replays == {}  # nothing resent, not even identically

    # What the database recorded: procrastinate started each job once, each was
    # claimed once, and by the worker processes we started, 2 or more of them.
    started = await started_per_job(pg_dsn)
    assert len(started) == 2 * CARTS
    assert {job: n for job, n in started.items() if n != 1} == {}
    assert sorted(job for job, _ in recorded) == sorted(started)
    by_pid = Counter(pid for _, pid in recorded)
    pids = [worker.pid for worker in workers]
    assert set(by_pid) <= set(pids)
    assert len(by_pid) >= 2, f"only one process sent anything: {by_pid}"
    # ... and each process says it started as many sends as it claimed jobs.
    assert [sends for _, sends in stopped] == [by_pid[pid] for pid in pids]
