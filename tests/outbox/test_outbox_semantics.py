"""The outbox's semantics end to end against the emulator over real sockets,
the same tests on each store (``outbox`` runs on SQLite and on PostgreSQL);
the SQLite-only ones build their own store."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from typing import TYPE_CHECKING

import pytest

from rokt_async import NO_RETRY, CancelRequest, ConfirmItem, ConfirmRequest
from rokt_async.outbox import Job, JobState, Outbox, Settle, SQLiteStore
from tests.outbox.conftest import (
    client,
    confirms_seen,
    drained,
    quantity_confirm,
    reserved_confirm,
    reserved_release,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rokt_async.emulator import Emulator


async def test_a_put_twice_is_one_job_and_returns_its_id(outbox: Outbox) -> None:
    first = await outbox.put_confirm(quantity_confirm("c1", "o1"))
    again = await outbox.put_confirm(quantity_confirm("c1", "o1"))
    other = await outbox.put_confirm(quantity_confirm("c1", "o2"))
    assert first == again != other
    assert (await outbox.stats()).pending == 2


async def test_confirms_are_delivered_once_under_504_after(
    outbox: Outbox, emulator: Emulator
) -> None:
    async with client(emulator) as rokt:
        for n in range(60):
            await outbox.put_confirm(await reserved_confirm(rokt, f"c{n}", f"o{n}"))
        emulator.faults.set_rate("confirm", "504_after", 0.1)
        async with outbox.worker(rokt, concurrency=8, poll_interval=0.02):
            await drained(outbox)
    stats = await outbox.stats()
    assert (stats.done, stats.failed, stats.unknown) == (60, 0, 0)
    ledger = emulator.ledger()
    assert ledger.duplicates == ()
    assert (
        sum(n for key, n in ledger.effects.items() if key.startswith("confirm")) == 60
    )
    assert len(emulator.requests("confirm")) > 60  # the 504s were resent


async def test_an_unsafe_ambiguous_confirm_ends_unknown_and_is_never_resent(
    outbox: Outbox, emulator: Emulator
) -> None:
    unknown: list[Job] = []
    outbox.hooks[JobState.UNKNOWN] = unknown.append
    job_id = await outbox.put_confirm(quantity_confirm("c1", "o1"))
    emulator.faults.fail_next("confirm", "504_after")
    async with client(emulator) as rokt:
        async with outbox.worker(rokt, poll_interval=0.02):
            await drained(outbox)
            await asyncio.sleep(0.1)  # a worker that resends would do it now
        assert len(emulator.requests("confirm")) == 1
        job = await outbox.job(job_id)
        assert job is not None
        assert job.state is JobState.UNKNOWN
        assert job.reason is not None
        assert "could act twice" in job.reason
        assert [j.id for j in unknown] == [job_id]
        assert await outbox.resend(job_id)  # the operator checked with Rokt
        async with outbox.worker(rokt, poll_interval=0.02):
            await drained(outbox)
    assert (await outbox.job(job_id)).state is JobState.DONE  # type: ignore[union-attr]
    assert len(emulator.requests("confirm")) == 2


async def test_a_definite_refusal_is_failed_with_rokts_error_body(
    outbox: Outbox, emulator: Emulator
) -> None:
    bogus = ConfirmRequest(
        cart_id="c1",
        order_id="o1",
        items=(ConfirmItem(cart_item_id="parking", item_reservation_id="no-such"),),
    )
    job_id = await outbox.put_confirm(bogus)
    async with client(emulator) as rokt, outbox.worker(rokt, poll_interval=0.02):
        await drained(outbox)
    job = await outbox.job(job_id)
    assert job is not None
    assert job.state is JobState.FAILED
    assert job.attempts == 1
    assert job.error_body is not None
    assert json.loads(job.error_body)  # Rokt's own answer, kept for the operator


async def test_a_release_put_after_a_confirm_runs_after_it(
    outbox: Outbox, emulator: Emulator
) -> None:
    async with client(emulator) as rokt:
        carts = [f"c{n}" for n in range(10)]
        for cart in carts:
            await outbox.put_confirm(await reserved_confirm(rokt, cart, f"o-{cart}"))
            await outbox.put_release(await reserved_release(rokt, cart))
        emulator.faults.set_rate("*", "delay", 1.0, max_ms=20)
        async with outbox.worker(rokt, concurrency=16, poll_interval=0.02):
            await drained(outbox)
    order = [
        (r.endpoint, json.loads(r.body)["cartId"])
        for r in emulator.requests()
        if r.endpoint in ("confirm", "release")
    ]
    for cart in carts:
        mine = [endpoint for endpoint, c in order if c == cart]
        assert mine == ["confirm", "release"]
    assert (await outbox.stats()).done == 20


async def test_an_outage_is_waited_out_with_the_stored_backoff(
    outbox: Outbox, emulator: Emulator
) -> None:
    """Rokt answers 503 for 1 s: jobs go back to pending with a growing wait
    (0.02 s doubling to a 0.1 s cap, jitter down to half: no more than 20 sends
    each in that second, where a hot loop would make hundreds), then all land."""
    async with client(emulator, retry=NO_RETRY) as rokt:
        ids = [
            await outbox.put_confirm(await reserved_confirm(rokt, f"c{n}", f"o{n}"))
            for n in range(5)
        ]
        emulator.faults.set_rate("confirm", "503_retry_after", 1.0, retry_after=0)
        async with outbox.worker(rokt, concurrency=5, poll_interval=0.02):
            await asyncio.sleep(1.0)
            during = [await outbox.job(i) for i in ids]
            emulator.faults.clear()
            await drained(outbox)
    waiting = {JobState.PENDING, JobState.IN_FLIGHT}
    assert all(j is not None and j.state in waiting for j in during)
    attempts = [j.attempts for j in during if j is not None]
    assert all(5 <= a <= 20 for a in attempts), attempts
    assert (await outbox.stats()).done == 5
    assert emulator.ledger().duplicates == ()


async def test_a_job_older_than_max_age_fails_instead_of_waiting_again(
    db_path: str, emulator: Emulator
) -> None:
    now = [1_000_000.0]
    box = Outbox(
        SQLiteStore(db_path),
        max_age=60,
        base_delay=0.01,
        max_delay=0.01,
        clock=lambda: now[0],
    )
    try:
        async with client(emulator, retry=NO_RETRY) as rokt:
            job_id = await box.put_confirm(await reserved_confirm(rokt, "c1", "o1"))
            now[0] += 61
            emulator.faults.set_rate("confirm", "503_retry_after", 1.0, retry_after=0)
            async with box.worker(rokt, poll_interval=0.02):
                await drained(box)
        job = await box.job(job_id)
        assert job is not None
        assert job.state is JobState.FAILED
        assert job.reason == "not delivered within max_age"
        assert job.attempts == 1
    finally:
        await box.close()


async def test_an_expired_lease_is_recovered_by_the_resend_rules(
    outbox: Outbox,
) -> None:
    """A worker that died mid-send: its safe job returns to pending, its unsafe
    one (quantity-only, already started) is unknown; one never started returns."""
    safe = await outbox.put_cancel(CancelRequest(item_reservation_id="r1"))
    unsafe = await outbox.put_confirm(quantity_confirm("c1", "o1"))
    idle = await outbox.put_confirm(quantity_confirm("c2", "o2"))
    store = outbox.store
    now = outbox.clock()
    claimed = await store.claim(now=now, lease=5.0, limit=10, worker="dead")
    assert sorted(j.id for j in claimed) == sorted([safe, unsafe, idle])
    await store.started(safe, now + 1)
    await store.started(unsafe, now + 1)
    assert await store.recover(now + 4) == 0  # leases still running
    assert await store.recover(now + 6) == 3
    states = {j.id: j.state for j in await outbox.jobs()}
    assert states == {
        safe: JobState.PENDING,
        unsafe: JobState.UNKNOWN,
        idle: JobState.PENDING,
    }


async def test_attempts_count_sends_started_once_per_lease(outbox: Outbox) -> None:
    """A job safe to resend is claimed with its attempt recorded (recovery
    treats it alike either way); another is counted by ``started``, once per
    lease; a claimed job given back unsent has its claim's attempt taken back."""
    safe = await outbox.put_cancel(CancelRequest(item_reservation_id="r1"))
    unsafe = await outbox.put_confirm(quantity_confirm("c1", "o1"))
    store = outbox.store
    now = outbox.clock()
    claimed = {
        j.id: j for j in await store.claim(now=now, lease=60, limit=9, worker="w")
    }
    assert (claimed[safe].attempts, claimed[unsafe].attempts) == (1, 0)

    async def attempts() -> dict[int, int]:
        return {j.id: j.attempts for j in await outbox.jobs()}

    assert await attempts() == {safe: 1, unsafe: 0}
    assert await store.started(unsafe, now)
    assert await store.started(unsafe, now)  # the same send: not counted again
    assert await store.started(safe, now)
    assert await attempts() == {safe: 1, unsafe: 1}
    await store.unclaim([safe], now)
    assert await attempts() == {safe: 0, unsafe: 1}
    assert (await outbox.job(safe)).state is JobState.PENDING  # type: ignore[union-attr]


