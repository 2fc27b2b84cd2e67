"""Group commit for ``SQLiteStore``: changes run on the event loop's thread, and
each is answered once the write-ahead log that holds it is on disk.

A change is a function of a ``sqlite3.Connection``. Those that arrive in one
turn of the loop run in one ``BEGIN IMMEDIATE`` transaction, on the loop's own
thread: they take microseconds, and a thread of ours would spend far longer
waiting for the GIL between statements than running them. The connection runs
with ``synchronous=NORMAL``, so its ``COMMIT`` writes the WAL without waiting on
the disk; the store's thread then calls ``fdatasync`` on the WAL file (what
``synchronous=FULL`` does inside the commit), and only then does a change's
caller get its answer. Changes queued while one sync runs are committed
together as it ends, and share the next sync.

Why this is as durable as ``synchronous=FULL``: in WAL mode a commit writes only
the WAL, and a sync of the file flushes every frame written to it before the
sync began, by any connection or process. A put, a settle, a "started" is
answered only after such a sync, so it, and whatever it was based on (another
process's frames included), is on disk. Claims and lease recoveries need not
be (``durable=False``, answered at commit): a power loss takes the leases they
made with them, and a worker sends a job before its "started" is on disk only
when the job is safe to resend. Checkpoints (``wal_autocheckpoint`` is off on
this connection) run on the store's thread, where ``synchronous=FULL`` syncs the
WAL before and the database after.

A change that finds the write lock held by another process (``SQLITE_BUSY``,
the connection has no busy timeout so the loop never blocks) is tried again
after a short wait, for up to the store's ``busy_timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import time
from typing import TYPE_CHECKING, Any, Final, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable
    from concurrent.futures import Executor

__all__ = ["LoopCommits"]

T = TypeVar("T")
#: A change: its work, its caller's future, and whether it waits for the disk.
Change = tuple["Callable[[sqlite3.Connection], Any]", "asyncio.Future[Any]", bool]
Outcome = tuple[Any, BaseException | None]

#: Waits between tries while another process holds the write lock.
_FIRST_WAIT: Final = 0.0005
_LONGEST_WAIT: Final = 0.02
#: The WAL is checkpointed (on the store's thread) after this many commits
#: (SQLite's own default is every 1,000 pages; a commit here writes a few).
_CHECKPOINT_COMMITS: Final = 400


class LoopCommits:
    """The store's changes: run on the loop, answered once durable.

    Args:
        path: the database file (its schema made already, in WAL mode).
        busy_timeout: seconds a change keeps trying while another process
            holds the write lock.
        executor: the store's one thread, for syncs and checkpoints.
        checkpoint: run on that thread to checkpoint the WAL.
    """

    def __init__(
        self,
        path: str,
        *,
        busy_timeout: float,
        executor: Executor,
        checkpoint: Callable[[], None],
    ) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self._executor = executor
        self._checkpoint = checkpoint
        self._db: sqlite3.Connection | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queued: list[Change] = []
        self._scheduled = False
        self._syncing: asyncio.Future[None] | None = None
        #: Committed, each waiting for a sync: its caller's future and outcome.
        self._unsynced: list[tuple[asyncio.Future[Any], Outcome]] = []
        self._wal_fd: int | None = None
        self._wal_inode = 0
        self._commits_since_checkpoint = 0
        self._busy_since: float | None = None
        self._wait = _FIRST_WAIT

    async def run(
        self, work: Callable[[sqlite3.Connection], T], *, durable: bool = True
    ) -> T:
        """Run ``work`` in a transaction; its result once the commit is on disk,
        or, when not ``durable``, once it is committed (for a change that may be
        lost with the machine's power: a claim, whose leases a power loss ends
        anyway). Changes queued while a sync runs are committed as it ends."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            if self._loop is not None and not self._loop.is_closed():
                raise RuntimeError(
                    "a SQLiteStore serves one event loop at a time; open another"
                    " store (on the same file) for this loop"
                )
            self._loop = loop
        done: asyncio.Future[Any] = loop.create_future()
        self._queued.append((work, done, durable))
        if not self._scheduled and self._syncing is None:
            self._scheduled = True
            loop.call_soon(self._commit_queued)
        result: T = await done
        return result

    async def close(self) -> None:
        """Wait for the changes queued and the sync under way, then close the
        connection and the WAL."""
        while self._queued or self._unsynced or self._syncing is not None:
            if self._syncing is None:
                await asyncio.sleep(_FIRST_WAIT)  # a commit waiting on a lock
                continue
            with contextlib.suppress(Exception):
                await asyncio.shield(self._syncing)
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._wal_fd is not None:
            os.close(self._wal_fd)
            self._wal_fd = None

    # --- on the loop --------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False
            )
            db.execute("PRAGMA busy_timeout = 0")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA wal_autocheckpoint = 0")
            self._db = db
        return self._db

    def _commit_queued(self) -> None:
        """Commit every change queued, in one transaction. Not while a sync
        runs: what is queued meanwhile is committed together as it ends. A
        change that must be durable is answered after the next sync (which
        starts once it is committed); one that need not be, at once."""
        self._scheduled = False
        if not self._queued:
            return
        batch, self._queued = self._queued, []
        try:
            db = self._connection()
            outcomes = _commit(db, batch) or _commit_each(db, batch)
        except sqlite3.OperationalError as exc:
            if _is_busy(exc) and self._try_later(batch):
                return
            outcomes = [(None, exc)] * len(batch)
        except Exception as exc:  # noqa: BLE001 - handed to every caller
            outcomes = [(None, exc)] * len(batch)
        self._busy_since, self._wait = None, _FIRST_WAIT
        now: list[tuple[asyncio.Future[Any], Outcome]] = []
        for (_, done, durable), outcome in zip(batch, outcomes, strict=True):
            if durable and outcome[1] is None:
                self._unsynced.append((done, outcome))
            else:  # a failure, or a change that need not wait for the disk
                now.append((done, outcome))
        if len(now) < len(batch):
            self._commits_since_checkpoint += 1
        _answer(now)
        self._sync_soon()

    def _try_later(self, batch: list[Change]) -> bool:
        """Another process holds the write lock: queue ``batch`` again (first)
        after a short wait, unless it has waited ``busy_timeout`` already."""
        assert self._loop is not None  # noqa: S101 - run() set it
        now = time.monotonic()
        if self._busy_since is None:
            self._busy_since = now
        elif now - self._busy_since >= self.busy_timeout:
            self._busy_since, self._wait = None, _FIRST_WAIT
            return False
        self._queued[:0] = batch
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_later(self._wait, self._commit_queued)
        self._wait = min(_LONGEST_WAIT, self._wait * 2)
        return True

    def _sync_soon(self) -> None:
        """Start a sync of what is committed and waiting for one, unless one runs
        (its end starts the next)."""
        if self._syncing is not None or not self._unsynced:
            return
        assert self._loop is not None  # noqa: S101 - run() set it
        waiting, self._unsynced = self._unsynced, []
        checkpoint = self._commits_since_checkpoint >= _CHECKPOINT_COMMITS
        if checkpoint:
            self._commits_since_checkpoint = 0
        syncing = self._loop.run_in_executor(self._executor, self._sync, checkpoint)
        self._syncing = syncing
        syncing.add_done_callback(lambda done: self._synced(done, waiting))

    def _synced(
        self,
        done: asyncio.Future[None],
        waiting: list[tuple[asyncio.Future[Any], Outcome]],
    ) -> None:
        self._syncing = None
        error = done.exception()
        if error is not None:  # not known to be on disk: the callers hear so
            waiting = [(future, (None, error)) for future, _ in waiting]
        _answer(waiting)
        if self._queued and not self._scheduled:
            self._commit_queued()  # what waited for this sync, and syncs it
        else:
            self._sync_soon()

    # --- on the store's thread ------------------------------------------------------

    def _sync(self, checkpoint: bool) -> None:
        """``fdatasync`` the WAL (each commit of ours wrote to it), then
        checkpoint it when ``checkpoint``."""
        wal = self.path + "-wal"
        inode = os.stat(wal).st_ino
        if self._wal_fd is None or inode != self._wal_inode:
            if self._wal_fd is not None:
                os.close(self._wal_fd)
            self._wal_fd = os.open(wal, os.O_RDONLY)
            self._wal_inode = inode
        _datasync(self._wal_fd)
        if checkpoint:
            self._checkpoint()


