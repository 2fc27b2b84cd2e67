"""The store around procrastinate's own operations: pruned worker rows, jobs
cancelled with procrastinate's tools, and an app closed before the store."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import TYPE_CHECKING

import pytest
from procrastinate.exceptions import AppNotOpen

from rokt_async.outbox import JobState, Outbox
from rokt_async.outbox._procrastinate import ProcrastinateStore, store_from_url
from tests.outbox._pg import open_app
from tests.outbox.conftest import quantity_confirm

if TYPE_CHECKING:
    from tests.outbox._pg import PgServer


async def test_a_pruned_worker_row_is_registered_again_and_its_jobs_recovered(
    pg_store: ProcrastinateStore,
) -> None:
    """procrastinate prunes worker rows without recent heartbeats; the next claim
    registers the worker again, and the jobs the old row held count as stalled."""
    outbox = Outbox(pg_store)
    held = await outbox.put_confirm(quantity_confirm("c1", "o1"))
    await pg_store.claim(now=time.time(), lease=3600, limit=1, worker="w")
    assert await pg_store.app.job_manager.prune_stalled_workers(0)
    later = await outbox.put_confirm(quantity_confirm("c2", "o1"))
    (taken,) = await pg_store.claim(now=time.time(), lease=3600, limit=1, worker="w")
    assert taken.id == later
    assert await pg_store.recover(time.time()) == 1
    states = {j.id: j.state for j in await outbox.jobs()}
    assert states == {held: JobState.PENDING, later: JobState.IN_FLIGHT}


async def test_a_job_cancelled_with_procrastinates_tools_is_failed_until_resent(
    pg_store: ProcrastinateStore,
) -> None:
    """An outbox job cancelled through procrastinate shows as ``failed``, and an
    operator's ``resend`` makes it pending again."""
    outbox = Outbox(pg_store)
    job_id = await outbox.put_confirm(quantity_confirm("c1", "o1"))
    assert await pg_store.app.job_manager.cancel_job_by_id_async(job_id)
    assert [j.id for j in await outbox.jobs("failed")] == [job_id]
    assert await outbox.resend(job_id)
    (taken,) = await pg_store.claim(now=time.time(), lease=60, limit=1, worker="w")
    assert taken.id == job_id


async def test_a_store_closed_after_its_app_closes_quietly(pg_dsn: str) -> None:
    """Heartbeats that fail while the app is closed, and a ``close`` that can no
    longer unregister its workers, raise nothing."""
    app = open_app(pg_dsn)
    async with app.open_async():
        store = ProcrastinateStore(app, heartbeat_interval=0.02, stalled_timeout=1)
        job_id = await Outbox(store).put_confirm(quantity_confirm("c1", "o1"))
        await store.claim(now=time.time(), lease=60, limit=1, worker="w")
    await asyncio.sleep(0.1)  # a few heartbeats fail: the pool is closed
    await store.close()
    async with app.open_async():
        other = ProcrastinateStore(app)
        assert await other.recover(time.time() + 61) == 1  # the lease ran out
        job = await other.get(job_id)
        assert job is not None
        assert job.state is JobState.PENDING


async def test_a_store_from_a_url_owns_its_app_and_serves_the_cli(
    pg_dsn: str, pg_server: PgServer
) -> None:
    """``store_from_url`` opens an app of its own on first use and closes it with
    the store; ``rokt-async outbox --store postgresql://...`` works on it."""
    url = f"postgresql://postgres@{pg_server.host}:{pg_server.port}/rokt_test"
    store = store_from_url(url)
    outbox = Outbox(store)
    job_id = await outbox.put_confirm(quantity_confirm("c1", "o1"))
    await outbox.close()
    with pytest.raises(AppNotOpen):
        store.app.connector.pool  # type: ignore[attr-defined]  # noqa: B018
    cli = (sys.executable, "-m", "rokt_async", "outbox", "--store", url)
    status = await asyncio.create_subprocess_exec(
        *cli, "status", stdout=asyncio.subprocess.PIPE
    )
    out, _ = await status.communicate()
    assert (status.returncode, json.loads(out)["pending"]) == (0, 1)
    resend = await asyncio.create_subprocess_exec(
        *cli, "resend", str(job_id), stderr=asyncio.subprocess.PIPE
    )
    await resend.communicate()
    assert resend.returncode == 1  # a pending job is not the operator's to resend