async def test_settle_many_ends_the_leases_still_held_and_says_which(
    outbox: Outbox,
) -> None:
    mine = await outbox.put_confirm(quantity_confirm("c1", "o1"))
    later = await outbox.put_confirm(quantity_confirm("c2", "o1"))
    never = await outbox.put_confirm(quantity_confirm("c3", "o1"))
    store = outbox.store
    now = outbox.clock()
    claimed = await store.claim(now=now, lease=60, limit=9, worker="w")
    assert sorted(j.id for j in claimed) == [mine, later, never]
    await store.unclaim([never], now)  # no longer leased here
    assert await store.settle_many([]) == []
    ended = await store.settle_many(
        [
            Settle(mine, JobState.DONE, now),
            Settle(never, JobState.DONE, now),
            Settle(
                later, JobState.PENDING, now, next_attempt_at=now, last_error="E: x"
            ),
        ]
    )
    assert ended == [True, False, True]
    jobs = {j.id: j for j in await outbox.jobs()}
    assert {i: j.state for i, j in jobs.items()} == {
        mine: JobState.DONE,
        later: JobState.PENDING,
        never: JobState.PENDING,
    }
    assert jobs[later].last_error == "E: x"
    with pytest.raises(ValueError, match="ends a lease"):
        await store.settle_many([Settle(mine, JobState.IN_FLIGHT, now)])