def _datasync(fd: int) -> None:
    sync = getattr(os, "fdatasync", os.fsync)
    sync(fd)


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or (
        code is None and "locked" in str(exc)
    )


def _commit(db: sqlite3.Connection, batch: list[Change]) -> list[Outcome] | None:
    """Every change of ``batch`` in one transaction, committed; None (and
    nothing committed) when one of them raised."""
    outcomes: list[Outcome] = []
    db.execute("BEGIN IMMEDIATE")
    try:
        outcomes.extend((work(db), None) for work, _, _ in batch)
    except Exception:  # noqa: BLE001 - run again one by one, to find which
        db.execute("ROLLBACK")
        return None
    except BaseException:
        db.execute("ROLLBACK")
        raise
    _end(db)
    return outcomes


def _commit_each(db: sqlite3.Connection, batch: list[Change]) -> list[Outcome]:
    """Every change of ``batch`` in one transaction, each in a savepoint of its
    own: one that raises is handed its error and leaves the others."""
    outcomes: list[Outcome] = []
    db.execute("BEGIN IMMEDIATE")
    try:
        for work, _, _ in batch:
            db.execute("SAVEPOINT change")
            try:
                outcomes.append((work(db), None))
            except Exception as exc:  # noqa: BLE001 - handed to its caller
                db.execute("ROLLBACK TO change")
                outcomes.append((None, exc))
            db.execute("RELEASE change")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    _end(db)
    return outcomes


def _end(db: sqlite3.Connection) -> None:
    try:
        db.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):  # SQLite may have rolled back
            db.execute("ROLLBACK")
        raise


def _answer(settled: list[tuple[asyncio.Future[Any], Outcome]]) -> None:
    for done, (value, error) in settled:
        if done.cancelled():  # the caller gave up; the change stands
            continue
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(value)
