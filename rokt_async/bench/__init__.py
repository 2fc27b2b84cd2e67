"""Load benchmark CLI: ``rokt-async bench`` / ``python -m rokt_async.bench``.

Runs realistic checkout flows (placements/any -> reserve -> confirm, and a share
of reserve -> release) through ``RoktClient`` at a set concurrency against the
emulator (started in a child process on 127.0.0.1 by default), shows a progress
bar, then prints throughput, per-endpoint latency percentiles, retries, errors by
class, client CPU per call, RSS growth and the emulator's ledger check. The exit
status is 0 only when the ledger check passed and every call error is one the
injected faults explain (``_verdict`` defines the others); ``--help`` lists every
option and status, and ``docs/bench-json.md`` the ``--json`` fields.
"""

from __future__ import annotations

from ._main import main

__all__ = ["main"]
