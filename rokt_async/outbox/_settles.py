"""A worker's settles, written in batches: the outcomes that gather while one
batch is being written go in the next (``Store.settle_many``, one transaction).

A send's slot is free as soon as its outcome is queued here; the job stays
leased (``in_flight``) until its batch is written, so its cart's next job waits
for that, and a worker that dies first leaves it to recovery.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._jobs import Job, Settle
    from ._outbox import Outbox

__all__ = ["SettleQueue"]

_log: Final = logging.getLogger("rokt_async.outbox")


class SettleQueue:
    """Outcomes to write, each with the job it ends, and the hooks to call."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self._queued: list[tuple[Job, Settle]] = []
        self._writing: asyncio.Task[None] | None = None
        #: Outcomes queued or being written: their jobs are still leased.
        self.unsettled = 0

    def add(self, job: Job, settle: Settle) -> None:
        """Queue ``settle`` (never waits); written with the next batch."""
        self._queued.append((job, settle))
        self.unsettled += 1
        if self._writing is None:
            loop = asyncio.get_running_loop()
            self._writing = loop.create_task(self._write(), name="rokt-outbox-settle")

    async def drained(self) -> None:
        """Wait until every outcome queued so far is written (or failed to be)."""
        while self._writing is not None:
            await asyncio.wait([self._writing])

    async def _write(self) -> None:
        outbox = self.outbox
        try:
            while self._queued:
                batch, self._queued = self._queued, []
                try:
                    settled = await outbox.store.settle_many([s for _, s in batch])
                except Exception as exc:  # noqa: BLE001 - the leases will be recovered
                    _log.error(
                        "outbox worker: the store failed to settle %d jobs (%s);"
                        " their leases will be recovered",
                        len(batch),
                        type(exc).__name__,
                    )
                    continue
                finally:
                    self.unsettled -= len(batch)
                outbox._wake.set()  # leases ended: their carts may have next jobs
                for (job, settle), ended in zip(batch, settled, strict=True):
                    hook = outbox.hooks.get(settle.state)
                    if ended and hook is not None:
                        _call_hook(hook, job, settle)
        finally:
            self._writing = None


def _call_hook(hook: Callable[[Job], object], job: Job, settle: Settle) -> None:
    """``hook`` with the job as the store now has it; what it raises is logged."""
    try:
        hook(
            job.settled(
                settle.state,
                updated_at=settle.now,
                last_error=settle.last_error,
                error_body=settle.error_body,
                reason=settle.reason,
            )
        )
    except Exception as exc:  # noqa: BLE001 - the partner's hook: the rest go on
        _log.error("outbox hook on_%s raised %s", settle.state, type(exc).__name__)
