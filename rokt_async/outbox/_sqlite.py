"""``SQLiteStore``: the embedded store, one file, safe for several processes.

WAL mode (readers never block the writer), ``synchronous=FULL`` (a ``put`` has
returned only once it is on disk), and ``BEGIN IMMEDIATE`` for every change, so
claims by processes sharing the file are serialised by SQLite's own lock and no
job is leased twice. The sqlite3 calls run on one thread of the store's own, off
the event loop; changes that arrive while one commits are committed together
(group commit), which is what lets a worker's many settles share one fsync.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Final, TypeVar

from ._jobs import Job, JobState

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._jobs import NewJob

__all__ = ["SQLiteStore"]

T = TypeVar("T")

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS rokt_outbox_jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    key TEXT NOT NULL UNIQUE,
    cart TEXT NOT NULL,
    body BLOB NOT NULL,
    session_id TEXT,
    resend_safe INTEGER NOT NULL,
    created_at REAL NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    lease_until REAL,
    worker TEXT,
    sending INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    error_body TEXT,
    reason TEXT
);
CREATE INDEX IF NOT EXISTS rokt_outbox_due ON rokt_outbox_jobs (state, next_attempt_at);
CREATE INDEX IF NOT EXISTS rokt_outbox_cart ON rokt_outbox_jobs (cart, id);
"""
_COLUMNS: Final = (
    "id, kind, key, cart, body, session_id, resend_safe, created_at, state,"
    " attempts, next_attempt_at, updated_at, last_error, error_body, reason"
)
_INSERT: Final = (
    "INSERT INTO rokt_outbox_jobs (kind, key, cart, body, session_id, resend_safe,"
    " created_at, state, next_attempt_at, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT (key) DO NOTHING"
)
#: Due pending jobs that are the oldest unsettled job of their cart.
_DUE: Final = """
SELECT j.id FROM rokt_outbox_jobs AS j
WHERE j.state = 'pending' AND j.next_attempt_at <= ?
  AND NOT EXISTS (
    SELECT 1 FROM rokt_outbox_jobs AS k
    WHERE k.cart = j.cart AND k.id != j.id
      AND (k.state = 'in_flight' OR (k.id < j.id AND k.state = 'pending')))
ORDER BY j.next_attempt_at, j.id
LIMIT ?
"""


