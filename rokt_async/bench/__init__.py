"""Load benchmark CLI: ``rokt-async bench`` / ``python -m rokt_async.bench``.

Runs realistic checkout flows (placements/any -> reserve -> confirm, and a share
of reserve -> release; each confirmed order also sends a conversion event through
the background event sender) through ``RoktClient`` at a set concurrency against
the emulator (started in a child process on 127.0.0.1 by default), shows a
progress bar, then prints throughput and events/s, per-endpoint latency
percentiles, retries, errors by class, the events' fate, client CPU per call, RSS
growth and the emulator's ledger check, its events part included. The exit
status is 0 only when the ledger check passed and every call error is one the
injected faults explain (``_verdict`` defines the others); ``--help`` lists every
option and status, and ``docs/bench-json.md`` the ``--json`` fields.
"""

from __future__ import annotations

from ._main import main

__all__ = ["main"]
