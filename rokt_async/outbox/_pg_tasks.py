"""The procrastinate tasks a ``ProcrastinateStore`` registers on its app.

``rokt_async.outbox.send`` names the outbox's jobs. ``outbox.worker()`` claims and
sends them itself and runs no procrastinate task. A procrastinate worker of the
same app that serves every queue (one started without ``queues=``) may fetch one
all the same: the task then puts it back untouched a few seconds later, where an
unregistered task would have failed it unsent.

``rokt_async.outbox.recover_stalled`` runs every minute on any procrastinate
worker that serves the ``rokt_outbox_recovery`` queue, and recovers stalled
outbox jobs by the outbox's resend rules. It has a queueing lock (at most one
waits) and no ``lock``: with one, a recovery job whose worker died would hold the
lock and every later recovery job would wait behind it for ever
(procrastinate-org/procrastinate#1408). Stalled recovery jobs are finished as
failed, never retried: the next minute's job replaces them, and a retry would
collide with that job's queueing lock (procrastinate-org/procrastinate#1446).
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any, Final

from procrastinate import RetryDecision
from procrastinate.exceptions import ConnectorException
from procrastinate.jobs import Status
from procrastinate.retry import BaseRetryStrategy

from ._pg_sql import QUEUE, RECOVERY_QUEUE, RECOVERY_TASK, SEND_TASK

if TYPE_CHECKING:
    from procrastinate import App
    from procrastinate.job_context import JobContext
    from procrastinate.jobs import Job as ProcrastinateJob
    from procrastinate.tasks import Task

__all__ = ["DEFAULT_STALLED_TIMEOUT", "add_recovery", "send_task"]

_log: Final = logging.getLogger("rokt_async.outbox")

#: procrastinate's own default for a worker without heartbeats to count as dead.
DEFAULT_STALLED_TIMEOUT: Final = 30.0
#: How long a job fetched by a procrastinate worker waits before it is due again.
PUT_BACK_AFTER: Final = 5


class OutboxJobFetchedError(RuntimeError):
    """A procrastinate worker fetched an outbox job, which only
    ``outbox.worker()`` sends."""


class _PutBack(BaseRetryStrategy):
    """Every run of the send task is put back: never failed, never counted."""

    def get_retry_decision(
        self, *, exception: BaseException, job: ProcrastinateJob
    ) -> RetryDecision:
        return RetryDecision(retry_in={"seconds": PUT_BACK_AFTER})


async def _put_back(**_: Any) -> None:
    _log.warning(
        "a procrastinate worker fetched an outbox job and put it back; run"
        " procrastinate workers with queues= that leave out %r",
        QUEUE,
    )
    raise OutboxJobFetchedError("outbox jobs are sent by outbox.worker()")


async def recover_stalled(
    context: JobContext,
    timestamp: int,
    stalled_timeout: float = DEFAULT_STALLED_TIMEOUT,
) -> int:
    """The periodic recovery: returns how many outbox jobs it recovered."""
    from ._procrastinate import ProcrastinateStore  # here: the two import each other

    app = context.app
    manager = app.job_manager
    stalled = await manager.get_stalled_jobs(
        queue=RECOVERY_QUEUE,
        task_name=RECOVERY_TASK,
        seconds_since_heartbeat=stalled_timeout,
    )
    for job in stalled:
        if job.id is not None and job.id != context.job.id:
            with contextlib.suppress(ConnectorException):  # it ended meanwhile
                await manager.finish_job_by_id_async(
                    job.id, Status.FAILED, delete_job=False
                )
    store = ProcrastinateStore(  # it claims nothing, so it sends no heartbeat
        app,
        heartbeat_interval=stalled_timeout / 3,
        stalled_timeout=stalled_timeout,
        recovery_cron=None,
    )
    return await store.recover(time.time())


def send_task(app: App) -> Task[Any, Any, Any]:
    """The app's outbox send task, registered on first use."""
    task = app.tasks.get(SEND_TASK)
    if task is None:
        task = app.task(name=SEND_TASK, queue=QUEUE, retry=_PutBack())(_put_back)
    return task


def add_recovery(app: App, cron: str, stalled_timeout: float) -> None:
    """Register the periodic recovery task on the app, once."""
    if RECOVERY_TASK in app.tasks:
        return
    task = app.task(
        name=RECOVERY_TASK,
        queue=RECOVERY_QUEUE,
        pass_context=True,
        queueing_lock=RECOVERY_TASK,
    )(recover_stalled)
    app.periodic(
        cron=cron,
        periodic_id="rokt_outbox",
        task_kwargs={"stalled_timeout": stalled_timeout},
    )(task)
