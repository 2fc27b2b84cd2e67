"""Live progress on stderr: a redrawn bar on a TTY, plain lines otherwise."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Final, TextIO

from ._flows import FINISHED, MEASURING

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Progress", "render"]

_WIDTH: Final = 24
_POLL_EVERY: Final = 0.2  # seconds between reads, and redraws on a terminal
_PLAIN_EVERY: Final = 5.0  # seconds between lines when stderr is a file or pipe


def render(
    *,
    phase: int,
    done: int,
    failed: int,
    elapsed: float,
    flows: int | None,
    duration: float | None,
) -> str:
    """One progress line (no newline, no escape codes)."""
    if phase < MEASURING:
        return f"warming up · {elapsed:5.1f} s"
    if flows is not None:
        fraction = done / flows if flows else 1.0
    elif duration:
        fraction = elapsed / duration
    else:
        fraction = 0.0
    fraction = min(max(fraction, 0.0), 1.0)
    filled = round(fraction * _WIDTH)
    bar = "█" * filled + "░" * (_WIDTH - filled)
    rate = done / elapsed if elapsed > 0 else 0.0
    return (
        f"[{bar}] {fraction:4.0%} · {elapsed:5.1f} s · {done:,} flows ·"
        f" {rate:,.0f} flows/s · {failed:,} failed"
    )


class Progress:
    """Draws the run's progress until told to stop.

    Args:
        stream: where to draw (stderr).
        flows: measured flows asked for, or None.
        duration: measured seconds asked for, or None.
        enabled: False draws nothing at all (``--quiet``).
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        flows: int | None,
        duration: float | None,
        enabled: bool,
    ) -> None:
        self._stream = stream
        self._flows = flows
        self._duration = duration
        self._enabled = enabled
        try:
            self._tty = enabled and stream.isatty()
        except ValueError:  # a closed stream
            self._tty = False

    async def run(self, read: Callable[[], tuple[int, int, int]]) -> None:
        """Redraw from ``read() -> (phase, done, failed)`` until cancelled."""
        if not self._enabled:
            return
        every = _POLL_EVERY if self._tty else _PLAIN_EVERY
        started = drawn = time.monotonic()
        measuring_since: float | None = None
        try:
            while True:
                await asyncio.sleep(_POLL_EVERY)
                phase, done, failed = read()
                if phase >= FINISHED:
                    return
                now = time.monotonic()
                if phase >= MEASURING and measuring_since is None:
                    # It began somewhere in the last poll interval: take the middle.
                    measuring_since = now - _POLL_EVERY / 2
                if now - drawn < every - 1e-3:
                    continue
                drawn = now
                elapsed = now - (measuring_since or started)
                self._draw(
                    render(
                        phase=phase,
                        done=done,
                        failed=failed,
                        elapsed=elapsed,
                        flows=self._flows,
                        duration=self._duration,
                    )
                )
        finally:
            if self._tty:
                self._stream.write("\r\x1b[K")
                self._stream.flush()

    def _draw(self, line: str) -> None:
        if self._tty:
            self._stream.write("\r\x1b[K" + line)
        else:
            self._stream.write(line + "\n")
        self._stream.flush()
