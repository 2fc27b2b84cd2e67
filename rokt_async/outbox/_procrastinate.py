"""``ProcrastinateStore``: the outbox's jobs as procrastinate jobs in PostgreSQL.

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=dsn))
    async with app.open_async():
        outbox = Outbox(ProcrastinateStore(app))

Every job is a job of procrastinate's ``rokt_async.outbox.send`` task in the
``rokt_outbox`` queue, deferred with ``lock="rokt_outbox:<cart>"``: procrastinate
runs the jobs that share a lock one at a time, oldest first, which is the outbox's
per-cart order. The states are procrastinate's statuses plus the side table
(``_pg_sql``):

    pending    todo       due from ``scheduled_at``, on the server's clock
    in_flight  doing      leased to the procrastinate worker row in ``worker_id``
    done       succeeded
    failed     failed     (or cancelled or aborted through procrastinate's tools)
    unknown    failed     with the side table's ``unknown`` set

- ``put``: the side row first (``ON CONFLICT (key) DO NOTHING``, so a key stays
  taken after its job is done), then procrastinate's defer on the same
  connection; a savepoint inside the caller's transaction when one is given.
- ``claim``: procrastinate's ``fetch_job`` (``FOR UPDATE SKIP LOCKED``, lock order)
  up to ``limit`` times in one transaction, for a procrastinate worker row per
  worker name that this store keeps alive with heartbeats.
- ``settle``: procrastinate's ``retry_job`` at a ``retry_at`` for ``pending``, its
  ``finish_job`` otherwise; only while the job is still leased to the caller.
- ``recover``: procrastinate's ``get_stalled_jobs`` (workers whose heartbeats
  stopped: a dead process is found after ``stalled_timeout``, a live one keeps its
  jobs however long a send takes), plus leases past ``lease`` on the caller's
  clock as a backstop (a live worker that lost track of a job, say when a settle
  failed). ``started`` is False for a job taken back meanwhile (not to be sent).
- ``resend``: procrastinate's ``retry_job`` of a failed job.
- ``watch``: procrastinate's ``listen_for_jobs`` on the outbox queue, so a
  worker wakes as soon as any process defers a job (polling still finds retries
  that come due, and carts whose earlier job another process settled).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Final

import psycopg
from procrastinate import App, PsycopgConnector, sql

from . import _pg_leases as lease_ops
from . import _pg_sql as q
from ._jobs import JobState
from ._pg_tasks import DEFAULT_STALLED_TIMEOUT, add_recovery, send_task
from ._pg_workers import WorkerRows
from ._store import Store

if TYPE_CHECKING:
    import datetime
    from collections.abc import AsyncIterator, Callable, Sequence

    from procrastinate.jobs import Notification

    from ._jobs import Job, NewJob, Settle

__all__ = ["ProcrastinateStore", "store_from_url"]

_Conn = psycopg.AsyncConnection[Any]
_GONE: Final = object()


class ProcrastinateStore(Store):
    """The outbox's jobs in PostgreSQL, through a procrastinate ``App``.

    Args:
        app: an ``App`` on ``procrastinate.PsycopgConnector``, with procrastinate's
            schema applied; the caller opens and closes it (close the outbox
            first), except for a store from ``store_from_url``, which owns its
            app. The store's side table is created on first use.
        heartbeat_interval: seconds between the heartbeats of this store's
            workers (procrastinate's worker rows).
        stalled_timeout: seconds without a heartbeat after which a worker counts
            as dead and ``recover`` takes its jobs back.
        recovery_cron: when procrastinate workers serving the
            ``rokt_outbox_recovery`` queue run the periodic recovery task; None
            registers no such task.
    """

    def __init__(
        self,
        app: App,
        *,
        heartbeat_interval: float = 10.0,
        stalled_timeout: float = DEFAULT_STALLED_TIMEOUT,
        recovery_cron: str | None = "* * * * *",
    ) -> None:
        connector = app.connector
        if not isinstance(connector, PsycopgConnector):
            raise TypeError("ProcrastinateStore needs an App on PsycopgConnector")
        if not 0 < heartbeat_interval < stalled_timeout:
            raise ValueError("need 0 < heartbeat_interval < stalled_timeout")
        self.app = app
        self.heartbeat_interval = heartbeat_interval
        self.stalled_timeout = stalled_timeout
        self._connector = connector
        self._send = send_task(app)
        if recovery_cron is not None:
            add_recovery(app, recovery_cron, stalled_timeout)
        self._has_schema = False
        self._owns_app = False  # store_from_url: opened on first use, closed by close
        self._url: str | None = None  # store_from_url: probed before the pool opens
        self._opened = False
        self._workers = WorkerRows(app, connector, heartbeat_interval)
        self._leases: dict[int, int] = {}  # job id -> worker id it was claimed for

    def __repr__(self) -> str:
        return f"ProcrastinateStore({self.app!r})"

    # --- plumbing -------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[_Conn]:
        async with self._connector.pool.connection() as conn, conn.transaction():
            yield conn

    async def _ready(self) -> None:
        if self._owns_app and not self._opened:
            # One plain connection first: a server that refuses it fails at once,
            # where opening the pool would retry for psycopg_pool's 30 s.
            if self._url is not None:
                probe = await psycopg.AsyncConnection.connect(
                    self._url, connect_timeout=10
                )
                await probe.close()
            await self.app.open_async()
            self._opened = True
        if self._has_schema:
            return
        async with self._transaction() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (q.SCHEMA_LOCK,))
            cur = await conn.execute("SELECT to_regclass('procrastinate_jobs')")
            row = await cur.fetchone()
            if row is None or row[0] is None:
                raise RuntimeError(
                    "procrastinate's schema is missing: apply it first"
                    " (`procrastinate schema --apply`)"
                )
            await conn.execute(q.SCHEMA)
        self._has_schema = True

    async def _lock(
        self, conn: _Conn, job_id: int
    ) -> tuple[str, int | None, datetime.datetime] | None:
        """Lock an outbox job: its status, worker and the server's time."""
        cur = await conn.execute(q.LOCK, (job_id,))
        row = await cur.fetchone()
        return None if row is None else (row[0], row[1], row[2])

    async def _leased(self, conn: _Conn, job_id: int) -> datetime.datetime | None:
        """Lock a job; the server's time if this store claimed it and it is still
        leased to the worker it was claimed for, else None."""
        expected = self._leases.get(job_id)
        if expected is None:
            return None
        locked = await self._lock(conn, job_id)
        if locked is None or locked[0] != "doing" or locked[1] != expected:
            return None
        return locked[2]

    async def _get(self, conn: _Conn, job_id: int) -> Job | None:
        row = await (await conn.execute(q.JOB, (job_id,))).fetchone()
        return None if row is None else q.job_from_row(row)

    # --- the Store interface -------------------------------------------------------

    async def put(self, job: NewJob, connection: object | None = None) -> int:
        if connection is not None and not isinstance(
            connection, psycopg.AsyncConnection
        ):
            raise TypeError(
                "ProcrastinateStore takes a psycopg.AsyncConnection as connection"
            )
        await self._ready()
        if connection is not None:
            return await self._insert(connection, job)
        async with self._connector.pool.connection() as conn:
            return await self._insert(conn, job)

    async def _insert(self, conn: _Conn, job: NewJob) -> int:
        async with conn.transaction():  # a savepoint inside the caller's transaction
            cur = await conn.execute(
                q.INSERT,
                {
                    "key": job.key,
                    "kind": job.kind,
                    "cart": job.cart,
                    "body": job.body,
                    "session_id": job.session_id,
                    "resend_safe": job.resend_safe,
                    "created_at": job.created_at,
                },
            )
            if await cur.fetchone() is None:  # the key is taken: that job's id
                cur = await conn.execute(
                    "SELECT job_id FROM rokt_outbox_jobs WHERE key = %s", (job.key,)
                )
                row = await cur.fetchone()
                if row is None or row[0] is None:
                    raise RuntimeError(f"the job {job.key!r} is not visible here yet")
                return int(row[0])
            deferrer = self._send.configure(
                lock=q.LOCK_PREFIX + job.cart, connection=conn
            )
            job_id = await deferrer.defer_async(kind=job.kind, key=job.key)
            await conn.execute(
                "UPDATE rokt_outbox_jobs SET job_id = %s WHERE key = %s",
                (job_id, job.key),
            )
            return job_id

    async def claim(
        self, *, now: float, lease: float, limit: int, worker: str
    ) -> list[Job]:
        await self._ready()
        async with self._transaction() as conn:
            worker_id = await self._workers.id_for(conn, worker)
            ids: list[int] = []
            while len(ids) < limit:
                (row,) = await self._connector.execute_query_all_async_with_connection(
                    conn,
                    sql.queries["fetch_job"],
                    queues=[q.QUEUE],
                    worker_id=worker_id,
                )
                if row["id"] is None:
                    break
                ids.append(int(row["id"]))
            if not ids:
                return []
            await conn.execute(q.MARK_CLAIMED, (worker, now + lease, now, ids))
            rows = await (await conn.execute(q.CLAIMED, (ids,))).fetchall()
        self._leases.update(dict.fromkeys(ids, worker_id))
        return [q.job_from_row(row) for row in rows]

    async def started(self, job_id: int, now: float) -> bool:
        async with self._transaction() as conn:
            if await self._leased(conn, job_id) is None:
                return False  # recovery took it back: it must not be sent
            await conn.execute(q.STARTED, (now, job_id))
            return True

    async def unclaim(self, job_ids: Sequence[int], now: float) -> None:
        async with self._transaction() as conn:
            for job_id in job_ids:
                server_now = await self._leased(conn, job_id)
                self._leases.pop(job_id, None)
                if server_now is not None:
                    await lease_ops.retry(self._connector, conn, job_id, server_now)
                    await conn.execute(q.UNCLAIMED, (now, job_id))

    async def settle_many(self, settles: Sequence[Settle]) -> list[bool]:
        if any(s.state is JobState.IN_FLIGHT for s in settles):
            raise ValueError("settle ends a lease: pending, done, failed or unknown")
        if not settles:
            return []
        expected = {s.job_id: self._leases.pop(s.job_id, None) for s in settles}
        async with self._transaction() as conn:
            return await lease_ops.end(self._connector, conn, settles, expected)

    async def recover(self, now: float) -> int:
        await self._ready()
        stalled = await self.app.job_manager.get_stalled_jobs(
            queue=q.QUEUE,
            task_name=q.SEND_TASK,
            seconds_since_heartbeat=self.stalled_timeout,
        )
        dead = {job.id: job.worker_id for job in stalled if job.id is not None}
        recovered = 0
        async with self._transaction() as conn:
            cur = await conn.execute(
                q.HELD, {"now": now, "queue": q.QUEUE, "ids": list(dead)}
            )
            for row in await cur.fetchall():
                job_id, worker_id, expired = row[:3]
                if not expired and dead.get(job_id, _GONE) != worker_id:
                    continue  # claimed again since procrastinate found it stalled
                self._leases.pop(job_id, None)
                await lease_ops.take_back(self._connector, conn, row, now)
                recovered += 1
        return recovered

    async def watch(self, wake: Callable[[], None]) -> None:
        """procrastinate's LISTEN on the outbox queue's channel (its insert
        trigger NOTIFYs every job deferred, by any process), until cancelled."""
        await self._ready()

        async def notified(*, channel: str, notification: Notification) -> None:
            wake()

        await self.app.job_manager.listen_for_jobs(
            on_notification=notified, queues=[q.QUEUE]
        )

    async def get(self, job_id: int) -> Job | None:
        await self._ready()
        async with self._transaction() as conn:
            return await self._get(conn, job_id)

    async def jobs(self, state: JobState | None = None, limit: int = 100) -> list[Job]:
        await self._ready()
        chosen = None if state is None else state.value
        async with self._transaction() as conn:
            cur = await conn.execute(q.JOBS, {"state": chosen, "limit": limit})
            return [q.job_from_row(row) for row in await cur.fetchall()]

    async def counts(self) -> tuple[dict[str, int], float | None]:
        await self._ready()
        counts = {state.value: 0 for state in JobState}
        async with self._transaction() as conn:
            for state, count in await (await conn.execute(q.COUNTS)).fetchall():
                counts[state] = int(count)
            row = await (await conn.execute(q.OLDEST)).fetchone()
        return counts, None if row is None else row[0]

    async def resend(self, job_id: int, now: float) -> bool:
        await self._ready()
        async with self._transaction() as conn:
            locked = await self._lock(conn, job_id)
            if locked is None or locked[0] not in ("failed", "cancelled", "aborted"):
                return False
            if locked[0] != "failed":  # procrastinate retries failed jobs only
                await conn.execute(
                    "UPDATE procrastinate_jobs SET status = 'failed' WHERE id = %s",
                    (job_id,),
                )
            await lease_ops.retry(self._connector, conn, job_id, locked[2])
            await conn.execute(q.RESENT, (now, job_id))
        return True

    async def drop(self, job_id: int) -> bool:
        await self._ready()
        async with self._transaction() as conn:
            cur = await conn.execute(q.DROP, (job_id,))
            return await cur.fetchone() is not None

    async def close(self) -> None:
        """Stop the heartbeats and unregister this store's workers, so the jobs
        they still hold (none after a graceful stop) are recovered at once. The
        app stays open: it is the caller's."""
        self._leases.clear()
        await self._workers.close()
        if self._opened:
            self._opened = False
            await self.app.close_async()


def store_from_url(url: str, *, max_size: int = 16) -> ProcrastinateStore:
    """A store on an app of its own for ``postgresql://...`` (the CLI's and the
    bench's): the app is opened on first use, with a pool of up to ``max_size``
    connections, and closed by ``close()``. It registers no periodic task, since
    no procrastinate worker runs this app."""
    connector = PsycopgConnector(conninfo=url, min_size=1, max_size=max_size)
    store = ProcrastinateStore(App(connector=connector), recovery_cron=None)
    store._owns_app = True
    store._url = url
    return store
