"""The outbox worker: claims due jobs, sends each through the client, settles it.

A send's result decides the job (the client's own retry rules, then ours on a
long horizon): accepted → ``done``; a definite refusal → ``failed`` with Rokt's
error body; a failure a resend may fix (Rokt down, a 504 storm, the retry budget)
→ ``pending`` again after a stored backoff, until ``max_age``; an ambiguous failure
that is not safe to resend → ``unknown``. "Attempt started" is stored before the
request goes out, so a worker killed mid-send leaves a job that recovery settles
by the same rule.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import logging
import os
import random
import socket
from typing import TYPE_CHECKING, Any, Final, Self

from .._errors import (
    APIError,
    OutcomeUnknownError,
    RequestValidationError,
    ResponseDecodeError,
    RoktError,
)
from .._retry import DEFINITE, classify
from ._jobs import JobState, Settle
from ._settles import SettleQueue

if TYPE_CHECKING:
    from types import TracebackType

    from .._client import RoktClient
    from ._jobs import Job
    from ._outbox import Outbox

__all__ = ["Worker"]

_log: Final = logging.getLogger("rokt_async.outbox")
_UNSAFE: Final = (
    "the call may have taken effect and sending it again could act twice;"
    " check with Rokt, then resend or drop it"
)
#: Seconds a stopping worker waits for its listener to end.
_WATCH_STOP_TIMEOUT: Final = 2.0
_STOPPED: Final = "the worker stopped mid-send; sending it again could act twice"


class Worker:
    """Made by ``Outbox.worker()``; an async context manager."""

    def __init__(
        self,
        outbox: Outbox,
        client: RoktClient,
        *,
        concurrency: int,
        stop_timeout: float,
        lease: float,
        poll_interval: float,
    ) -> None:
        if concurrency < 1 or not lease > 0 or not poll_interval > 0:
            raise ValueError("need concurrency >= 1, lease > 0 and poll_interval > 0")
        self.outbox = outbox
        self.client = client
        self.concurrency = concurrency
        self.stop_timeout = stop_timeout
        self.lease = lease
        self.poll_interval = poll_interval
        self.name = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        #: A task per job started and not yet settled; ``_sending`` of them
        #: hold a slot (their call has not ended).
        self._running: set[asyncio.Task[None]] = set()
        self._sending = 0
        self._settles = SettleQueue(outbox)
        #: Claimed and not yet started, each with the time its lease began.
        self._ready: collections.deque[tuple[Job, float]] = collections.deque()
        self._loop_task: asyncio.Task[None] | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.sent = 0  # sends started by this worker

    async def __aenter__(self) -> Self:
        loop = asyncio.get_running_loop()
        self._loop_task = loop.create_task(self._drain())
        self._watch_task = loop.create_task(self._watch())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def stop(self) -> None:
        """Stop claiming; let sends in flight finish within ``stop_timeout``; the
        rest are cancelled and settled (pending again where resending is safe)."""
        self._stopping.set()
        self.outbox._wake.set()
        if self._watch_task is not None:
            self._watch_task.cancel()
            # Bounded: a stop never waits long on the listener.
            await asyncio.wait([self._watch_task], timeout=_WATCH_STOP_TIMEOUT)
        if self._loop_task is not None:
            await asyncio.wait([self._loop_task])  # (a cancelled stop() is not)
        await self._release_ready()
        if self._running:
            _, late = await asyncio.wait(set(self._running), timeout=self.stop_timeout)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)
        await self._settles.drained()

    async def _release_ready(self) -> None:
        """Claimed jobs never started go back to ``pending`` at once (no send
        began, so this is safe for every job)."""
        unsent = [job.id for job, _ in self._ready]
        self._ready.clear()
        if unsent:
            await self.outbox.store.unclaim(unsent, self.outbox.clock())

    async def run_until_stopped(self) -> None:
        """For a worker process: drain until ``stop()`` (e.g. on SIGTERM)."""
        async with self:
            await self._stopping.wait()

    # --- the loop -------------------------------------------------------------------

    async def _watch(self) -> None:
        """Wake the loop when the store hears of a job put elsewhere; if it
        cannot listen (or stops), the loop polls every ``poll_interval``."""
        try:
            await self.outbox.store.watch(self.outbox._wake.set)
        except Exception as exc:  # noqa: BLE001 - polling goes on
            _log.warning(
                "outbox worker: cannot listen for new jobs (%s); polling every %s s",
                type(exc).__name__,
                self.poll_interval,
            )

    async def _drain(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._drain_until_error()
            except Exception as exc:  # noqa: BLE001 - any store's failure: keep going
                _log.error(
                    "outbox worker: the store failed (%s); trying again",
                    type(exc).__name__,
                )
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.poll_interval):
                        await self._stopping.wait()

    async def _drain_until_error(self) -> None:
        outbox = self.outbox
        store = outbox.store
        next_recovery = 0.0
        while not self._stopping.is_set():
            now = outbox.clock()
            if now >= next_recovery:
                await store.recover(now)
                next_recovery = now + max(1.0, self.lease / 4)
            self._start_ready()
            # Up to 2 x concurrency claimed ahead of the sends, so a slot that
            # frees starts its next job without waiting on the store (a claim
            # waits for the sync under way); at most 8 x concurrency leased at
            # once (jobs whose outcome is being written hold no slot but still
            # count). A claim takes a quarter of the slots' worth at least: each
            # costs about as much as several jobs.
            leased = self._sending + len(self._ready)
            wanted = min(
                3 * self.concurrency - leased,
                8 * self.concurrency - leased - self._settles.unsettled,
            )
            claimed: list[Job] = []
            if wanted >= max(1, self.concurrency // 4):
                claimed = await store.claim(
                    now=now, lease=self.lease, limit=wanted, worker=self.name
                )
                self._ready.extend((job, now) for job in claimed)
                self._start_ready()
            if claimed and len(claimed) == wanted:
                await asyncio.sleep(0)  # there may be more: look again at once
                continue
            outbox._wake.clear()
            if self._stopping.is_set():  # stop() woke us before the clear
                return
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_interval):
                    await outbox._wake.wait()

    def _start_ready(self) -> None:
        """Start claimed jobs while there are free slots."""
        loop = asyncio.get_running_loop()
        while self._ready and self._sending < self.concurrency:
            job, leased_at = self._ready.popleft()
            self._sending += 1
            task = loop.create_task(self._send(job, leased_at))
            self._running.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if not self._stopping.is_set():
            self._start_ready()  # at once: the next claimed job takes the slot
        self.outbox._wake.set()  # a slot is free, and its cart may have a next job
        if not task.cancelled() and task.exception() is not None:
            _log.error("outbox send raised %s", type(task.exception()).__name__)

    # --- one job --------------------------------------------------------------------

    async def _send(self, job: Job, leased_at: float) -> None:
        """One job: its send holds one of ``concurrency`` slots, its settle does
        not (the slot goes to the next job as the call ends)."""
        try:
            sent = await self._attempt(job, leased_at)
        finally:
            self._sending -= 1
            if not self._stopping.is_set():
                self._start_ready()
        if sent is not None:
            self._conclude(*sent)

    async def _attempt(
        self, job: Job, leased_at: float
    ) -> tuple[Job, Any, RoktError | None] | None:
        """Send ``job``: the job as sent, and Rokt's answer or the error; None
        when it was not sent (and is already settled or given back)."""
        outbox = self.outbox
        store = outbox.store
        try:
            request = outbox._decode(job)
        except RequestValidationError as exc:
            self._settle(job, JobState.FAILED, exc, reason="its body is unreadable")
            return None
        # The call must end well inside the lease (begun at the claim, maybe a
        # while ago): else another worker could recover and resend it meanwhile.
        most = leased_at + self.lease * 0.8 - outbox.clock()
        if most < min(1.0, self.lease / 4):
            await store.unclaim([job.id], outbox.clock())
            return None
        if not job.resend_safe:  # a safe job's claim recorded its attempt
            if not await store.started(job.id, outbox.clock()):
                _log.warning("outbox job %s was taken back before its send", job.id)
                return None
            job = dataclasses.replace(job, attempts=job.attempts + 1)
        self.sent += 1
        try:
            return job, await _call(self.client, job, request, most), None
        except asyncio.CancelledError:
            self._stopped_mid_send(job)
            raise
        except RoktError as exc:
            return job, None, exc

    def _conclude(self, job: Job, response: Any, error: RoktError | None) -> None:
        """Settle a sent job by what its call ended in."""
        if isinstance(error, OutcomeUnknownError):
            if error.resend_is_safe:
                self._later(job, error)
            else:
                self._settle(job, JobState.UNKNOWN, error, reason=_UNSAFE)
        elif isinstance(error, APIError | ResponseDecodeError):
            if classify(error) is DEFINITE:
                self._settle(job, JobState.FAILED, error, reason="Rokt refused it")
            else:
                self._later(job, error)
        elif error is not None:  # never sent, throttled, closed
            self._later(job, error)
        elif failed := getattr(response, "failed_items", ()):
            self._settle(
                job,
                JobState.FAILED,
                None,
                reason=f"Rokt refused {len(failed)} of its items",
                error_body=response.to_json().decode(),
            )
        else:
            self._settle(job, JobState.DONE, None)

    def _stopped_mid_send(self, job: Job) -> None:
        if job.resend_safe:
            self._settles.add(
                job, Settle(job.id, JobState.PENDING, self.outbox.clock())
            )
        else:
            self._settle(job, JobState.UNKNOWN, None, reason=_STOPPED)

    def _later(self, job: Job, exc: RoktError) -> None:
        outbox = self.outbox
        now = outbox.clock()
        if now - job.created_at >= outbox.max_age:
            self._settle(
                job, JobState.FAILED, exc, reason="not delivered within max_age"
            )
            return
        # job.attempts counts this send: the first failure waits base_delay.
        tries = max(0, job.attempts - 1)
        step = min(outbox.max_delay, outbox.base_delay * 2 ** min(tries, 30))
        wait = step * (0.5 + random.random() / 2)  # noqa: S311 - jitter
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            wait = max(wait, min(retry_after, outbox.max_delay))
        self._settles.add(
            job,
            Settle(
                job.id,
                JobState.PENDING,
                now,
                next_attempt_at=now + wait,
                last_error=_describe(exc),
            ),
        )

    def _settle(
        self,
        job: Job,
        state: JobState,
        exc: RoktError | None,
        *,
        reason: str | None = None,
        error_body: str | None = None,
    ) -> None:
        """Queue the end of ``job``'s lease in ``state`` (hooks run once written)."""
        if error_body is None and isinstance(exc, APIError) and exc.body is not None:
            error_body = exc.body.to_json().decode()
        self._settles.add(
            job,
            Settle(
                job.id,
                state,
                self.outbox.clock(),
                last_error=None if exc is None else _describe(exc),
                error_body=error_body,
                reason=reason,
            ),
        )


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


async def _call(client: RoktClient, job: Job, request: Any, most: float) -> Any:
    """Send one job, its deadline ``most`` seconds at most (what its lease
    leaves): a call still running when its lease ran out could be claimed and
    sent again by another worker."""
    deadline = min(most, client.retry_policy.deadline_for(job.kind))
    sid = job.session_id
    if job.kind == "confirm":
        return await client.confirm_cart(request, session_id=sid, timeout=deadline)
    if job.kind == "release":
        return await client.release_cart(request, session_id=sid, timeout=deadline)
    return await client.cancel_confirmation(request, session_id=sid, timeout=deadline)
