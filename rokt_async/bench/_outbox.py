"""The ``--outbox`` phase: confirms put and drained through the outbox, next to
the same number confirmed directly, on one client at the bench's concurrency.

After the measured flows, against the same target and under the same faults:
reserve 2 x N carts (one item each); confirm N of them with
``client.confirm_cart``, ``concurrency`` in flight (direct); put the other N
with ``outbox.put_confirm``, ``concurrency`` at once (put latency); then drain
them with ``outbox.worker(client, concurrency=...)`` until every job put has
ended (drain throughput). The store is opened, and must hold no job still
pending or in flight, before the flows start; the temporary SQLite file that
``--outbox sqlite`` uses without ``--outbox-url`` is removed at the end.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Final, Self, TypeVar

from .. import (
    ConfirmItem,
    ConfirmRequest,
    PoolLimits,
    ReserveItem,
    ReserveRequest,
    RoktClient,
    RoktError,
)
from ..outbox import JobState, Outbox, SQLiteStore
from ..outbox._cli import open_store
from ._checkout import CATALOG
from ._flows import DRAIN_SECONDS
from ._outbox_report import OutboxJobs, StepCounts, build_outbox_report
from ._outbox_store import SQLITE_PREFIX, outbox_secrets, shown_url
from ._target import BenchSetupError, redact

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence
    from types import TracebackType

    from ..outbox import Job, Store
    from ._outbox_report import OutboxReport
    from ._stats import LedgerTally
    from ._target import FaultRate

__all__ = ["OutboxBench"]

T = TypeVar("T")

_UNSETTLED: Final = frozenset({JobState.PENDING, JobState.IN_FLIGHT})


async def _lanes(
    concurrency: int, items: Sequence[T], work: Callable[[T], Awaitable[None]]
) -> None:
    """``work`` on every item, at most ``concurrency`` at once."""
    pending = iter(items)

    async def lane() -> None:
        for item in pending:
            await work(item)

    async with asyncio.TaskGroup() as group:
        for _ in range(min(concurrency, len(items))):
            group.create_task(lane())


class OutboxBench:
    """The ``--outbox`` phase: its store for the run, then ``run()``.

    Args:
        store: ``sqlite`` or ``postgres``.
        url: the store's URL; None: a temporary SQLite file.
        confirms: carts for each of direct and outbox confirms.
        concurrency: calls, puts and sends in flight.
        say: where to report progress (nothing with ``--quiet``).
    """

    def __init__(
        self,
        *,
        store: str,
        url: str | None,
        confirms: int,
        concurrency: int,
        say: Callable[[str], None] = lambda _: None,
    ) -> None:
        self.store = store
        self._url = url
        self.confirms = confirms
        self.concurrency = concurrency
        self._say = say
        self._folder: str | None = None
        self._outbox: Outbox | None = None
        self._ids: set[int] = set()
        self._ended: set[int] = set()
        self._all_ended = asyncio.Event()
        self._last_end = 0.0

    def __repr__(self) -> str:
        return f"<OutboxBench {self.store} {self.url}>"

    @property
    def url(self) -> str:
        """The store's URL as reports show it (password masked)."""
        if self._url is not None:
            return shown_url(self._url)
        return SQLITE_PREFIX + str(Path(self._folder or "?", "outbox.db"))

    @property
    def secret_values(self) -> list[str]:
        """The store URL's password: output must never show it."""
        return outbox_secrets(self._url)

    async def __aenter__(self) -> Self:
        """Open the store; it must answer and hold no unfinished job.

        Raises:
            BenchSetupError: it could not be opened or read, or holds jobs
                pending or in flight (the bench's worker would send them).
        """
        if self._url is None:
            self._folder = tempfile.mkdtemp(prefix="rokt-bench-outbox-")
        try:
            store: Store = (
                SQLiteStore(str(Path(self._folder or ".", "outbox.db")))
                if self._url is None
                else open_store(self._url)
            )
            self._outbox = Outbox(
                store,
                on_done=self._ended_one,
                on_failed=self._ended_one,
                on_unknown=self._ended_one,
            )
            stats = await self._outbox.stats()
        except Exception as exc:  # noqa: BLE001 - any failure: the run cannot start
            await self._close()
            why = redact(f"{type(exc).__name__}: {exc}", self.secret_values)
            raise BenchSetupError(f"the outbox store {self.url}: {why}") from None
        if stats.pending or stats.in_flight:
            await self._close()
            raise BenchSetupError(
                f"the outbox store {self.url} holds {stats.pending} pending and"
                f" {stats.in_flight} in-flight jobs; the bench's worker would send"
                " them. Give it a store with none"
            )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._close()

    async def _close(self) -> None:
        outbox, self._outbox = self._outbox, None
        try:
            if outbox is not None:
                await outbox.close()
        finally:
            if self._folder is not None:
                shutil.rmtree(self._folder, ignore_errors=True)

    def _ended_one(self, job: Job) -> None:
        """The outbox's hook as a job ends ``done``, ``failed`` or ``unknown``."""
        if job.id in self._ids and job.id not in self._ended:
            self._ended.add(job.id)
            self._last_end = time.perf_counter()
            if len(self._ended) >= len(self._ids):
                self._all_ended.set()

    # --- the phase ------------------------------------------------------------------

    async def run(
        self,
        *,
        base_url: str,
        api_key: str,
        tag_id: str,
        run_id: str,
        deadline: float,
        faults: Sequence[FaultRate],
        tally: LedgerTally,
    ) -> OutboxReport:
        """Reserve, confirm directly, put, drain; then read every job back.

        Args:
            base_url, api_key, tag_id: the target, as the flows used it.
            run_id: goes into every cart and order id.
            deadline: the loop time at which the run's ``--max-seconds`` ends.
            faults: the injected faults, which explain some errors.
            tally: gets the cart lines sent to confirm and seen confirmed.
        """
        outbox = self._outbox
        if outbox is None:
            raise RuntimeError("open the OutboxBench with async with first")
        steps = {name: StepCounts() for name in ("reserve", "direct", "put", "drain")}
        sizes: dict[int, int] = {}  # job id -> cart lines
        stopped = "done"
        reserved: list[ConfirmRequest] = []
        client = RoktClient(
            api_key=api_key,
            tag_id=tag_id,
            base_url=base_url,
            limits=PoolLimits(connections=self.concurrency),
        )
        async with client:
            limit = asyncio.timeout_at(deadline)
            try:
                async with limit:
                    prefix = f"{run_id}-outbox"
                    self._say(f"outbox: reserving {2 * self.confirms:,} carts")
                    reserved = await self._reserve(client, prefix, steps["reserve"])
                    half = len(reserved) // 2
                    self._say(f"outbox: {half:,} direct confirms")
                    await self._direct(client, reserved[:half], steps["direct"], tally)
                    self._say(f"outbox: {half:,} puts")
                    await self._put(reserved[half : 2 * half], steps["put"], sizes)
                    tally.confirm_items_sent += sum(sizes.values())
                    self._say(f"outbox: draining {len(self._ids):,} jobs")
                    await self._drain(client, steps["drain"])
            except TimeoutError:
                if not limit.expired():
                    raise
                stopped = "time_limit"
            jobs = await self._read_back(outbox, sizes, steps["drain"], tally)
        return build_outbox_report(
            store=self.store,
            url=self.url,
            temporary=self._url is None,
            confirms=self.confirms,
            concurrency=self.concurrency,
            steps=steps,
            jobs=jobs,
            reserved=len(reserved),
            stopped_by=stopped,
            faults=faults,
        )

    async def _reserve(
        self, client: RoktClient, prefix: str, step: StepCounts
    ) -> list[ConfirmRequest]:
        found: dict[int, ConfirmRequest] = {}

        async def reserve(n: int) -> None:
            cart = f"cart-{prefix}-{n}"
            item = ReserveItem(cart_item_id=CATALOG[n % len(CATALOG)], quantity=1)
            step.count += 1
            try:
                held = await client.reserve_cart(
                    ReserveRequest(cart_id=cart, items=(item,)), session_id=cart
                )
            except RoktError as exc:
                step.error(type(exc).__name__)
                return
            step.ok += 1
            found[n] = ConfirmRequest(
                cart_id=cart,
                order_id=f"order-{prefix}-{n}",
                items=tuple(
                    ConfirmItem(
                        cart_item_id=i.cart_item_id,
                        item_reservation_id=i.item_reservation_id,
                    )
                    for i in held.items
                ),
            )

        await _lanes(self.concurrency, range(2 * self.confirms), reserve)
        return [found[n] for n in sorted(found)]

    async def _direct(
        self,
        client: RoktClient,
        requests: Sequence[ConfirmRequest],
        step: StepCounts,
        tally: LedgerTally,
    ) -> None:
        async def confirm(request: ConfirmRequest) -> None:
            step.count += 1
            tally.confirm_items_sent += len(request.items)
            started = time.perf_counter()
            try:
                response = await client.confirm_cart(
                    request, session_id=request.cart_id
                )
            except RoktError as exc:
                step.latency.record(time.perf_counter() - started)
                step.error(type(exc).__name__)
                return
            step.latency.record(time.perf_counter() - started)
            tally.confirm_items_acked += sum(
                item.success or item.is_already_confirmed for item in response.items
            )
            if response.is_complete:
                step.ok += 1
            else:
                step.refused += 1

        attempts = client.stats.attempts
        started = time.perf_counter()
        try:
            await _lanes(self.concurrency, requests, confirm)
        finally:
            step.seconds = time.perf_counter() - started
            step.attempts = client.stats.attempts - attempts

    async def _put(
        self,
        requests: Sequence[ConfirmRequest],
        step: StepCounts,
        sizes: dict[int, int],
    ) -> None:
        outbox = self._outbox
        assert outbox is not None  # noqa: S101 - run() checked it

        async def put(request: ConfirmRequest) -> None:
            step.count += 1
            started = time.perf_counter()
            try:
                job_id = await outbox.put_confirm(request, session_id=request.cart_id)
            except Exception as exc:  # noqa: BLE001 - the store's errors are counted
                step.error(type(exc).__name__)
                return
            step.latency.record(time.perf_counter() - started)
            step.ok += 1
            sizes[job_id] = len(request.items)
            self._ids.add(job_id)

        started = time.perf_counter()
        try:
            await _lanes(self.concurrency, requests, put)
        finally:
            step.seconds = time.perf_counter() - started

    async def _drain(self, client: RoktClient, step: StepCounts) -> None:
        outbox = self._outbox
        assert outbox is not None  # noqa: S101 - run() checked it
        if not self._ids:
            return
        attempts = client.stats.attempts
        worker = outbox.worker(
            client, concurrency=self.concurrency, stop_timeout=DRAIN_SECONDS
        )
        started = time.perf_counter()
        try:
            async with worker:
                await self._all_ended.wait()
        finally:
            ended = self._last_end if self._all_ended.is_set() else time.perf_counter()
            step.seconds = ended - started
            step.count = worker.sent
            step.attempts = client.stats.attempts - attempts

    async def _read_back(
        self,
        outbox: Outbox,
        sizes: dict[int, int],
        drain: StepCounts,
        tally: LedgerTally,
    ) -> OutboxJobs:
        """Each job put, read back from the store: its state, its last error."""
        states = dict.fromkeys(JobState, 0)
        missing = 0
        for job_id, lines in sorted(sizes.items()):
            job = await outbox.job(job_id)
            if job is None:
                missing += 1
                continue
            states[job.state] += 1
            if job.state is JobState.DONE:
                drain.ok += 1
                tally.confirm_items_acked += lines
            elif job.state not in _UNSETTLED:
                if job.last_error:
                    drain.error(job.last_error.partition(":")[0])
                elif job.error_body:
                    drain.refused += 1
                else:
                    drain.error("NoErrorRecorded")
        return OutboxJobs(
            put=len(sizes),
            done=states[JobState.DONE],
            failed=states[JobState.FAILED],
            unknown=states[JobState.UNKNOWN],
            pending=states[JobState.PENDING],
            in_flight=states[JobState.IN_FLIGHT],
            missing=missing,
            settled=missing == 0
            and not states[JobState.PENDING]
            and not states[JobState.IN_FLIGHT],
        )
