"""The Store contract on PostgreSQL: ``ProcrastinateStore`` over a real server."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import psycopg
import pytest
from procrastinate import App
from procrastinate.exceptions import ProcrastinateException
from procrastinate.testing import InMemoryConnector

from rokt_async import CancelRequest
from rokt_async.outbox import JobState, Outbox
from rokt_async.outbox._procrastinate import ProcrastinateStore
from tests.outbox._pg import open_app
from tests.outbox.conftest import quantity_confirm

if TYPE_CHECKING:
    from procrastinate.jobs import Job as ProcrastinateJob

    from tests.outbox._pg import PgServer

#: A trigger that makes procrastinate's insert fail for cart c1's jobs.
_REFUSE_CART_C1 = """
CREATE FUNCTION pg_temp.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'refused'; END $$;
CREATE TRIGGER refuse BEFORE INSERT ON procrastinate_jobs FOR EACH ROW
WHEN (NEW.lock = 'rokt_outbox:c1') EXECUTE FUNCTION pg_temp.refuse();
"""


async def test_a_put_twice_is_one_job_even_after_it_is_done(
    pg_store: ProcrastinateStore,
) -> None:
    """The same confirm put again returns the first job's id, done or not."""
    outbox = Outbox(pg_store)
    first = await outbox.put_confirm(quantity_confirm("c1", "o1"))
    assert await outbox.put_confirm(quantity_confirm("c1", "o1")) == first
    other = await outbox.put_confirm(quantity_confirm("c1", "o2"))
    (job,) = await pg_store.claim(now=time.time(), lease=60, limit=5, worker="w")
    await pg_store.settle(job.id, JobState.DONE, now=time.time())
    assert await outbox.put_confirm(quantity_confirm("c1", "o1")) == first
    stats = await outbox.stats()
    assert (stats.done, stats.pending) == (1, 1)
    assert [j.id for j in await outbox.jobs()] == [first, other]


async def test_claims_give_one_job_per_cart_in_put_order(
    pg_store: ProcrastinateStore,
) -> None:
    """A claim leases at most one job per cart, its oldest, and the cart's next
    job only once that one settles."""
    outbox = Outbox(pg_store)
    first = await outbox.put_confirm(quantity_confirm("c1", "o1"))
    second = await outbox.put_confirm(quantity_confirm("c1", "o2"))
    other = await outbox.put_confirm(quantity_confirm("c2", "o1"))
    now = time.time()
    taken = await pg_store.claim(now=now, lease=60, limit=10, worker="w")
    assert [j.id for j in taken] == [first, other]
    assert {j.state for j in taken} == {JobState.IN_FLIGHT}
    assert await pg_store.claim(now=now, lease=60, limit=10, worker="w") == []
    await pg_store.settle(first, JobState.DONE, now=now)
    (nxt,) = await pg_store.claim(now=now, lease=60, limit=10, worker="w")
    assert nxt.id == second


async def test_a_pending_job_waits_for_its_next_attempt_and_holds_its_cart(
    pg_store: ProcrastinateStore,
) -> None:
    """``settle(pending, next_attempt_at=...)`` is a retry stored in the database:
    the job and its cart's later jobs wait until then; other carts don't."""
    outbox = Outbox(pg_store)
    first = await outbox.put_confirm(quantity_confirm("c1", "o1"))
    await outbox.put_confirm(quantity_confirm("c1", "o2"))
    other = await outbox.put_confirm(quantity_confirm("c2", "o1"))
    now = time.time()
    await pg_store.claim(now=now, lease=60, limit=10, worker="w")
    assert await pg_store.settle(
        first,
        JobState.PENDING,
        now=now,
        next_attempt_at=now + 0.5,
        last_error="GatewayTimeoutError: 504",
    )
    waiting = await pg_store.get(first)
    assert waiting is not None
    assert waiting.state is JobState.PENDING
    assert waiting.next_attempt_at >= now + 0.4
    assert waiting.last_error == "GatewayTimeoutError: 504"
    await pg_store.settle(other, JobState.DONE, now=now)
    assert await pg_store.claim(now=now, lease=60, limit=10, worker="w") == []
    await asyncio.sleep(0.6)
    again = await pg_store.claim(now=time.time(), lease=60, limit=10, worker="w")
    assert [j.id for j in again] == [first]


async def test_an_expired_lease_is_recovered_by_the_resend_rules(
    pg_store: ProcrastinateStore,
) -> None:
    """Leases past ``lease`` on the caller's clock: a safe job that had started
    and one that never started go back to pending; an unsafe started one is
    unknown, with its reason."""
    outbox = Outbox(pg_store)
    safe = await outbox.put_cancel(CancelRequest(item_reservation_id="r1"))
    unsafe = await outbox.put_confirm(quantity_confirm("c1", "o1"))
    idle = await outbox.put_confirm(quantity_confirm("c2", "o2"))
    now = time.time()
    claimed = await pg_store.claim(now=now, lease=5.0, limit=10, worker="dead")
    assert sorted(j.id for j in claimed) == sorted([safe, unsafe, idle])
    await pg_store.started(safe, now + 1)
    await pg_store.started(unsafe, now + 1)
    assert await pg_store.recover(now + 4) == 0  # leases still running
    assert await pg_store.recover(now + 6) == 3
    jobs = {j.id: j for j in await outbox.jobs()}
    assert {i: j.state for i, j in jobs.items()} == {
        safe: JobState.PENDING,
        unsafe: JobState.UNKNOWN,
        idle: JobState.PENDING,
    }
    assert "could act twice" in str(jobs[unsafe].reason)
    assert (jobs[safe].attempts, jobs[idle].attempts) == (1, 0)
    assert await pg_store.recover(now + 60) == 0


