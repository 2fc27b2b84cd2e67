"""What procrastinate's own workers do with the outbox: run the periodic
recovery (past a recovery job that stalled, procrastinate-org/procrastinate#1408)
and put back any outbox job they fetch."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rokt_async import CancelRequest
from rokt_async.outbox import JobState, Outbox
from rokt_async.outbox._pg_sql import RECOVERY_QUEUE, RECOVERY_TASK
from rokt_async.outbox._procrastinate import ProcrastinateStore
from tests.outbox.conftest import quantity_confirm

if TYPE_CHECKING:
    from procrastinate import App


async def run_procrastinate_worker(app: App, *queues: str) -> None:
    """procrastinate's worker on ``queues`` (all if none), until it finds nothing
    more to do."""
    if queues:
        await app.run_worker_async(
            queues=list(queues),
            wait=False,
            install_signal_handlers=False,
            listen_notify=False,
        )
    else:
        await app.run_worker_async(
            wait=False, install_signal_handlers=False, listen_notify=False
        )


async def test_the_recovery_task_runs_past_a_recovery_job_that_stalled(
    pg_app: App, pg_store: ProcrastinateStore
) -> None:
    """A recovery job whose worker died stays ``doing``; the next one still runs
    (the task has no lock), finishes the stalled one as failed, and recovers the
    outbox jobs of a store closed mid-send by the resend rules."""
    outbox = Outbox(pg_store)
    unsafe = await outbox.put_confirm(quantity_confirm("c1", "o1"))
    safe = await outbox.put_cancel(CancelRequest(item_reservation_id="r1"))
    dying = ProcrastinateStore(pg_app)
    await dying.claim(now=time.time(), lease=3600, limit=10, worker="dying")
    await dying.started(unsafe, time.time())
    await dying.started(safe, time.time())
    await dying.close()  # its worker row is gone: what it holds is stalled
    manager = pg_app.job_manager
    periodic = pg_app.periodic_registry.periodic_tasks[(RECOVERY_TASK, "rokt_outbox")]
    recovery = periodic.task
    assert (periodic.cron, recovery.queue) == ("* * * * *", RECOVERY_QUEUE)
    assert (recovery.lock, recovery.queueing_lock) == (None, RECOVERY_TASK)
    stuck = await recovery.defer_async(timestamp=0)
    dead = await manager.register_worker()
    fetched = await manager.fetch_job(queues=[RECOVERY_QUEUE], worker_id=dead)
    assert fetched is not None
    assert fetched.id == stuck
    async with pg_app.connector.pool.connection() as conn:  # type: ignore[attr-defined]
        await conn.execute(
            "UPDATE procrastinate_workers"
            " SET last_heartbeat = now() - interval '1 hour' WHERE id = %s",
            (dead,),
        )
    fresh = await recovery.defer_async(timestamp=60)  # the next minute's
    await run_procrastinate_worker(pg_app, RECOVERY_QUEUE)
    status = {j.id: j.status for j in await manager.list_jobs_async(task=RECOVERY_TASK)}
    assert (status[stuck], status[fresh]) == ("failed", "succeeded")
    states = {j.id: j.state for j in await outbox.jobs()}
    assert states == {unsafe: JobState.UNKNOWN, safe: JobState.PENDING}


async def test_a_procrastinate_worker_puts_back_an_outbox_job_it_fetched(
    pg_app: App, pg_store: ProcrastinateStore
) -> None:
    """A procrastinate worker serving every queue fetches an outbox job: the job
    is pending again a few seconds later, never sent, failed or counted."""
    job_id = await Outbox(pg_store).put_confirm(quantity_confirm("c1", "o1"))
    before = time.time()
    await run_procrastinate_worker(pg_app)
    job = await pg_store.get(job_id)
    assert job is not None
    assert (job.state, job.attempts, job.last_error) == (JobState.PENDING, 0, None)
    assert job.next_attempt_at >= before + 4