async def test_claims_give_one_job_per_cart_in_put_order(outbox: Outbox) -> None:
    first = await outbox.put_confirm(quantity_confirm("c1", "o1"))
    second = await outbox.put_confirm(quantity_confirm("c1", "o2"))
    other = await outbox.put_confirm(quantity_confirm("c2", "o1"))
    store = outbox.store
    now = outbox.clock()
    taken = await store.claim(now=now, lease=60, limit=10, worker="w")
    assert sorted(j.id for j in taken) == [first, other]
    assert await store.claim(now=now, lease=60, limit=10, worker="w") == []
    await store.settle(first, JobState.DONE, now=now)
    (nxt,) = await store.claim(now=now, lease=60, limit=10, worker="w")
    assert nxt.id == second


async def test_a_graceful_stop_finishes_sends_in_flight_and_claims_no_more(
    outbox: Outbox, emulator: Emulator
) -> None:
    async with client(emulator) as rokt:
        for n in range(6):
            await outbox.put_confirm(await reserved_confirm(rokt, f"c{n}", f"o{n}"))
        emulator.faults.set_rate("confirm", "delay", 1.0, ms=300)
        worker = outbox.worker(rokt, concurrency=2, poll_interval=0.02, stop_timeout=5)
        async with worker:
            await asyncio.sleep(0.1)  # two sends started
    stats = await outbox.stats()
    assert (stats.done, stats.pending, stats.in_flight) == (2, 4, 0)
    assert len(emulator.requests("confirm")) == 2


async def test_stats_count_states_and_the_oldest_pending_age(db_path: str) -> None:
    now = [500.0]
    box = Outbox(SQLiteStore(db_path), clock=lambda: now[0])
    try:
        await box.put_confirm(quantity_confirm("c1", "o1"))
        now[0] = 530.0
        await box.put_confirm(quantity_confirm("c2", "o1"))
        stats = await box.stats()
        assert (stats.pending, stats.done, stats.oldest_pending_age) == (2, 0, 30.0)
        (job, _) = await box.jobs("pending")
        assert await box.drop(job.id)
        assert not await box.drop(job.id)
        assert (await box.stats()).pending == 1
    finally:
        await box.close()


