"""The store an ``Outbox`` keeps its jobs in: the one interface both stores share.

A store is the only source of truth: every state change is one transaction, and a
job is leased (``in_flight``) to one worker at a time. ``claim`` returns, per cart,
only the oldest job not yet settled, so one cart's jobs never run concurrently and
run in the order they were put.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from ._jobs import Settle as _Settle

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from ._jobs import Job, JobState, NewJob, Settle

__all__ = ["Store"]


class Store(Protocol):
    """Where jobs live. Every method is one transaction. Both stores subclass it
    (for ``settle``); another store may simply match it."""

    async def put(self, job: NewJob, connection: object | None = None) -> int:
        """Add a pending job, or return the id of the job with the same key.

        ``connection``: the caller's own open transaction (the store's kind of
        connection); the job is then committed with it, or not at all.
        """
        ...

    async def claim(
        self, *, now: float, lease: float, limit: int, worker: str
    ) -> list[Job]:
        """Lease up to ``limit`` due pending jobs, at most one per cart, none of
        a cart that has a job in flight. ``lease`` bounds how long a lease lasts
        without a settle (a store with worker heartbeats may hold it longer).

        A job that is safe to resend is claimed with its attempt recorded as
        started (its ``attempts`` counts it): recovery treats it the same
        whether or not the send began, so it needs no ``started`` of its own.
        """
        ...

    async def started(self, job_id: int, now: float) -> bool:
        """Record that a send of this leased job is about to start (once per
        lease: a job whose claim recorded it is not counted again). False when
        the job is no longer leased here (recovery took it back): do not send."""
        ...

    async def unclaim(self, job_ids: Sequence[int], now: float) -> None:
        """Leased jobs this worker will not send (it is stopping, or the lease
        has too little time left): back to ``pending`` at once, the attempt a
        claim recorded for them taken back. Jobs no longer leased here stay."""
        ...

    async def settle(
        self,
        job_id: int,
        state: JobState,
        *,
        now: float,
        next_attempt_at: float | None = None,
        last_error: str | None = None,
        error_body: str | None = None,
        reason: str | None = None,
    ) -> bool:
        """End a lease: ``pending`` again (from ``next_attempt_at``, a time on the
        caller's clock; a store may apply it as a delay from ``now``), or
        ``done``, ``failed`` or ``unknown``. Only while the job is still leased
        here: False (and nothing changed) when it no longer was. A store that
        subclasses ``Store`` gets this from its ``settle_many``."""
        settle = _Settle(
            job_id, state, now, next_attempt_at, last_error, error_body, reason
        )
        (settled,) = await self.settle_many([settle])
        return settled

    async def settle_many(self, settles: Sequence[Settle]) -> list[bool]:
        """``settle`` for each, in one transaction: whether each lease still
        stood (and so changed). A worker settles the outcomes that gather while
        its previous batch was being written."""
        ...

    async def recover(self, now: float) -> int:
        """Expired leases (a worker that died): back to ``pending`` if no send
        had started or resending is safe, else ``unknown``. Returns how many."""
        ...

    async def watch(self, wake: Callable[[], None]) -> None:
        """Call ``wake`` whenever another process may have put a job, until
        cancelled. A store that cannot tell returns at once (workers then find
        such jobs by polling)."""
        ...

    async def get(self, job_id: int) -> Job | None: ...

    async def jobs(self, state: JobState | None = None, limit: int = 100) -> list[Job]:
        """Jobs, oldest first; those in ``state`` only when given."""
        ...

    async def counts(self) -> tuple[dict[str, int], float | None]:
        """Jobs per state, and when the oldest pending job was put (or None)."""
        ...

    async def resend(self, job_id: int, now: float) -> bool:
        """An operator's call: a ``failed`` or ``unknown`` job goes back to
        ``pending``. False when there is no such job in those states."""
        ...

    async def drop(self, job_id: int) -> bool:
        """An operator's call: forget a job that is not ``in_flight``."""
        ...

    async def close(self) -> None: ...
