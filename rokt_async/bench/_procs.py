"""Event loops and client processes: uvloop on request, N spawned workers merged.

Each worker is a fresh (``spawn``) process with its own event loop, RoktClient and
connection pool. Workers warm up, say so through shared memory, and start
measuring together when the parent says go; each sends its ``WorkerResult`` back
as msgpack and the parent merges them.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import multiprocessing
import queue
from typing import TYPE_CHECKING, Any, Final, TypeVar

import msgspec

from ._flows import FINISHED, READY, Status, run_worker
from ._stats import WorkerResult, merge_results
from ._target import BenchSetupError, redact

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Sequence
    from multiprocessing.sharedctypes import SynchronizedArray

    from ._flows import WorkerPlan

__all__ = ["has_uvloop", "run_async", "run_processes"]

T = TypeVar("T")

_FIELDS: Final = 3  # phase, done, failed: one slot each per worker
_MIRROR_EVERY: Final = 0.1
_START_GRACE: Final = 60.0  # seconds for spawned workers to import and warm up
_JOIN_TIMEOUT: Final = 10.0
_RESULT: Final = msgspec.msgpack.Decoder(WorkerResult)


def has_uvloop() -> bool:
    """True when uvloop can be imported."""
    return importlib.util.find_spec("uvloop") is not None


def run_async(
    main: Callable[[], Coroutine[Any, Any, T]], *, use_uvloop: bool = False
) -> T:
    """Run ``main()`` on a new event loop: uvloop's when asked, else asyncio's."""
    factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    if use_uvloop:
        factory = importlib.import_module("uvloop").new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main())


def _worker_main(
    plan: WorkerPlan,
    use_uvloop: bool,
    shared: SynchronizedArray[int],
    go: Any,
    results: Any,
) -> None:
    """A worker process's body: run the plan, mirror progress, send the result."""
    base = plan.index * _FIELDS
    status = Status()

    def mirror() -> None:
        shared[base] = status.phase
        shared[base + 1] = status.done
        shared[base + 2] = status.failed

    async def ready() -> None:
        mirror()
        await asyncio.to_thread(go.wait, _START_GRACE)

    async def main() -> WorkerResult:
        async def mirror_forever() -> None:
            while True:
                mirror()
                await asyncio.sleep(_MIRROR_EVERY)

        mirroring = asyncio.create_task(mirror_forever())
        try:
            return await run_worker(plan, status, ready)
        finally:
            mirroring.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await mirroring

    try:
        result = run_async(main, use_uvloop=use_uvloop)
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which fails
        message = redact(
            f"{type(exc).__name__}: {exc}", [plan.api_key, plan.event_secret]
        )
        results.put((plan.index, None, message))
        status.phase = FINISHED
        mirror()
        return
    status.phase = FINISHED
    mirror()
    results.put((plan.index, msgspec.msgpack.encode(result), ""))


class _Workers:
    """The parent's view of the spawned workers."""

    def __init__(self, plans: Sequence[WorkerPlan], use_uvloop: bool) -> None:
        context = multiprocessing.get_context("spawn")
        self.shared = context.Array("q", _FIELDS * len(plans), lock=False)
        self.go = context.Event()
        self.results = context.Queue()
        self.processes = [
            context.Process(
                target=_worker_main,
                args=(plan, use_uvloop, self.shared, self.go, self.results),
                name=f"rokt-bench-worker-{plan.index}",
                daemon=True,
            )
            for plan in plans
        ]

    def read(self) -> tuple[int, int, int]:
        """(lowest phase, flows done, flows failed) over every worker."""
        values = list(self.shared)
        phases = values[0::_FIELDS]
        return min(phases), sum(values[1::_FIELDS]), sum(values[2::_FIELDS])

    def dead(self) -> set[int]:
        """Indexes of workers that ended (a worker ends only after its result)."""
        return {i for i, p in enumerate(self.processes) if p.exitcode is not None}

    def stop(self) -> None:
        """Join every worker; terminate, then kill, any that lingers."""
        for process in self.processes:
            if process.pid is None:
                continue
            process.join(_JOIN_TIMEOUT)
            if process.exitcode is None:
                process.terminate()
                process.join(_JOIN_TIMEOUT)
            if process.exitcode is None:
                process.kill()
                process.join()
            process.close()
        self.results.close()
        self.results.join_thread()


async def run_processes(
    plans: Sequence[WorkerPlan],
    *,
    use_uvloop: bool,
    time_limit: float,
    progress: Callable[[Callable[[], tuple[int, int, int]]], Coroutine[Any, Any, None]],
) -> WorkerResult:
    """Run one worker process per plan and merge what they measured.

    Raises:
        BenchSetupError: a worker failed or did not report in time.
    """
    workers = _Workers(plans, use_uvloop)
    loop = asyncio.get_running_loop()
    drawing: asyncio.Task[None] | None = None
    try:
        for process in workers.processes:
            process.start()
        give_up = loop.time() + _START_GRACE + time_limit
        while workers.read()[0] < READY:
            if loop.time() > give_up:
                raise BenchSetupError("the worker processes did not warm up in time")
            if workers.dead():
                break  # its error is waiting in the results queue
            await asyncio.sleep(0.02)
        workers.go.set()
        drawing = asyncio.create_task(progress(workers.read))
        received: dict[int, WorkerResult] = {}
        give_up = loop.time() + _START_GRACE + time_limit + 30.0
        while len(received) < len(plans):
            try:
                index, payload, message = await asyncio.to_thread(
                    workers.results.get, True, 0.5
                )
            except queue.Empty:
                if loop.time() > give_up:
                    raise BenchSetupError("the workers did not finish") from None
                if workers.dead() - received.keys():
                    raise BenchSetupError(
                        "a worker process exited without a result"
                    ) from None
                continue
            if payload is None:
                raise BenchSetupError(f"worker {index} failed: {message}")
            received[index] = _RESULT.decode(payload)
    finally:
        if drawing is not None:
            drawing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await drawing
        workers.go.set()
        await asyncio.to_thread(workers.stop)
    return merge_results(received[i] for i in sorted(received))