async def test_a_worker_that_lost_its_lease_can_neither_send_nor_settle(
    pg_app: App, pg_store: ProcrastinateStore
) -> None:
    """Once recovery took a job back, its old worker's ``started`` is False and its
    ``settle`` changes nothing: not while the job waits, nor once another worker
    has claimed it."""
    job_id = await Outbox(pg_store).put_confirm(quantity_confirm("c1", "o1"))
    now = time.time()
    await pg_store.claim(now=now, lease=5.0, limit=1, worker="slow")
    other = ProcrastinateStore(pg_app)
    try:
        assert await other.recover(now + 6) == 1
        assert not await pg_store.started(job_id, now + 7)
        (taken,) = await other.claim(now=now + 8, lease=60, limit=1, worker="next")
        assert taken.id == job_id
        assert not await pg_store.started(job_id, now + 9)
        assert not await pg_store.settle(job_id, JobState.DONE, now=now + 9)
        late = await pg_store.get(job_id)
        assert late is not None
        assert late.state is JobState.IN_FLIGHT
        await other.settle(job_id, JobState.DONE, now=now + 10)
    finally:
        await other.close()


async def test_recovery_leaves_a_job_claimed_again_since_it_was_seen_stalled(
    pg_app: App, pg_store: ProcrastinateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``get_stalled_jobs`` is a snapshot: a job it listed that a live worker has
    claimed since is not taken from that worker."""
    job_id = await Outbox(pg_store).put_confirm(quantity_confirm("c1", "o1"))
    dying = ProcrastinateStore(pg_app)
    await dying.claim(now=time.time(), lease=60, limit=1, worker="dying")
    await dying.close()
    manager = pg_app.job_manager
    snapshot = list(await manager.get_stalled_jobs(task_name="rokt_async.outbox.send"))
    assert [j.id for j in snapshot] == [job_id]
    assert await pg_store.recover(time.time()) == 1
    (taken,) = await pg_store.claim(now=time.time(), lease=60, limit=1, worker="w")

    async def stale(**_: object) -> list[ProcrastinateJob]:
        return snapshot

    monkeypatch.setattr(manager, "get_stalled_jobs", stale)
    assert await pg_store.recover(time.time()) == 0
    job = await pg_store.get(taken.id)
    assert job is not None
    assert job.state is JobState.IN_FLIGHT


async def test_a_put_that_fails_leaves_no_half_job_and_the_callers_work_intact(
    pg_dsn: str, pg_store: ProcrastinateStore
) -> None:
    """If procrastinate's insert fails, the key is not left taken (the same put
    succeeds later, on an autocommit connection too) and the caller's own
    transaction can still commit."""
    outbox = Outbox(pg_store)
    await outbox.stats()  # the side table exists
    async with await psycopg.AsyncConnection.connect(pg_dsn, autocommit=True) as conn:
        await conn.execute(_REFUSE_CART_C1)
        with pytest.raises(ProcrastinateException):
            await outbox.put_confirm(quantity_confirm("c1", "o1"), connection=conn)
        await conn.set_autocommit(False)
        await conn.execute("CREATE TEMP TABLE orders (id text PRIMARY KEY)")
        await conn.execute("INSERT INTO orders VALUES ('o1')")
        with pytest.raises(ProcrastinateException):
            await outbox.put_confirm(quantity_confirm("c1", "o1"), connection=conn)
        await conn.execute("INSERT INTO orders VALUES ('o2')")  # still usable
        orders = await (await conn.execute("SELECT id FROM orders")).fetchall()
        await conn.commit()
        await conn.execute("DROP TRIGGER refuse ON procrastinate_jobs")
        await conn.commit()
    assert orders == [("o1",), ("o2",)]
    assert await outbox.jobs() == []
    job_id = await outbox.put_confirm(quantity_confirm("c1", "o1"))
    assert [j.id for j in await outbox.jobs()] == [job_id]


async def test_failed_and_unknown_jobs_are_resent_or_dropped_by_an_operator(
    pg_store: ProcrastinateStore,
) -> None:
    """``resend`` returns failed and unknown jobs to pending (their error body
    kept); ``drop`` forgets any job not in flight, and frees its key."""
    outbox = Outbox(pg_store)
    refused = await outbox.put_confirm(quantity_confirm("c1", "o1"))
    unsure = await outbox.put_confirm(quantity_confirm("c2", "o1"))
    sending = await outbox.put_confirm(quantity_confirm("c3", "o1"))
    now = time.time()
    await pg_store.claim(now=now, lease=60, limit=10, worker="w")
    body = '{"errors":[{"code":"X"}]}'
    await pg_store.settle(
        refused, JobState.FAILED, now=now, error_body=body, reason="Rokt refused it"
    )
    await pg_store.settle(unsure, JobState.UNKNOWN, now=now, reason="may have acted")
    assert [j.id for j in await outbox.jobs("unknown")] == [unsure]
    assert not await outbox.resend(sending)  # in flight
    assert not await outbox.drop(sending)
    await pg_store.settle(sending, JobState.DONE, now=now)
    assert await outbox.resend(refused)
    assert await outbox.resend(unsure)
    assert not await outbox.resend(sending)  # done
    jobs = {j.id: j for j in await outbox.jobs("pending")}
    assert sorted(jobs) == [refused, unsure]
    assert (jobs[refused].error_body, jobs[refused].reason) == (body, None)
    again = await pg_store.claim(now=now, lease=60, limit=10, worker="w")
    assert [j.id for j in again] == [refused, unsure]
    assert await outbox.drop(sending)
    assert await outbox.job(sending) is None
    assert not await outbox.drop(sending)
    assert await outbox.put_confirm(quantity_confirm("c3", "o1")) != sending


async def test_stats_count_states_and_the_oldest_pending_age(
    pg_store: ProcrastinateStore,
) -> None:
    """Counts per state, and the oldest pending job's age on the outbox clock."""
    now = [500.0]
    outbox = Outbox(pg_store, clock=lambda: now[0])
    await outbox.put_confirm(quantity_confirm("c1", "o1"))
    now[0] = 530.0
    await outbox.put_confirm(quantity_confirm("c2", "o1"))
    stats = await outbox.stats()
    assert (stats.pending, stats.done, stats.oldest_pending_age) == (2, 0, 30.0)
    (first, _) = await pg_store.claim(now=530, lease=60, limit=10, worker="w")
    await pg_store.settle(first.id, JobState.UNKNOWN, now=531, reason="r")
    stats = await outbox.stats()
    assert (stats.pending, stats.in_flight, stats.unknown) == (0, 1, 1)
    assert stats.oldest_pending_age is None