class SQLiteStore:
    """Jobs in a SQLite file (created if missing), in WAL mode.

    Args:
        path: the database file; several processes may share it.
        busy_timeout: seconds a change waits for another process's lock.
    """

    def __init__(self, path: str, *, busy_timeout: float = 10.0) -> None:
        self.path = str(path)
        self._busy_ms = int(busy_timeout * 1000)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="rokt-outbox")
        self._db: sqlite3.Connection | None = None
        self._queue_lock = threading.Lock()
        self._queue: list[
            tuple[
                Callable[[sqlite3.Connection], Any],
                asyncio.Future[Any],
                asyncio.AbstractEventLoop,
            ]
        ] = []
        self._flush_scheduled = False
        #: The worker name each job was leased to through this store: a settle
        #: or a send start acts only while that lease still stands.
        self._leases: dict[int, str] = {}

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    # --- plumbing -------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=30
        )
        db.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = FULL")
        _create(db)
        return db

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = self._connect()
        return self._db

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` in a transaction on the store's thread; returns once it
        is committed. Changes queued while a commit is under way are committed
        together next (a group commit: one fsync for many puts and settles),
        each in its own savepoint, so one that fails leaves the others."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Any] = loop.create_future()
        with self._queue_lock:
            self._queue.append((work, done, loop))
            if not self._flush_scheduled:
                self._flush_scheduled = True
                self._executor.submit(self._flush)
        result: T = await done
        return result

    def _flush(self) -> None:
        with self._queue_lock:
            batch, self._queue = self._queue, []
            self._flush_scheduled = False
        outcomes: list[tuple[Any, BaseException | None]] = []
        try:
            db = self._conn()
            db.execute("BEGIN IMMEDIATE")
            try:
                for work, _, _ in batch:
                    db.execute("SAVEPOINT op")
                    try:
                        outcomes.append((work(db), None))
                    except Exception as exc:  # noqa: BLE001 - handed to its caller
                        db.execute("ROLLBACK TO op")
                        outcomes.append((None, exc))
                    db.execute("RELEASE op")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        except Exception as exc:  # noqa: BLE001 - the whole batch failed
            outcomes = [(None, exc)] * len(batch)
        for (_, done, loop), (value, error) in zip(batch, outcomes, strict=True):
            loop.call_soon_threadsafe(_resolve, done, value, error)

    # --- the Store interface -------------------------------------------------------

    async def put(self, job: NewJob, connection: object | None = None) -> int:
        if connection is not None:
            if not isinstance(connection, sqlite3.Connection):
                raise TypeError("SQLiteStore takes a sqlite3.Connection as connection")
            _create(connection)  # inside the caller's transaction: no commit here
            return _insert(connection, job)
        return await self._run(lambda db: _insert(db, job))

    async def claim(
        self, *, now: float, lease: float, limit: int, worker: str
    ) -> list[Job]:
        def work(db: sqlite3.Connection) -> list[Job]:
            ids = [row[0] for row in db.execute(_DUE, (now, limit))]
            if not ids:
                return []
            marks = ",".join("?" * len(ids))
            db.execute(
                "UPDATE rokt_outbox_jobs SET state = 'in_flight', lease_until = ?,"
                f" worker = ?, sending = 0, updated_at = ? WHERE id IN ({marks})",
                (now + lease, worker, now, *ids),
            )
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM rokt_outbox_jobs WHERE id IN ({marks})"
                " ORDER BY id",
                ids,
            )
            for job_id in ids:
                self._leases[job_id] = worker
            return [Job.from_row(row) for row in rows]

        return await self._run(work)

    async def started(self, job_id: int, now: float) -> bool:
        worker = self._leases.get(job_id)
        changed = await self._run(
            lambda db: (
                db.execute(
                    "UPDATE rokt_outbox_jobs SET sending = 1,"
                    " attempts = attempts + 1, updated_at = ?"
                    " WHERE id = ? AND state = 'in_flight' AND worker = ?",
                    (now, job_id, worker),
                ).rowcount
            )
        )
        return bool(changed)

    async def settle(
        self,
        job_id: int,
        state: JobState,
        *,
        now: float,
        next_attempt_at: float | None = None,
        last_error: str | None = None,
        error_body: str | None = None,
        reason: str | None = None,
    ) -> Job | None:
        if state is JobState.IN_FLIGHT:
            raise ValueError("settle ends a lease: pending, done, failed or unknown")
        worker = self._leases.pop(job_id, None)

        def work(db: sqlite3.Connection) -> Job | None:
            db.execute(
                "UPDATE rokt_outbox_jobs SET state = ?, updated_at = ?,"
                " next_attempt_at = COALESCE(?, next_attempt_at), lease_until = NULL,"
                " worker = NULL, sending = 0, last_error = COALESCE(?, last_error),"
                " error_body = ?, reason = ?"
                " WHERE id = ? AND state = 'in_flight' AND worker = ?",
                (
                    state.value,
                    now,
                    next_attempt_at,
                    last_error,
                    error_body,
                    reason,
                    job_id,
                    worker,
                ),
            )
            return _get(db, job_id)

        return await self._run(work)

    async def recover(self, now: float) -> int:
        def work(db: sqlite3.Connection) -> int:
            unknown = db.execute(
                "UPDATE rokt_outbox_jobs SET state = 'unknown', updated_at = ?,"
                " lease_until = NULL, worker = NULL, sending = 0, reason = ?"
                " WHERE state = 'in_flight' AND lease_until < ? AND sending = 1"
                " AND resend_safe = 0",
                (now, _LEASE_LOST, now),
            ).rowcount
            back = db.execute(
                "UPDATE rokt_outbox_jobs SET state = 'pending', updated_at = ?,"
                " next_attempt_at = ?, lease_until = NULL, worker = NULL, sending = 0"
                " WHERE state = 'in_flight' AND lease_until < ?",
                (now, now, now),
            ).rowcount
            return int(unknown + back)

        return await self._run(work)

    async def get(self, job_id: int) -> Job | None:
        return await self._run(lambda db: _get(db, job_id))

    async def jobs(self, state: JobState | None = None, limit: int = 100) -> list[Job]:
        def work(db: sqlite3.Connection) -> list[Job]:
            if state is None:
                rows = db.execute(
                    f"SELECT {_COLUMNS} FROM rokt_outbox_jobs ORDER BY id LIMIT ?",
                    (limit,),
                )
            else:
                rows = db.execute(
                    f"SELECT {_COLUMNS} FROM rokt_outbox_jobs WHERE state = ?"
                    " ORDER BY id LIMIT ?",
                    (state.value, limit),
                )
            return [Job.from_row(row) for row in rows]

        return await self._run(work)

    async def counts(self) -> tuple[dict[str, int], float | None]:
        def work(db: sqlite3.Connection) -> tuple[dict[str, int], float | None]:
            counts = {s.value: 0 for s in JobState}
            counts.update(
                db.execute(
                    "SELECT state, COUNT(*) FROM rokt_outbox_jobs GROUP BY state"
                )
            )
            (oldest,) = db.execute(
                "SELECT MIN(created_at) FROM rokt_outbox_jobs WHERE state = 'pending'"
            ).fetchone()
            return counts, oldest

        return await self._run(work)

    async def resend(self, job_id: int, now: float) -> bool:
        def work(db: sqlite3.Connection) -> bool:
            changed = db.execute(
                "UPDATE rokt_outbox_jobs SET state = 'pending', next_attempt_at = ?,"
                " updated_at = ?, reason = NULL"
                " WHERE id = ? AND state IN ('failed', 'unknown')",
                (now, now, job_id),
            ).rowcount
            return bool(changed)

        return await self._run(work)

    async def drop(self, job_id: int) -> bool:
        def work(db: sqlite3.Connection) -> bool:
            changed = db.execute(
                "DELETE FROM rokt_outbox_jobs WHERE id = ? AND state != 'in_flight'",
                (job_id,),
            ).rowcount
            return bool(changed)

        return await self._run(work)

    async def close(self) -> None:
        def shut() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None

        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, shut)
        self._executor.shutdown(wait=False)


_LEASE_LOST: Final = (
    "the worker's lease ran out mid-send (the process died or stalled), and"
    " sending it again could act twice"
)


def _resolve(
    done: asyncio.Future[Any], value: object, error: BaseException | None
) -> None:
    if done.cancelled():  # the caller gave up; the change stands (puts are idempotent)
        return
    if error is not None:
        done.set_exception(error)
    else:
        done.set_result(value)


def _create(db: sqlite3.Connection) -> None:
    """The table and indexes, statement by statement (``executescript`` would
    commit the caller's open transaction first)."""
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)


def _insert(db: sqlite3.Connection, job: NewJob) -> int:
    db.execute(
        _INSERT,
        (
            job.kind,
            job.key,
            job.cart,
            job.body,
            job.session_id,
            int(job.resend_safe),
            job.created_at,
            job.created_at,
            job.created_at,
        ),
    )
    (job_id,) = db.execute(
        "SELECT id FROM rokt_outbox_jobs WHERE key = ?", (job.key,)
    ).fetchone()
    return int(job_id)


def _get(db: sqlite3.Connection, job_id: int) -> Job | None:
    row = db.execute(
        f"SELECT {_COLUMNS} FROM rokt_outbox_jobs WHERE id = ?",
        (job_id,),
    ).fetchone()
    return None if row is None else Job.from_row(row)
