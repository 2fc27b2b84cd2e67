"""``SQLiteStore``: the embedded store, one file, safe for several processes.

WAL mode (readers never block the writer), ``BEGIN IMMEDIATE`` for every change
(claims by processes sharing the file are serialised by SQLite's own lock, so
no job is leased twice), and a change is answered only once the WAL holding it
is on disk (``_sqlite_commits``: changes run on the event loop's thread, many
to a transaction, and share one ``fdatasync`` on the store's thread). Reads for
operators (``get``, ``jobs``, ``counts``) run on that thread.
"""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

from . import _sqlite_sql as q
from ._jobs import Job, JobState
from ._sqlite_commits import LoopCommits
from ._store import Store

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from ._jobs import NewJob, Settle

__all__ = ["SQLiteStore"]

T = TypeVar("T")


class SQLiteStore(Store):
    """Jobs in a SQLite file (created if missing), in WAL mode.

    Args:
        path: the database file; several processes may share it.
        busy_timeout: seconds a change waits for another process's lock.
    """

    def __init__(self, path: str, *, busy_timeout: float = 10.0) -> None:
        self.path = str(path)
        self.busy_timeout = busy_timeout
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="rokt-outbox")
        self._db: sqlite3.Connection | None = None  # the thread's, for reads
        self._preparing: asyncio.Future[None] | None = None
        self._commits: LoopCommits | None = None
        #: The worker name each job was leased to through this store: a settle
        #: or a send start acts only while that lease still stands.
        self._leases: dict[int, str] = {}

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    # --- plumbing -------------------------------------------------------------------

    def _prepare(self) -> None:
        """On the store's thread: open the file in WAL mode, make the table."""
        if self._db is not None:
            return
        db = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=30
        )
        try:
            db.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            (mode,) = db.execute("PRAGMA journal_mode = WAL").fetchone()
            _need_wal(self.path, str(mode))
            db.execute("PRAGMA synchronous = FULL")  # for its checkpoints
            db.execute("BEGIN IMMEDIATE")
            q.create(db)
            db.execute("COMMIT")
        except BaseException:
            db.close()
            raise
        self._db = db

    def _checkpoint(self) -> None:
        if self._db is not None:
            self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")

    async def _ready(self) -> LoopCommits:
        if self._commits is None:
            preparing = self._preparing
            if preparing is None or preparing.get_loop().is_closed():
                loop = asyncio.get_running_loop()
                preparing = loop.run_in_executor(self._executor, self._prepare)
                self._preparing = preparing
            try:
                await asyncio.shield(preparing)
            except Exception:
                if preparing.done():
                    self._preparing = None  # the next call tries again
                raise
            if self._commits is None:
                self._commits = LoopCommits(
                    self.path,
                    busy_timeout=self.busy_timeout,
                    executor=self._executor,
                    checkpoint=self._checkpoint,
                )
        return self._commits

    async def _change(
        self, work: Callable[[sqlite3.Connection], T], *, durable: bool = True
    ) -> T:
        """``work`` in a transaction; its result once the commit is on disk (or
        once committed, when not ``durable``)."""
        return await (await self._ready()).run(work, durable=durable)

    async def _read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        await self._ready()
        db = self._db
        assert db is not None  # noqa: S101 - _ready() opened it
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, work, db)

    # --- the Store interface -------------------------------------------------------

    async def put(self, job: NewJob, connection: object | None = None) -> int:
        if connection is not None:
            if not isinstance(connection, sqlite3.Connection):
                raise TypeError("SQLiteStore takes a sqlite3.Connection as connection")
            q.create(connection)  # inside the caller's transaction: no commit here
            return q.insert(connection, job)
        return await self._change(lambda db: q.insert(db, job))

    async def claim(
        self, *, now: float, lease: float, limit: int, worker: str
    ) -> list[Job]:
        def work(db: sqlite3.Connection) -> list[Job]:
            jobs = q.claim(db, now=now, lease=lease, limit=limit, worker=worker)
            for job in jobs:
                self._leases[job.id] = worker
            return jobs

        # A claim need not wait for the disk: lost with the power, its leases
        # are lost too, and a job safe to resend (whose claim records its
        # attempt) may be sent again; any other is sent only after ``started``,
        # which does wait.
        return await self._change(work, durable=False)

    async def started(self, job_id: int, now: float) -> bool:
        worker = self._leases.get(job_id)
        return await self._change(lambda db: q.started(db, job_id, now, worker))

    async def unclaim(self, job_ids: Sequence[int], now: float) -> None:
        leased = [(i, self._leases.pop(i, None)) for i in job_ids]
        await self._change(lambda db: q.unclaim(db, leased, now))

    async def settle_many(self, settles: Sequence[Settle]) -> list[bool]:
        if any(s.state is JobState.IN_FLIGHT for s in settles):
            raise ValueError("settle ends a lease: pending, done, failed or unknown")
        if not settles:
            return []
        leased = [(s, self._leases.pop(s.job_id, None)) for s in settles]
        return await self._change(lambda db: q.settle_many(db, leased))

    async def recover(self, now: float) -> int:
        # Lost with the power, a recovery is simply made again.
        return await self._change(lambda db: q.recover(db, now), durable=False)

    async def watch(self, wake: Callable[[], None]) -> None:
        """SQLite has no notifications: workers of other processes poll."""
        return

    async def get(self, job_id: int) -> Job | None:
        return await self._read(lambda db: q.get(db, job_id))

    async def jobs(self, state: JobState | None = None, limit: int = 100) -> list[Job]:
        def work(db: sqlite3.Connection) -> list[Job]:
            if state is None:
                rows = db.execute(
                    f"SELECT {q.COLUMNS} FROM rokt_outbox_jobs ORDER BY id LIMIT ?",
                    (limit,),
                )
            else:
                rows = db.execute(
                    f"SELECT {q.COLUMNS} FROM rokt_outbox_jobs WHERE state = ?"
                    " ORDER BY id LIMIT ?",
                    (state.value, limit),
                )
            return [Job.from_row(row) for row in rows]

        return await self._read(work)

    async def counts(self) -> tuple[dict[str, int], float | None]:
        def work(db: sqlite3.Connection) -> tuple[dict[str, int], float | None]:
            counts = {state.value: 0 for state in JobState}
            counts.update(
                db.execute(
                    "SELECT state, COUNT(*) FROM rokt_outbox_jobs GROUP BY state"
                )
            )
            (oldest,) = db.execute(
                "SELECT MIN(created_at) FROM rokt_outbox_jobs WHERE state = 'pending'"
            ).fetchone()
            return counts, oldest

        return await self._read(work)

    async def resend(self, job_id: int, now: float) -> bool:
        def work(db: sqlite3.Connection) -> bool:
            changed = db.execute(
                "UPDATE rokt_outbox_jobs SET state = 'pending', next_attempt_at = ?,"
                " updated_at = ?, reason = NULL"
                " WHERE id = ? AND state IN ('failed', 'unknown')",
                (now, now, job_id),
            ).rowcount
            return bool(changed)

        return await self._change(work)

    async def drop(self, job_id: int) -> bool:
        def work(db: sqlite3.Connection) -> bool:
            changed = db.execute(
                "DELETE FROM rokt_outbox_jobs WHERE id = ? AND state != 'in_flight'",
                (job_id,),
            ).rowcount
            return bool(changed)

        return await self._change(work)

    async def close(self) -> None:
        commits, self._commits = self._commits, None
        if commits is not None:
            await commits.close()

        def shut() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None

        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, shut)
        self._executor.shutdown(wait=False)


def _need_wal(path: str, mode: str) -> None:
    if mode.lower() != "wal":
        raise sqlite3.OperationalError(
            f"SQLiteStore needs WAL mode, and {path!r} stays in {mode!r} mode"
            " (on a network file system, or not a file?)"
        )
