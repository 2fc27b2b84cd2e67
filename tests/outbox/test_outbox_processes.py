"""Worker processes on one SQLite file, the operator's CLI, and SIGTERM."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections import defaultdict
from typing import TYPE_CHECKING

from rokt_async.outbox import Outbox, SQLiteStore
from tests.outbox._processes import cli, run_cli, start_worker, stop
from tests.outbox.conftest import (
    client,
    drained,
    quantity_confirm,
    reserved_confirm,
    reserved_release,
)

if TYPE_CHECKING:
    from rokt_async.emulator import Emulator


async def test_two_worker_processes_on_one_file_never_send_a_job_twice(
    sqlite_outbox: Outbox, db_path: str, emulator: Emulator
) -> None:
    async with client(emulator) as rokt:
        for n in range(60):
            await sqlite_outbox.put_confirm(
                await reserved_confirm(rokt, f"c{n}", f"o{n}")
            )
            await sqlite_outbox.put_release(await reserved_release(rokt, f"c{n}"))
    emulator.faults.set_rate("*", "delay", 1.0, max_ms=10)
    # A lease long enough that no call times out under load: each job is sent once.
    workers = [
        start_worker(db_path, emulator, concurrency=8, lease=20.0) for _ in range(2)
    ]
    try:
        await drained(sqlite_outbox, limit=30.0)
    finally:
        assert [stop(w) for w in workers] == [0, 0]
    assert (await sqlite_outbox.stats()).done == 120
    sent: dict[str, list[str]] = defaultdict(list)
    for request in emulator.requests():
        if request.endpoint in ("confirm", "release"):
            sent[json.loads(request.body)["cartId"]].append(request.endpoint)
    assert all(endpoints == ["confirm", "release"] for endpoints in sent.values())
    assert len(sent) == 60


async def test_sigterm_lets_sends_in_flight_finish_and_leaves_the_rest_pending(
    sqlite_outbox: Outbox, db_path: str, emulator: Emulator
) -> None:
    async with client(emulator) as rokt:
        for n in range(6):
            await sqlite_outbox.put_confirm(
                await reserved_confirm(rokt, f"c{n}", f"o{n}")
            )
    emulator.faults.set_rate("confirm", "delay", 1.0, ms=500)
    worker = start_worker(db_path, emulator, concurrency=2, lease=10.0)
    try:
        async with asyncio.timeout(10):
            while len(emulator.requests("confirm")) < 2:  # noqa: ASYNC110 - polls another process
                await asyncio.sleep(0.02)
    finally:
        status = stop(worker)
    assert status == 0
    stats = await sqlite_outbox.stats()
    assert (stats.done, stats.pending, stats.in_flight) == (2, 4, 0)


def test_operators_see_status_and_list_and_resolve_unknown_jobs(
    db_path: str, emulator: Emulator
) -> None:
    async def prepare() -> int:
        box = Outbox(SQLiteStore(db_path))
        job_id = await box.put_confirm(quantity_confirm("c1", "o1"))
        emulator.faults.fail_next("confirm", "504_after")
        async with client(emulator) as rokt, box.worker(rokt, poll_interval=0.02):
            await drained(box, limit=30.0)
        await box.close()
        return job_id

    job_id = asyncio.run(prepare())
    status = run_cli(db_path, "status")
    assert json.loads(status.stdout)["unknown"] == 1
    listing = run_cli(db_path, "list", "--state", "unknown")
    (line,) = listing.stdout.decode().splitlines()
    job = json.loads(line)
    assert (job["id"], job["state"], job["kind"]) == (job_id, "unknown", "confirm")
    assert "could act twice" in job["reason"]
    resent = run_cli(db_path, "resend", str(job_id))
    assert resent.returncode == 0
    again = run_cli(db_path, "resend", str(job_id))
    assert again.returncode == 1  # pending now: nothing to resend
    dropped = run_cli(db_path, "drop", str(job_id))
    assert dropped.returncode == 0
    after = run_cli(db_path, "status")
    counts = json.loads(after.stdout)
    assert (counts["unknown"], counts["pending"]) == (0, 0)


def test_a_store_url_of_another_kind_is_a_usage_error() -> None:
    done = subprocess.run(  # noqa: S603 - this interpreter, our own module
        [*cli("x")[:4], "--store", "mysql://x", "status"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert b"sqlite:/// or postgresql://" in done.stderr
