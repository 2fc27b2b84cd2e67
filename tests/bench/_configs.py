"""A ``RunConfig`` for report tests: one run as the CLI would describe it."""

from __future__ import annotations

from typing import Any

import msgspec

from rokt_async.bench._report import RunConfig

__all__ = ["run_config"]

_BASE = RunConfig(
    target="embedded emulator",
    base_url="http://127.0.0.1:1234",
    flows=100,
    duration=None,
    time_limit=300.0,
    warmup=20,
    warmup_seconds=0.0,
    concurrency=8,
    processes=1,
    mix={"confirm": 1.0, "release": 0.0},
    faults=[],
    loop="asyncio",
    seed=1,
    events="oauth",
    account_id="12345",
)


def run_config(**changes: Any) -> RunConfig:
    """100 flows after 20 warm-up, 8 at once, confirms only, no faults, events
    to ``/v1``: with ``changes`` applied."""
    return msgspec.structs.replace(_BASE, **changes)