async def test_a_put_in_the_callers_rolled_back_transaction_leaves_no_job(
    db_path: str, sqlite_outbox: Outbox
) -> None:
    await sqlite_outbox.stats()  # the file and table exist
    own = sqlite3.connect(db_path, isolation_level=None)
    try:
        own.execute("BEGIN")
        await sqlite_outbox.put_confirm(quantity_confirm("c1", "o1"), connection=own)
        own.execute("ROLLBACK")
        own.execute("BEGIN")
        await sqlite_outbox.put_confirm(quantity_confirm("c2", "o2"), connection=own)
        own.execute("COMMIT")
    finally:
        own.close()
    assert [j.key for j in await sqlite_outbox.jobs()] == ["confirm c2/o2"]


async def test_the_wrong_kind_of_request_or_connection_is_refused(
    sqlite_outbox: Outbox,
) -> None:
    with pytest.raises(TypeError, match="queues ConfirmRequest"):
        await sqlite_outbox.put_confirm("not a request")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"sqlite3\.Connection"):
        await sqlite_outbox.put_confirm(quantity_confirm("c", "o"), connection=object())


class FlakyStore(SQLiteStore):
    """A store whose first two claims fail, as a locked or full disk would."""

    failures = 2

    async def claim(
        self, *, now: float, lease: float, limit: int, worker: str
    ) -> list[Job]:
        if self.failures:
            self.failures -= 1
            raise sqlite3.OperationalError("database is locked")
        return await super().claim(now=now, lease=lease, limit=limit, worker=worker)


