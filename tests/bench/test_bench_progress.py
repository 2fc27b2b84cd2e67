"""The progress line: warm-up, then a bar by flows or by time."""

from __future__ import annotations

import io

from rokt_async.bench._flows import MEASURING, WARMING_UP
from rokt_async.bench._progress import Progress, render


def test_render_says_warming_up_before_measuring() -> None:
    """Before the measured phase the line only says it is warming up."""
    line = render(
        phase=WARMING_UP, done=10, failed=0, elapsed=1.5, flows=100, duration=None
    )
    assert line.startswith("warming up")


def test_render_fills_the_bar_by_flows_done() -> None:
    """With --flows the bar shows the share of flows done, rate and failures."""
    line = render(
        phase=MEASURING, done=50, failed=3, elapsed=2.0, flows=100, duration=None
    )
    assert "50%" in line
    assert "50 flows" in line
    assert "25 flows/s" in line
    assert "3 failed" in line


def test_render_fills_the_bar_by_time_and_never_past_full() -> None:
    """With --duration the bar shows elapsed time, capped at 100%."""
    line = render(
        phase=MEASURING, done=10, failed=0, elapsed=30.0, flows=None, duration=20.0
    )
    assert "100%" in line
    assert "░" not in line


async def test_quiet_progress_draws_nothing() -> None:
    """A disabled display returns at once and writes nothing."""
    stream = io.StringIO()
    progress = Progress(stream, flows=10, duration=None, enabled=False)
    await progress.run(lambda: (MEASURING, 1, 0))
    assert stream.getvalue() == ""
