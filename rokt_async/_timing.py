"""``Timing``: where the retry layer reads the time, waits, and draws its jitter.

The client's own is the system's (``time.monotonic``, ``asyncio.sleep``,
``random.random``). Tests pass ``rokt_async.testing.FakeTiming`` to
``RoktClient(timing=...)`` and get the same client, wired the same way, whose
backoff waits take no time and whose jitter is fixed.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Protocol, runtime_checkable

__all__ = ["SYSTEM_TIMING", "FakeTiming", "SystemTiming", "Timing"]


@runtime_checkable
class Timing(Protocol):
    """A clock, a sleep and a uniform draw in [0, 1), used for every retry."""

    def clock(self) -> float:
        """Seconds on a monotonic clock; deadlines are measured on it."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait between attempts (backoff or ``Retry-After``)."""
        ...

    def random(self) -> float:
        """The full-jitter factor for one backoff step."""
        ...


class SystemTiming:
    """The real thing: ``time.monotonic``, ``asyncio.sleep``, ``random.random``."""

    __slots__ = ()

    def clock(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def random(self) -> float:
        return random.random()  # noqa: S311 - jitter, not a secret

    def __repr__(self) -> str:
        return "SystemTiming()"


SYSTEM_TIMING = SystemTiming()


class FakeTiming:
    """Deterministic time for tests: sleeping advances the clock at once.

    Pass it as ``RoktClient(timing=FakeTiming())``: backoff and ``Retry-After``
    waits return immediately, each one is recorded in ``sleeps`` and moves ``now``
    on by its length, and the jitter factor is ``jitter`` (1.0: every backoff
    step at its full length). The client is otherwise the one users get. Only the
    retry layer reads it: per-attempt timers (``Timeouts``) run on the event loop's
    own clock.

    Args:
        start: the clock's first reading.
        jitter: what every jitter draw returns, in [0, 1].
    """

    __slots__ = ("jitter", "now", "sleeps")

    def __init__(self, *, start: float = 0.0, jitter: float = 1.0) -> None:
        if not 0.0 <= jitter <= 1.0:
            raise ValueError("jitter must be in [0, 1]")
        self.now = start
        self.jitter = jitter
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)  # still a suspension point, as a real wait is

    def random(self) -> float:
        return self.jitter

    def advance(self, seconds: float) -> None:
        """Move the clock on without sleeping (time spent elsewhere)."""
        self.now += seconds

    def __repr__(self) -> str:
        return f"FakeTiming(now={self.now!r}, jitter={self.jitter!r})"
