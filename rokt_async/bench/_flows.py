"""One client process's warm-up and measured phase of checkout flows.

A flow is one run of the checkout script (``_checkout.Checkout``).
``concurrency`` lanes each run one flow after another, so at most that many flows
(and cart requests) are in flight. Unless events are off, the client also holds
a background event sender for the whole run, which takes one conversion event
per confirmed order (``_events``). Its events are settled at the end of each
phase (the measured phase ends when its last flow has ended and their events
are delivered or failed), and it is closed, flushing anything left, before the
client closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, TypeVar

from .. import (
    PoolLimits,
    RoktClient,
    RoktError,
)
from ._checkout import Checkout
from ._events import FLUSH_INTERVAL, Conversions, EventCounts, event_credentials
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
    from collections.abc import Awaitable, Callable

    from .. import (
        ClientStats,
        RetryEvent,
    )

__all__ = ["DRAIN_SECONDS", "Status", "WorkerPlan", "run_worker"]

T = TypeVar("T")

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
        events: ``oauth`` (``/v1/events``), ``basic`` (``/v2/events``) or
            ``off``: the conversion events' credentials.
        event_id: the app id (oauth) or public key (basic).
        event_secret: the app secret or secret key; never shown in a repr.
        account_id: the Rokt account the events are for.
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
    events: str = "off"
    event_id: str = ""
    event_secret: str = field(default="", repr=False)
    account_id: str = ""


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
            event_credentials=event_credentials(
                plan.events, plan.event_id, plan.event_secret
            ),
        )
        self.conversions: Conversions | None = None
        if plan.events != "off":
            self.conversions = Conversions(
                self.client.event_sender(
                    account_id=plan.account_id,
                    flush_interval=FLUSH_INTERVAL,
                    close_timeout=DRAIN_SECONDS,
                )
            )
        self.checkout = Checkout(
            self.client,
            f"{plan.seed}/{plan.index}",
            self.call,
            self.tally,
            lambda: self.phase.flows,
            None if self.conversions is None else self.conversions.record,
        )

    async def settle_events(self) -> None:
        """Send the events queued so far and wait until they are settled (at
        most ``DRAIN_SECONDS``), so that no event call straddles a phase's
        boundary and the client's counters of each phase hold whole calls."""
        if self.conversions is None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(DRAIN_SECONDS):
                await self.conversions.sender.flush()

    def events_open(self) -> contextlib.AbstractAsyncContextManager[object]:
        """The event sender's block (nothing when events are off)."""
        if self.conversions is None:
            return contextlib.nullcontext()
        return self.conversions.sender

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
            outcome = await self.checkout.run(
                f"{self.prefix}-{n}",
                self.checkout.rng.random() < self.plan.release_share,
            )
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
        What the measured phase measured, plus the whole run's ledger tally
        and event counts.
    """
    loop = asyncio.get_running_loop()
    hard_stop = loop.time() + plan.time_limit
    runner = _Runner(plan, status)
    conversions = runner.conversions
    async with runner.client as client, runner.events_open():
        status.phase = WARMING_UP
        warm_stop = await runner.run_phase(
            plan.warmup, hard_stop, loop.time() + plan.warmup_seconds
        )
        warmed = runner.next_flow
        await runner.settle_events()  # no warm-up batch still in flight
        gc.collect()  # read RSS without the cyclic garbage that happens to wait
        rss_warm = rss_bytes()
        status.phase = READY
        if ready is not None:
            await ready()
        runner.phase = _Phase()
        status.phase = MEASURING
        status.done = status.failed = 0
        before = client.stats
        if conversions is not None:
            conversions.start_measuring()
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
        await runner.settle_events()  # the measured flows' events, in the phase
        wall = time.perf_counter() - started
        cpu = cpu_seconds() - cpu_start
        after = client.stats
        measured_to = None if conversions is None else conversions.sender.stats
    # Leaving the block closed the sender (flushing what was queued), then the
    # client: events added at the end are delivered or counted undelivered.
    events = (
        EventCounts()
        if conversions is None or measured_to is None
        else conversions.counts(measured_to)
    )
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
        events=events,
    )
