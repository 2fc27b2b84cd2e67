"""Checkout flows under load: one client process's warm-up and measured phase.

A flow is what a partner's backend does for one checkout: ``placements/any``
(false or failed means "no upsell" and the flow ends), then ``cart/reserve`` of one
to three items, then either ``cart/confirm`` of every reservation (the paid cart)
or ``cart/release`` of them (the abandoned cart). A confirm or release whose
outcome is unknown after the client's retries is sent once more, byte for byte,
as the client's docs advise, to reconcile. ``concurrency`` lanes each run one flow
after another, so at most that many flows (and HTTP requests) are in flight.
"""

from __future__ import annotations

import asyncio
import gc
import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, TypeVar

from .. import (
    ConfirmItem,
    ConfirmRequest,
    OutcomeUnknownError,
    PlacementsRequest,
    PoolLimits,
    ReleaseItem,
    ReleaseRequest,
    ReserveItem,
    ReserveRequest,
    RoktClient,
    RoktError,
)
from ._stats import (
    ENDPOINTS,
    ClientCounters,
    FlowCounts,
    LatencyHistogram,
    LedgerTally,
    WorkerResult,
    cpu_seconds,
    rss_bytes,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Coroutine

    from .. import (
        ClientStats,
        ConfirmResponse,
        ReleaseResponse,
        ReservedItem,
        RetryEvent,
    )

__all__ = ["CATALOG", "DRAIN_SECONDS", "Status", "WorkerPlan", "run_worker"]

T = TypeVar("T")

#: Upsell items a cart picks from (the emulator creates each on first use).
CATALOG: Final = (
    "parking",
    "ticket-insurance",
    "lounge-access",
    "fast-track",
    "merch-tshirt",
    "meal-voucher",
    "seat-upgrade",
    "shuttle-bus",
    "program-book",
    "photo-pass",
    "locker",
    "poncho",
)
_ITEM_COUNTS: Final = (1, 1, 1, 2, 2, 3)  # items per cart, picked uniformly
_QUANTITIES: Final = (1, 1, 1, 2)
_PAGE: Final = "checkout.upsell"
#: Seconds flows still running at the stop get to finish before they are cancelled.
DRAIN_SECONDS: Final = 10.0

#: Worker phases, in order, as ``Status.phase`` reports them.
STARTING: Final = 0
WARMING_UP: Final = 1
READY: Final = 2
MEASURING: Final = 3
FINISHED: Final = 4


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerPlan:
    """What one client process runs. Picklable, so it can go to a spawned process.

    Attributes:
        index: this process's number, from 0.
        base_url: the emulator (or service) to call.
        api_key: sent as ``rokt-api-key``; never shown in a repr.
        tag_id: sent as ``rokt-tag-id``.
        flows: measured flows to run, or None to run for ``duration``.
        duration: seconds of measured phase, or None to run ``flows``.
        time_limit: hard cap on seconds, warm-up included, whatever else is set.
        warmup: flows run before measuring (their latencies are not kept).
        warmup_seconds: the warm-up also lasts at least this long, so memory and
            the garbage collector reach their steady state before RSS is read.
        concurrency: flows in flight at once.
        release_share: share of flows that release instead of confirming.
        seed: seeds every choice a flow makes.
        run_id: unique per run; goes into every cart and order id.
    """

    index: int
    base_url: str
    api_key: str = field(repr=False)
    tag_id: str
    flows: int | None
    duration: float | None
    time_limit: float
    warmup: int
    warmup_seconds: float
    concurrency: int
    release_share: float
    seed: int
    run_id: str


class Status:
    """Where a worker is, for a progress bar: phase, flows done and failed."""

    __slots__ = ("done", "failed", "phase")

    def __init__(self) -> None:
        self.phase = STARTING
        self.done = 0
        self.failed = 0


class _Phase:
    """Counters of one phase; the warm-up's are thrown away."""

    __slots__ = ("errors", "flows", "latency", "ok", "retries_by_cause")

    def __init__(self) -> None:
        self.latency = {name: LatencyHistogram() for name in (*ENDPOINTS, "flow")}
        self.ok = dict.fromkeys(ENDPOINTS, 0)
        self.errors: dict[str, dict[str, int]] = {}
        self.retries_by_cause: dict[str, int] = {}
        self.flows = FlowCounts()


class _Runner:
    """Runs flows through one client and counts what happened."""

    def __init__(self, plan: WorkerPlan, status: Status) -> None:
        self.plan = plan
        self.status = status
        # Seeded for repeatable load choices; nothing here is a secret.
        self.rng = random.Random(f"{plan.seed}/{plan.index}")  # noqa: S311
        self.prefix = f"{plan.run_id}-{plan.index}"
        self.phase = _Phase()
        self.tally = LedgerTally()
        self.next_flow = 0
        self.client = RoktClient(
            api_key=plan.api_key,
            tag_id=plan.tag_id,
            base_url=plan.base_url,
            limits=PoolLimits(connections=plan.concurrency),
            on_retry=(self.on_retry,),
        )

    def on_retry(self, event: RetryEvent) -> None:
        """The client's retry hook: count retries by the error that caused them."""
        counts = self.phase.retries_by_cause
        name = type(event.cause).__name__
        counts[name] = counts.get(name, 0) + 1

    async def run_phase(
        self, count: int | None, stop_at: float, at_least_until: float = 0.0
    ) -> str:
        """Run flows until ``count`` more ran or the loop clock reaches ``stop_at``.

        With ``at_least_until``, flows go on past ``count`` until that time.

        Returns:
            Why it stopped: ``flows``, ``duration`` (``stop_at`` passed) or
            ``time_limit`` (flows still running at ``stop_at`` were cancelled
            after ``DRAIN_SECONDS``).
        """
        loop = asyncio.get_running_loop()
        limit = None if count is None else self.next_flow + count
        stopped = "flows"

        async def lane() -> None:
            nonlocal stopped
            while True:
                n = self.next_flow
                now = loop.time()
                if now >= stop_at:
                    stopped = "duration"
                    return
                if limit is not None and n >= limit and now >= at_least_until:
                    return
                self.next_flow = n + 1
                await self.flow(n)

        try:
            async with asyncio.timeout_at(stop_at + DRAIN_SECONDS):
                async with asyncio.TaskGroup() as group:
                    for _ in range(self.plan.concurrency):
                        group.create_task(lane())
        except TimeoutError:
            return "time_limit"
        return stopped

    async def flow(self, n: int) -> None:
        """One checkout, timed end to end and counted by how it ended."""
        phase = self.phase
        started = time.perf_counter()
        try:
            outcome = await self.checkout(n)
        except asyncio.CancelledError:
            phase.flows.cancelled += 1
            raise
        phase.latency["flow"].record(time.perf_counter() - started)
        flows = phase.flows
        flows.completed += 1
        setattr(flows, outcome, getattr(flows, outcome) + 1)
        status = self.status
        status.done += 1
        if outcome.startswith("failed"):
            status.failed += 1

    async def checkout(self, n: int) -> str:
        """placements/any → reserve → confirm or release; returns the outcome."""
        rng = self.rng
        client = self.client
        flow_id = f"{self.prefix}-{n}"
        cart_id = f"cart-{flow_id}"
        releasing = rng.random() < self.plan.release_share
        picked = rng.sample(CATALOG, rng.choice(_ITEM_COUNTS))
        try:
            show = await self.call(
                "placements",
                client.any_placements(
                    PlacementsRequest(cart_id=cart_id, page_identifier=_PAGE),
                    session_id=flow_id,
                ),
            )
        except RoktError:
            show = False  # a failed placements check means "no upsell", not an error
        if not show:
            return "no_upsell"
        reserve = ReserveRequest(
            cart_id=cart_id,
            items=tuple(
                ReserveItem(cart_item_id=item, quantity=rng.choice(_QUANTITIES))
                for item in picked
            ),
        )
        try:
            reserved = await self.call(
                "reserve", client.reserve_cart(reserve, session_id=flow_id)
            )
        except RoktError:
            return "failed_reserve"
        if releasing:
            return await self.release(cart_id, flow_id, reserved.items)
        return await self.confirm(cart_id, flow_id, reserved.items)

    async def confirm(
        self, cart_id: str, flow_id: str, items: tuple[ReservedItem, ...]
    ) -> str:
        """Confirm every reserved item; reconcile once if the outcome is unknown."""
        request = ConfirmRequest(
            cart_id=cart_id,
            order_id=f"order-{flow_id}",
            items=tuple(
                ConfirmItem(
                    cart_item_id=item.cart_item_id,
                    item_reservation_id=item.item_reservation_id,
                )
                for item in items
            ),
        )
        self.tally.confirm_items_sent += len(request.items)
        response: ConfirmResponse | None = await self.settle(
            "confirm", lambda: self.client.confirm_cart(request, session_id=flow_id)
        )
        if response is None:
            return "failed_confirm"
        self.tally.confirm_items_acked += sum(
            item.success or item.is_already_confirmed for item in response.items
        )
        return "confirmed" if response.items and response.is_complete else "partial"

    async def release(
        self, cart_id: str, flow_id: str, items: tuple[ReservedItem, ...]
    ) -> str:
        """Release every reserved item; reconcile once if the outcome is unknown."""
        request = ReleaseRequest(
            cart_id=cart_id,
            items=tuple(
                ReleaseItem(
                    cart_item_id=item.cart_item_id,
                    item_reservation_id=item.item_reservation_id,
                )
                for item in items
            ),
        )
        self.tally.release_items_sent += len(request.items)
        response: ReleaseResponse | None = await self.settle(
            "release", lambda: self.client.release_cart(request, session_id=flow_id)
        )
        if response is None:
            return "failed_release"
        self.tally.release_items_acked += sum(item.success for item in response.items)
        return "released" if response.items and response.is_complete else "partial"

    async def settle(
        self, endpoint: str, send: Callable[[], Coroutine[Any, Any, T]]
    ) -> T | None:
        """Send; after ``OutcomeUnknownError`` send the same request once more."""
        try:
            return await self.call(endpoint, send())
        except OutcomeUnknownError:
            pass
        except RoktError:
            return None
        try:
            response = await self.call(endpoint, send())
        except RoktError:
            return None
        self.phase.flows.reconciled += 1
        return response

    async def call(self, endpoint: str, pending: Awaitable[T]) -> T:
        """Await one client call, timing it and counting its result or error."""
        phase = self.phase
        started = time.perf_counter()
        try:
            result = await pending
        except RoktError as exc:
            phase.latency[endpoint].record(time.perf_counter() - started)
            by_class = phase.errors.setdefault(endpoint, {})
            name = type(exc).__name__
            by_class[name] = by_class.get(name, 0) + 1
            raise
        phase.latency[endpoint].record(time.perf_counter() - started)
        phase.ok[endpoint] += 1
        return result


def _counters(before: ClientStats, after: ClientStats) -> ClientCounters:
    return ClientCounters(
        calls=after.calls - before.calls,
        attempts=after.attempts - before.attempts,
        retries=after.retries - before.retries,
        budget_refusals=after.budget_refusals - before.budget_refusals,
        outcomes_unknown=after.outcomes_unknown - before.outcomes_unknown,
        hedges=after.hedges - before.hedges,
    )


async def run_worker(
    plan: WorkerPlan,
    status: Status,
    ready: Callable[[], Awaitable[None]] | None = None,
) -> WorkerResult:
    """Warm up, then run the measured phase, on the running event loop.

    Args:
        plan: what to run.
        status: updated as flows finish, for a progress bar.
        ready: awaited between warm-up and the measured phase (several processes
            start measuring together); None starts at once.

    Returns:
        What the measured phase measured, plus the whole run's ledger tally.
    """
    loop = asyncio.get_running_loop()
    hard_stop = loop.time() + plan.time_limit
    runner = _Runner(plan, status)
    async with runner.client as client:
        status.phase = WARMING_UP
        warm_stop = await runner.run_phase(
            plan.warmup, hard_stop, loop.time() + plan.warmup_seconds
        )
        warmed = runner.next_flow
        gc.collect()  # read RSS without the cyclic garbage that happens to wait
        rss_warm = rss_bytes()
        status.phase = READY
        if ready is not None:
            await ready()
        runner.phase = _Phase()
        status.phase = MEASURING
        status.done = status.failed = 0
        before = client.stats
        cpu_start = cpu_seconds()
        started = time.perf_counter()
        if warm_stop == "time_limit":
            stopped = warm_stop
        elif plan.flows is None:
            duration = plan.time_limit if plan.duration is None else plan.duration
            stop_at = min(loop.time() + duration, hard_stop)
            stopped = await runner.run_phase(None, stop_at)
            if stopped == "duration" and stop_at == hard_stop:
                stopped = "time_limit"
        else:
            stopped = await runner.run_phase(plan.flows, hard_stop)
            if stopped == "duration":
                stopped = "time_limit"
        wall = time.perf_counter() - started
        cpu = cpu_seconds() - cpu_start
        after = client.stats
    gc.collect()
    rss_end = rss_bytes()
    status.phase = FINISHED
    phase = runner.phase
    return WorkerResult(
        warmup_flows=warmed,
        wall_seconds=wall,
        cpu_seconds=cpu,
        rss_after_warmup=rss_warm,
        rss_after_run=rss_end,
        worst_rss_ratio=rss_end / rss_warm if rss_warm else 0.0,
        stopped_by=stopped,
        flows=phase.flows,
        client=_counters(before, after),
        latency={name: h.to_sparse() for name, h in phase.latency.items() if h.count},
        calls_ok={name: n for name, n in phase.ok.items() if n},
        errors=phase.errors,
        retries_by_cause=phase.retries_by_cause,
        tally=runner.tally,
    )
