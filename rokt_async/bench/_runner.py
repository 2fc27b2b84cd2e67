"""One bench run: start the target, run the client processes, then the
``--outbox`` phase when asked, and check the ledger."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import sys
from typing import TYPE_CHECKING, Any

from ._check import check_ledger
from ._events import EVENT_PATHS
from ._flows import Status, WorkerPlan, run_worker
from ._outbox import OutboxBench
from ._procs import run_processes
from ._progress import Progress
from ._report import RunConfig, build_report
from ._stats import LedgerTally
from ._target import BenchSetupError, EmbeddedEmulator, RemoteTarget

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Sequence

    from ._cli import Options
    from ._outbox_report import OutboxReport
    from ._report import BenchReport
    from ._stats import WorkerResult

__all__ = ["plan_workers", "run_bench", "run_config"]


def _split(total: int, parts: int) -> list[int]:
    """``total`` shared as evenly as possible, the first parts taking the rest."""
    share, rest = divmod(total, parts)
    return [share + (1 if i < rest else 0) for i in range(parts)]


def plan_workers(
    options: Options,
    *,
    base_url: str,
    api_key: str,
    tag_id: str,
    run_id: str,
    event_login: tuple[str, str] = ("", ""),
) -> list[WorkerPlan]:
    """One plan per client process: flows, warm-up and concurrency split evenly.

    ``event_login`` is (app id, app secret) or (public key, secret key), as
    ``options.events`` asks.
    """
    n = options.processes
    event_id, event_secret = event_login
    flows = _split(options.flows, n) if options.flows is not None else [None] * n
    return [
        WorkerPlan(
            index=i,
            base_url=base_url,
            api_key=api_key,
            tag_id=tag_id,
            flows=flows[i],
            duration=options.duration,
            time_limit=options.time_limit,
            warmup=warmup,
            warmup_seconds=options.warmup_seconds,
            concurrency=concurrency,
            release_share=options.release_share,
            seed=options.seed,
            run_id=run_id,
            events=options.events,
            event_id=event_id,
            event_secret=event_secret,
            account_id=options.account_id,
        )
        for i, (warmup, concurrency) in enumerate(
            zip(_split(options.warmup, n), _split(options.concurrency, n), strict=True)
        )
    ]


def run_config(options: Options, base_url: str | None) -> RunConfig:
    """What was asked for, for the report (``base_url``: where the flows went)."""
    return RunConfig(
        target="embedded emulator" if options.base_url is None else "base url",
        base_url=base_url,
        flows=options.flows,
        duration=options.duration,
        time_limit=options.time_limit,
        warmup=options.warmup,
        warmup_seconds=options.warmup_seconds,
        concurrency=options.concurrency,
        processes=options.processes,
        mix=options.mix,
        faults=options.fault_specs(),
        loop="uvloop" if options.use_uvloop else "asyncio",
        seed=options.seed,
        events=options.events,
        account_id=options.account_id,
        outbox=options.outbox,
        outbox_confirms=None if options.outbox is None else options.outbox_confirms,
    )


async def _in_process(
    plan: WorkerPlan,
    progress: Callable[[Callable[[], tuple[int, int, int]]], Coroutine[Any, Any, None]],
) -> WorkerResult:
    status = Status()
    drawing = asyncio.create_task(
        progress(lambda: (status.phase, status.done, status.failed))
    )
    try:
        return await run_worker(plan, status)
    finally:
        drawing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await drawing


async def run_bench(options: Options) -> tuple[BenchReport, Sequence[str]]:
    """Run the bench the options describe.

    Returns:
        The report, and the secret values output must never show.

    Raises:
        BenchSetupError: the emulator did not start (or its ledger could not be
            read), the target took no connection, a worker process failed, or
            the ``--outbox`` store could not be opened.
    """
    deadline = asyncio.get_running_loop().time() + options.time_limit
    target: EmbeddedEmulator | RemoteTarget
    if options.base_url is None:
        target = EmbeddedEmulator(seed=options.seed, faults=options.faults)
    else:
        target = RemoteTarget(
            base_url=options.base_url,
            api_key=options.api_key or "",
            tag_id=options.tag_id or "",
            faults=options.faults,
            event_id=options.event_id or "",
            event_secret=options.event_secret or "",
        )
    display = Progress(
        sys.stderr,
        flows=options.flows,
        duration=options.duration,
        enabled=not options.quiet,
    )
    outbox: OutboxBench | None = None
    if options.outbox is not None:
        outbox = OutboxBench(
            store=options.outbox,
            url=options.outbox_url,
            confirms=options.outbox_confirms,
            concurrency=options.concurrency,
            say=(lambda _: None) if options.quiet else _say,
        )
    outbox_report: OutboxReport | None = None
    async with contextlib.AsyncExitStack() as stack:
        if outbox is not None:  # its store is checked before anything runs
            await stack.enter_async_context(outbox)
        await stack.enter_async_context(target)
        run_id = secrets.token_hex(4)
        plans = plan_workers(
            options,
            base_url=target.url,
            api_key=target.api_key,
            tag_id=target.tag_id,
            run_id=run_id,
            event_login=target.event_login(options.events),
        )
        before = await target.ledger()
        if before is None and isinstance(target, EmbeddedEmulator):
            raise BenchSetupError(f"the embedded emulator: {target.ledger_problem}")
        await target.apply_faults()
        try:
            if options.processes == 1:
                result = await _in_process(plans[0], display.run)
            else:
                result = await run_processes(
                    plans,
                    use_uvloop=options.use_uvloop,
                    time_limit=options.time_limit,
                    progress=display.run,
                )
            if outbox is not None:
                tally = LedgerTally()
                outbox_report = await outbox.run(
                    base_url=target.url,
                    api_key=target.api_key,
                    tag_id=target.tag_id,
                    run_id=run_id,
                    deadline=deadline,
                    faults=options.faults,
                    tally=tally,
                )
                result.tally.add(tally)
        finally:
            await target.clear_faults()
        after = await target.ledger()
    check = check_ledger(
        before,
        after,
        result.tally,
        events=result.events,
        event_path=EVENT_PATHS.get(options.events),
        unreadable=target.ledger_problem,
    )
    report = build_report(
        run_config(options, target.url),
        result,
        check,
        faults=options.faults,
        emulator_cpu=target.cpu_seconds,
        outbox=outbox_report,
    )
    shown = [] if outbox is None else outbox.secret_values
    return report, [*target.secret_values, *shown]


def _say(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
