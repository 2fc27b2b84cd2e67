"""The background event sender: ``add`` queues, batches go out on their own.

``add(event)`` is synchronous and never touches the network: it checks the event,
encodes it and queues it. A batch goes out as soon as 100 events (or 256 KiB) are
queued, and whatever is queued goes out every ``flush_interval`` seconds; at most
``concurrency`` batches are in flight. Every event added ends in exactly one of
``delivered``, ``unprocessed`` (refused by Rokt inside a 200) or ``undelivered``
(its batch failed, or it was still pending when the sender closed): nothing is
dropped. A full queue is an ``EventQueueFullError`` from ``add``.
"""

from __future__ import annotations

import asyncio
import datetime
import functools
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Self

from ._errors import ClientStateError, ConfigurationError, EventQueueFullError
from ._event_batches import (
    Batch,
    Envelope,
    check_account_id,
    check_event,
    encode_event,
    make_batch,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from types import TracebackType

    from ._event_calls import Sent
    from ._event_models import Event, WireEvent
    from ._event_results import UnprocessedEvent

__all__ = ["EventSender", "EventSenderStats"]

_log: Final = logging.getLogger("rokt_async")


@dataclass(frozen=True, slots=True)
class EventSenderStats:
    """A snapshot of a sender's counters (events, unless named otherwise).

    ``added == delivered + unprocessed + undelivered + queued`` at any moment.
    """

    added: int
    queued: int  # added, not yet settled: waiting or in a batch in flight
    batches_sent: int
    delivered: int
    unprocessed: int
    failed: int  # in batches that ended in an error (they are undelivered)
    undelivered: int
    dropped: int = 0  # there is no drop policy: always 0


class EventSender:
    """Made by ``RoktClient.event_sender()``; use it with ``async with``."""

    __slots__ = (
        "_added",
        "_batches",
        "_close_timeout",
        "_delivered",
        "_envelope",
        "_failed",
        "_flush_interval",
        "_gate",
        "_in_flight",
        "_max_queue",
        "_queue",
        "_send",
        "_state",
        "_ticker",
        "_undelivered",
        "_unprocessed",
        "_unsettled",
        "account_id",
    )

    def __init__(
        self,
        send: Callable[[Batch], Awaitable[Sent]],
        *,
        account_id: str,
        max_queue: int,
        flush_interval: float,
        close_timeout: float,
        concurrency: int,
    ) -> None:
        if max_queue < 1 or concurrency < 1:
            raise ConfigurationError("max_queue and concurrency must be >= 1")
        if not flush_interval > 0 or not close_timeout >= 0:
            raise ConfigurationError(
                "flush_interval must be > 0 and close_timeout >= 0"
            )
        self.account_id = check_account_id(account_id)
        self._send = send
        self._max_queue = max_queue
        self._flush_interval = flush_interval
        self._close_timeout = close_timeout
        self._gate = asyncio.Semaphore(concurrency)
        self._envelope = Envelope(account_id)
        self._queue: list[tuple[Event, WireEvent, bytes]] = []
        self._in_flight: set[asyncio.Task[Sent]] = set()
        self._ticker: asyncio.Task[None] | None = None
        self._state = "new"
        self._added = self._unsettled = self._batches = 0
        self._delivered = self._failed = 0
        self._unprocessed: list[UnprocessedEvent] = []
        self._undelivered: list[Event] = []

    # --- the caller's side ---------------------------------------------------------

    def add(self, event: Event) -> None:
        """Queue one event; returns at once, never waiting on Rokt.

        Raises:
            EventQueueFullError: ``max_queue`` events are already waiting or in
                flight; the event was not added.
            RequestValidationError: the event breaks a rule Rokt would refuse.
            ClientStateError: the sender is not open (outside ``async with``).
        """
        if self._state != "open":
            raise ClientStateError(
                f"the event sender is {self._state}; add events inside"
                " `async with rokt.event_sender(...) as sender:`"
            )
        if self._unsettled >= self._max_queue:
            raise EventQueueFullError(
                f"the event sender already holds {self._max_queue} events not yet"
                " delivered (max_queue); Rokt may be slow or down"
            )
        event = check_event(event, "event", datetime.datetime.now(datetime.UTC))
        wire, part = encode_event(event, "event", self._envelope)
        self._queue.append((event, wire, part))
        self._added += 1
        self._unsettled += 1
        self._dispatch(whole_batches_only=True)

    async def flush(self) -> None:
        """Send everything queued so far and wait until each of it is settled."""
        self._dispatch(whole_batches_only=False)
        if self._in_flight:
            await asyncio.wait(set(self._in_flight))

    @property
    def stats(self) -> EventSenderStats:
        return EventSenderStats(
            added=self._added,
            queued=self._unsettled,
            batches_sent=self._batches,
            delivered=self._delivered,
            unprocessed=len(self._unprocessed),
            failed=self._failed,
            undelivered=len(self._undelivered),
        )

    @property
    def undelivered(self) -> tuple[Event, ...]:
        """Events whose batch failed or that were pending at close, in order."""
        return tuple(self._undelivered)

    @property
    def unprocessed(self) -> tuple[UnprocessedEvent, ...]:
        """Events Rokt refused inside a 200, with its code and message."""
        return tuple(self._unprocessed)

    # --- lifecycle -----------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None and issubclass(exc_type, asyncio.CancelledError):
            await self.close(timeout=0.0)  # the owner was cancelled: don't linger
        else:
            await self.close()

    def open(self) -> None:
        """Start the flush timer on the running loop (``async with`` does this)."""
        if self._state != "new":
            raise ClientStateError(f"the event sender is {self._state}")
        self._state = "open"
        self._ticker = asyncio.get_running_loop().create_task(self._tick())

    async def close(self, timeout: float | None = None) -> tuple[Event, ...]:
        """Stop taking events, send what is queued and wait up to ``timeout``
        (``close_timeout`` by default); what is still unsettled then is
        cancelled and kept on ``undelivered``, which is returned."""
        if self._state == "closed":
            return self.undelivered
        self._state = "closed"
        if self._ticker is not None:
            self._ticker.cancel()
        self._dispatch(whole_batches_only=False)
        limit = self._close_timeout if timeout is None else timeout
        if self._in_flight:
            try:
                await asyncio.wait(set(self._in_flight), timeout=limit)
            finally:
                late = set(self._in_flight)
                for task in late:
                    task.cancel()
                if late:
                    await asyncio.wait(late)
        if self._undelivered:
            _log.warning(
                "rokt_async event sender closed with %d undelivered events"
                " (kept on sender.undelivered)",
                len(self._undelivered),
            )
        return self.undelivered

    # --- batches -------------------------------------------------------------------

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self._flush_interval)
            self._dispatch(whole_batches_only=False)

    def _dispatch(self, *, whole_batches_only: bool) -> None:
        """Cut the queue into batches and start each; with ``whole_batches_only``,
        a last batch that could still take more events stays queued."""
        queue = self._queue
        envelope = self._envelope
        while queue:
            count = size = 0
            for _, _, part in queue:
                if not envelope.fits(count, size, len(part)) and count:
                    break
                count += 1
                size += len(part)
            if whole_batches_only and count == len(queue):
                full = not envelope.fits(count, size, 0)
                if not full:
                    return
            taken, self._queue = queue[:count], queue[count:]
            queue = self._queue
            self._start(taken)

    def _start(self, taken: list[tuple[Event, WireEvent, bytes]]) -> None:
        batch = make_batch(
            self.account_id,
            self._envelope,
            [wire for _, wire, _ in taken],
            [part for _, _, part in taken],
        )
        task = asyncio.get_running_loop().create_task(self._run(batch))
        self._in_flight.add(task)
        # Settled in a callback, so a task cancelled before it ever ran still
        # accounts for its events.
        task.add_done_callback(
            functools.partial(self._settle, [event for event, _, _ in taken])
        )

    async def _run(self, batch: Batch) -> Sent:
        async with self._gate:
            self._batches += 1
            return await self._send(batch)

    def _settle(self, events: list[Event], task: asyncio.Task[Sent]) -> None:
        self._in_flight.discard(task)
        self._unsettled -= len(events)
        if task.cancelled():
            self._undelivered.extend(events)
            return
        error = task.exception()
        if error is not None:  # not a RoktError: send() returns those
            self._failed += len(events)
            self._undelivered.extend(events)
            _log.error("rokt_async event batch raised %s", type(error).__name__)
            return
        sent = task.result()
        if sent.error is not None:
            self._failed += len(events)
            self._undelivered.extend(events)
            return
        self._delivered += sent.delivered
        self._unprocessed.extend(sent.unprocessed)

    def __repr__(self) -> str:
        return (
            f"<EventSender account_id={self.account_id!r} {self._state}"
            f" queued={self._unsettled}>"
        )
