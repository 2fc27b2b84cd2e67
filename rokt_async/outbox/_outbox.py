"""``Outbox``: put confirms, releases and cancels durably; a worker sends them.

``put_*`` writes a job and returns once the store has it; it never waits on Rokt.
``worker(client)`` drains the store until it exits. The retry rules are the
client's: a job whose call may have acted and is not safe to resend ends
``unknown`` for an operator, never resent automatically.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from .. import _endpoints
from .._config import DEFAULT_RETRY
from .._models import CancelRequest, ConfirmRequest, ReleaseRequest
from ._jobs import JobState, NewJob, operation_key
from ._worker import Worker

if TYPE_CHECKING:
    from collections.abc import Callable

    from .._client import RoktClient
    from .._config import RetryPolicy
    from ._jobs import Job
    from ._store import Store

__all__ = ["Outbox", "OutboxStats"]

#: A job still not delivered this long after it was put is ``failed``.
DEFAULT_MAX_AGE: Final = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class OutboxStats:
    """Jobs per state, and the age in seconds of the oldest pending one."""

    pending: int
    in_flight: int
    done: int
    failed: int
    unknown: int
    oldest_pending_age: float | None


class Outbox:
    """The transactional outbox for Rokt's confirm, release and cancel.

    Args:
        store: ``SQLiteStore(path)`` or ``ProcrastinateStore(app)``.
        max_age: seconds after which an undelivered job is ``failed``.
        base_delay, max_delay: the backoff between a job's attempts (exponential
            from ``base_delay``, jitter, capped at ``max_delay``).
        retry: the policy whose resend rules decide ``resend_safe`` at put time
            (the client's own decides each call).
        on_done, on_failed, on_unknown: called with the job as it settles.
        clock: seconds since the epoch (``time.time``).
    """

    def __init__(
        self,
        store: Store,
        *,
        max_age: float = DEFAULT_MAX_AGE,
        base_delay: float = 1.0,
        max_delay: float = 600.0,
        retry: RetryPolicy = DEFAULT_RETRY,
        on_done: Callable[[Job], object] | None = None,
        on_failed: Callable[[Job], object] | None = None,
        on_unknown: Callable[[Job], object] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not max_age > 0 or not base_delay > 0 or max_delay < base_delay:
            raise ValueError("need max_age > 0 and 0 < base_delay <= max_delay")
        self.store = store
        self.max_age = max_age
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._retry = retry
        self.clock = clock
        self.hooks: dict[JobState, Callable[[Job], object] | None] = {
            JobState.DONE: on_done,
            JobState.FAILED: on_failed,
            JobState.UNKNOWN: on_unknown,
        }
        self._wake = asyncio.Event()

    def __repr__(self) -> str:
        return f"Outbox({self.store!r})"

    # --- putting ------------------------------------------------------------------

    async def put_confirm(
        self,
        request: ConfirmRequest,
        *,
        session_id: str | None = None,
        connection: object | None = None,
    ) -> int:
        """Queue a confirm; returns its job id once the store has it. The same
        (cart id, order id) put again is the same job."""
        return await self._put(request, session_id, connection, None)

    async def put_release(
        self,
        request: ReleaseRequest,
        *,
        session_id: str | None = None,
        connection: object | None = None,
    ) -> int:
        """Queue a release; runs after the jobs put before it for its cart."""
        return await self._put(request, session_id, connection, None)

    async def put_cancel(
        self,
        request: CancelRequest,
        *,
        session_id: str | None = None,
        connection: object | None = None,
        cart_id: str | None = None,
    ) -> int:
        """Queue a cancel. A cancel names no cart: give ``cart_id`` to run it after
        the jobs put before it for that cart (its confirm, say)."""
        return await self._put(request, session_id, connection, cart_id)

    async def _put(
        self,
        request: ConfirmRequest | ReleaseRequest | CancelRequest,
        session_id: str | None,
        connection: object | None,
        cart: str | None,
    ) -> int:
        if not isinstance(request, ConfirmRequest | ReleaseRequest | CancelRequest):
            raise TypeError(
                "the outbox queues ConfirmRequest, ReleaseRequest or CancelRequest,"
                f" not {type(request).__name__}"
            )
        kind, key, cart = operation_key(request, cart)
        endpoint = _ENDPOINTS[kind]
        job = NewJob(
            kind=kind,
            key=key,
            cart=cart,
            body=request.to_json(),
            session_id=session_id,
            resend_safe=endpoint.unsafe_resend(request, self._retry) is None,
            created_at=self.clock(),
        )
        job_id = await self.store.put(job, connection)
        self._wake.set()
        return job_id

    # --- draining --------------------------------------------------------------------

    def worker(
        self,
        client: RoktClient,
        *,
        concurrency: int = 32,
        stop_timeout: float = 10.0,
        lease: float = 60.0,
        poll_interval: float = 0.5,
    ) -> Worker:
        """A worker sending jobs through ``client`` until the block exits.

        ``async with outbox.worker(rokt, concurrency=32):``. On exit (or
        cancellation) it stops claiming, lets calls in flight finish within
        ``stop_timeout``, and leaves the rest ``pending``.
        """
        return Worker(
            self,
            client,
            concurrency=concurrency,
            stop_timeout=stop_timeout,
            lease=lease,
            poll_interval=poll_interval,
        )

    # --- observing and operating ------------------------------------------------

    async def stats(self) -> OutboxStats:
        counts, oldest = await self.store.counts()
        age = None if oldest is None else max(0.0, self.clock() - oldest)
        return OutboxStats(oldest_pending_age=age, **counts)

    async def jobs(
        self, state: JobState | str | None = None, limit: int = 100
    ) -> list[Job]:
        """Jobs, oldest first (``state``: one of the state strings or ``JobState``)."""
        chosen = None if state is None else JobState(state)
        return await self.store.jobs(chosen, limit)

    async def job(self, job_id: int) -> Job | None:
        return await self.store.get(job_id)

    async def resend(self, job_id: int) -> bool:
        """Send a ``failed`` or ``unknown`` job again (an operator's decision)."""
        done = await self.store.resend(job_id, self.clock())
        self._wake.set()
        return done

    async def drop(self, job_id: int) -> bool:
        """Forget a job (not one in flight): an operator's decision."""
        return await self.store.drop(job_id)

    async def close(self) -> None:
        await self.store.close()

    def _decode(self, job: Job) -> Any:
        return _REQUESTS[job.kind].from_json(job.body)


_ENDPOINTS: Final[dict[str, _endpoints.Endpoint[Any]]] = {
    "confirm": _endpoints.CONFIRM,
    "release": _endpoints.RELEASE,
    "cancel": _endpoints.CANCEL,
}
_REQUESTS: Final[
    dict[str, type[ConfirmRequest] | type[ReleaseRequest] | type[CancelRequest]]
] = {
    "confirm": ConfirmRequest,
    "release": ReleaseRequest,
    "cancel": CancelRequest,
}
