"""``SQLiteStore``'s commits: answered once the WAL is on disk, never blocking the
event loop on another process's lock, checkpointed into the database file."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import threading
from typing import TYPE_CHECKING

import pytest

from rokt_async import CancelRequest
from rokt_async.outbox import JobState, Outbox, SQLiteStore

if TYPE_CHECKING:
    from pathlib import Path


def _rows(path: str) -> int:
    """Jobs a fresh connection sees in ``path`` (with its WAL, if any)."""
    db = sqlite3.connect(path)
    try:
        (count,) = db.execute("SELECT COUNT(*) FROM rokt_outbox_jobs").fetchone()
        return int(count)
    finally:
        db.close()


async def test_a_put_is_answered_only_after_a_sync_of_the_wal_that_holds_it(
    db_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the disk was asked to keep, in order: a put's row is visible to
    another connection (committed) when the WAL is synced, and the put returns
    only after that sync."""
    box = Outbox(SQLiteStore(db_path))
    await box.stats()  # the file and table exist
    events: list[str] = []
    real = getattr(os, "fdatasync", os.fsync)

    def sync(fd: int) -> None:
        target = os.readlink(f"/proc/self/fd/{fd}")
        if target == db_path + "-wal":
            events.append(f"sync with {_rows(db_path)} row(s) committed")
        real(fd)
        events.append("synced")

    monkeypatch.setattr(os, "fdatasync", sync, raising=False)
    monkeypatch.setattr(os, "fsync", sync)
    try:
        await box.put_cancel(CancelRequest(item_reservation_id="r1"))
        events.append("put answered")
        await box.put_cancel(CancelRequest(item_reservation_id="r2"))
        events.append("put answered")
    finally:
        await box.close()
    assert events == [
        "sync with 1 row(s) committed",
        "synced",
        "put answered",
        "sync with 2 row(s) committed",
        "synced",
        "put answered",
    ]


async def test_a_change_waits_for_another_processs_write_lock_off_the_loop(
    db_path: str,
) -> None:
    """While another connection holds the write lock, a put waits without
    blocking the loop (other tasks run while the lock is still held), and lands
    once the lock is let go."""
    box = Outbox(SQLiteStore(db_path))
    await box.stats()
    other = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    let_go = threading.Event()

    def hold_then_let_go() -> None:
        let_go.wait(2.0)  # set by the loop below, unless the loop is stuck
        other.execute("COMMIT")

    holder = threading.Thread(target=hold_then_let_go)
    try:
        put = asyncio.ensure_future(
            box.put_cancel(CancelRequest(item_reservation_id="r1"))
        )
        holder.start()
        await asyncio.sleep(0.05)  # the put has tried, and found the lock held
        assert holder.is_alive()  # the loop ran on while the lock was held
        assert not put.done()
        let_go.set()
        async with asyncio.timeout(5):
            job_id = await put
        job = await box.job(job_id)
        assert job is not None
        assert job.state is JobState.PENDING
    finally:
        let_go.set()
        holder.join(5)
        other.close()
        await box.close()


async def test_a_change_fails_with_sqlites_error_once_busy_timeout_passes(
    db_path: str,
) -> None:
    box = Outbox(SQLiteStore(db_path, busy_timeout=0.2))
    await box.stats()
    other = sqlite3.connect(db_path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            async with asyncio.timeout(5):
                await box.put_cancel(CancelRequest(item_reservation_id="r1"))
        other.execute("ROLLBACK")
        assert await box.jobs() == []  # nothing half-written
        await box.put_cancel(CancelRequest(item_reservation_id="r1"))
        assert len(await box.jobs()) == 1  # the store works again
    finally:
        other.close()
        await box.close()


async def test_the_wal_is_checkpointed_into_the_database_file(
    db_path: str, tmp_path: Path
) -> None:
    """After some hundreds of commits the jobs are in the database file itself,
    not only in its WAL: a copy of the file alone holds them."""
    box = Outbox(SQLiteStore(db_path))
    try:
        for n in range(450):  # one commit each
            await box.put_cancel(CancelRequest(item_reservation_id=f"r{n}"))
        copy = str(tmp_path / "copy.db")
        shutil.copyfile(db_path, copy)  # without the -wal file
        assert _rows(copy) >= 400
        assert _rows(db_path) == 450
    finally:
        await box.close()


async def test_a_store_serves_one_event_loop_at_a_time(db_path: str) -> None:
    store = SQLiteStore(db_path)
    box = Outbox(store)
    await box.put_cancel(CancelRequest(item_reservation_id="r1"))
    failure: list[BaseException] = []

    def elsewhere() -> None:
        try:
            asyncio.run(store.drop(1))
        except RuntimeError as exc:
            failure.append(exc)

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join(10)
    try:
        assert len(failure) == 1
        assert "one event loop at a time" in str(failure[0])
        assert len(await box.jobs()) == 1  # the other loop changed nothing
    finally:
        await box.close()