async def test_a_put_in_the_callers_rolled_back_transaction_leaves_no_job(
    pg_dsn: str, pg_store: ProcrastinateStore
) -> None:
    """``put_confirm(connection=conn)`` commits with the caller's transaction, or
    rolls back with it; before the commit no worker can see the job."""
    outbox = Outbox(pg_store)
    async with await psycopg.AsyncConnection.connect(pg_dsn) as conn:
        await conn.execute("CREATE TEMP TABLE orders (id text PRIMARY KEY)")
        await conn.commit()
        await conn.execute("INSERT INTO orders VALUES ('o1')")  # BEGIN, implicitly
        await outbox.put_confirm(quantity_confirm("c1", "o1"), connection=conn)
        await conn.rollback()
        await conn.execute("INSERT INTO orders VALUES ('o2')")
        kept = await outbox.put_confirm(quantity_confirm("c2", "o2"), connection=conn)
        again = await outbox.put_confirm(quantity_confirm("c2", "o2"), connection=conn)
        assert again == kept
        assert await outbox.jobs() == []  # not committed yet
        await conn.commit()
        orders = await (await conn.execute("SELECT id FROM orders")).fetchall()
    assert orders == [("o2",)]
    assert [(j.id, j.key) for j in await outbox.jobs()] == [(kept, "confirm c2/o2")]
    (job,) = await pg_store.claim(now=time.time(), lease=60, limit=5, worker="w")
    assert job.id == kept


async def test_the_wrong_connection_app_or_settings_are_refused(
    pg_app: App, pg_store: ProcrastinateStore
) -> None:
    """Misuse fails at once with a message that names what is expected."""
    with pytest.raises(TypeError, match=r"psycopg\.AsyncConnection"):
        await Outbox(pg_store).put_confirm(quantity_confirm("c", "o"), connection=1)
    with pytest.raises(TypeError, match="PsycopgConnector"):
        ProcrastinateStore(App(connector=InMemoryConnector()))
    with pytest.raises(ValueError, match="heartbeat_interval"):
        ProcrastinateStore(pg_app, heartbeat_interval=30, stalled_timeout=10)
    with pytest.raises(ValueError, match="ends a lease"):
        await pg_store.settle(1, JobState.IN_FLIGHT, now=0)


async def test_a_database_without_procrastinates_schema_is_refused(
    pg_server: PgServer,
) -> None:
    """A store on a database where procrastinate's schema was never applied says
    so instead of failing on a missing table."""
    async with await psycopg.AsyncConnection.connect(
        pg_server.dsn("postgres"), autocommit=True
    ) as admin:
        await admin.execute("CREATE DATABASE bare TEMPLATE template0")
    app = open_app(pg_server.dsn("bare"))
    async with app.open_async():
        store = ProcrastinateStore(app)
        with pytest.raises(RuntimeError, match="procrastinate's schema"):
            await store.counts()