async def test_the_worker_outlives_a_failing_store(
    db_path: str, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    box = Outbox(FlakyStore(db_path))
    try:
        async with client(emulator) as rokt:
            await box.put_confirm(await reserved_confirm(rokt, "c1", "o1"))
            async with box.worker(rokt, poll_interval=0.02):
                await drained(box)
        assert (await box.stats()).done == 1
        failures = [r for r in caplog.records if "the store failed" in r.getMessage()]
        assert len(failures) == 2
    finally:
        await box.close()


async def waiting(store: HeldStore) -> None:
    """Wait (at most 10 s) until something is held in ``store``."""
    async with asyncio.timeout(10):
        while True:
            if store.waiting:
                return
            await asyncio.sleep(0.01)


class HeldStore(SQLiteStore):
    """A store whose claims (``hold="claim"``) or settles (``hold="settle"``)
    wait until the test lets them through."""

    def __init__(self, path: str, hold: str) -> None:
        super().__init__(path)
        self.hold = hold
        self.let_through = asyncio.Event()
        self.waiting = 0  # claims or settle batches that reached the store
        self.sizes: list[int] = []  # jobs per settle batch

    async def _held(self, what: str) -> None:
        if self.hold == what:
            self.waiting += 1
            await self.let_through.wait()

    async def claim(
        self, *, now: float, lease: float, limit: int, worker: str
    ) -> list[Job]:
        await self._held("claim")
        return await super().claim(now=now, lease=lease, limit=limit, worker=worker)

    async def settle_many(self, settles: Sequence[Settle]) -> list[bool]:
        self.sizes.append(len(settles))
        await self._held("settle")
        return await super().settle_many(settles)


async def test_a_stop_during_a_claim_does_not_wait_out_the_poll_interval(
    db_path: str, emulator: Emulator
) -> None:
    """stop() while the worker's loop is in a claim: the loop sees the stop as
    the claim ends, instead of sleeping its 60 s poll interval first."""
    store = HeldStore(db_path, hold="claim")
    box = Outbox(store)
    try:
        async with client(emulator) as rokt:
            worker = box.worker(rokt, poll_interval=60.0)
            await worker.__aenter__()
            await waiting(store)
            stopping = asyncio.ensure_future(worker.stop())
            await asyncio.sleep(0.05)
            store.let_through.set()
            done, _ = await asyncio.wait([stopping], timeout=10)
            assert stopping in done  # not after the 60 s poll interval
    finally:
        await box.close()


async def test_a_send_slot_is_free_while_its_job_is_settled(
    db_path: str, emulator: Emulator
) -> None:
    """``concurrency`` bounds calls in flight: with one slot and the first
    job's settle held, the second job is sent anyway."""
    store = HeldStore(db_path, hold="settle")
    box = Outbox(store)
    try:
        async with client(emulator) as rokt:
            for n in range(2):
                await box.put_confirm(await reserved_confirm(rokt, f"c{n}", f"o{n}"))
            async with box.worker(rokt, concurrency=1, poll_interval=0.02):
                await confirms_seen(emulator, 2)
                assert (await box.stats()).in_flight == 2  # neither settled yet
                store.let_through.set()
                await drained(box)
        assert (await box.stats()).done == 2
    finally:
        await box.close()


async def test_outcomes_that_gather_meanwhile_are_settled_in_one_batch(
    db_path: str, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """While the first settle is held, the other four sends end: their outcomes
    go to the store together, and a hook that raises spoils none of the others."""
    store = HeldStore(db_path, hold="settle")
    done: list[str] = []

    def on_done(job: Job) -> None:
        done.append(job.cart)
        if job.cart == "c0":
            raise RuntimeError("the partner's hook failed")

    box = Outbox(store, on_done=on_done)
    try:
        async with client(emulator) as rokt:
            for n in range(5):
                await box.put_confirm(await reserved_confirm(rokt, f"c{n}", f"o{n}"))
            emulator.faults.set_rate("confirm", "delay", 1.0, max_ms=30)
            async with box.worker(rokt, concurrency=5, poll_interval=0.02):
                await confirms_seen(emulator, 5)
                await waiting(store)
                await asyncio.sleep(0.2)  # every send has ended by now
                store.let_through.set()
                await drained(box)
        assert sorted(store.sizes) == [1, 4]
        assert sorted(done) == ["c0", "c1", "c2", "c3", "c4"]
        assert (await box.stats()).done == 5
        assert any(
            "on_done raised RuntimeError" in r.getMessage() for r in caplog.records
        )
    finally:
        await box.close()


async def test_a_resent_job_waits_while_its_cart_has_a_job_in_flight(
    outbox: Outbox,
) -> None:
    """Resending an old job of a cart whose later job is in flight must not let
    both run at once: it is claimed only after that one settles."""
    first = await outbox.put_confirm(quantity_confirm("c1", "o1"))
    second = await outbox.put_confirm(quantity_confirm("c1", "o2"))
    store = outbox.store
    now = outbox.clock()
    (job,) = await store.claim(now=now, lease=60, limit=10, worker="w")
    assert job.id == first
    await store.settle(first, JobState.UNKNOWN, now=now, reason="test")
    (job,) = await store.claim(now=now, lease=60, limit=10, worker="w")
    assert job.id == second
    assert await outbox.resend(first)
    assert await store.claim(now=outbox.clock(), lease=60, limit=10, worker="w") == []
    await store.settle(second, JobState.DONE, now=outbox.clock())
    (job,) = await store.claim(now=outbox.clock(), lease=60, limit=10, worker="w")
    assert job.id == first


async def test_a_worker_that_lost_its_lease_neither_sends_nor_settles(
    db_path: str,
) -> None:
    """Recovery (from another process's store) took the job back and another
    worker claimed it: the first worker's start is refused and its settle is
    ignored."""
    slow, other = SQLiteStore(db_path), SQLiteStore(db_path)
    try:
        box = Outbox(slow)
        job_id = await box.put_confirm(quantity_confirm("c1", "o1"))
        now = box.clock()
        await slow.claim(now=now, lease=5.0, limit=1, worker="slow")
        assert await other.recover(now + 6) == 1
        assert not await slow.started(job_id, now + 7)
        (taken,) = await other.claim(now=now + 8, lease=60, limit=1, worker="next")
        assert taken.id == job_id
        assert not await slow.settle(job_id, JobState.DONE, now=now + 9)
        late = await slow.get(job_id)
        assert late is not None
        assert late.state is JobState.IN_FLIGHT  # still the other worker's
        assert await other.started(job_id, now + 9)
    finally:
        await slow.close()
        await other.close()
