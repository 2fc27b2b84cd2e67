"""Confirm storms over real sockets: none bought twice, every unknown reconciled."""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING

import pytest

from rokt_async import (
    ConfirmResponse,
    OutcomeUnknownError,
    PoolLimits,
    RetryEvent,
    Timeouts,
)
from tests.conftest import emulator_client

from ._carts import ITEM, reserved_confirms
from .conftest import LOOPS

if TYPE_CHECKING:
    from collections.abc import Callable

    from rokt_async.emulator import Emulator

    from ._figures import Figures

#: Short attempts so "slow" replies cost little; connect roomy for a loaded machine.
FAST_TIMEOUTS = Timeouts(connect=1.0, response=0.25)
SLOW_MS = 1500.0  # well past one attempt


@pytest.mark.both_loops
@pytest.mark.asyncio(loop_factories=LOOPS)
async def test_confirm_storm_buys_each_cart_once_and_unknowns_reconcile(
    emulator: Emulator,
    size: Callable[[int, int], int],
    figures: Figures,
    request: pytest.FixtureRequest,
) -> None:
    """Reservation confirms under 10% 504-before, 10% 504-after, 2% resets and 1%
    slow replies: none applied twice, each OutcomeUnknownError, sent again to a
    healthy emulator, ends in exactly one confirmation of its cart, and the
    emulator received every attempt the client counted but those that failed
    without an answer in time."""
    count = size(5_000, 100_000)
    async with emulator_client(emulator) as setup:  # roomy timeouts, no faults
        confirms = await reserved_confirms(setup, count)
    causes: collections.Counter[str] = collections.Counter()

    def count_cause(event: RetryEvent) -> None:
        causes[type(event.cause).__name__] += 1

    async with emulator_client(
        emulator,
        timeouts=FAST_TIMEOUTS,
        limits=PoolLimits(connections=256),
        on_retry=[count_cause],
    ) as client:
        before = client.stats
        received_before = emulator.ledger().requests
        faults = emulator.faults
        faults.set_rate("confirm", "504_before", 0.10)
        faults.set_rate("confirm", "504_after", 0.10)
        faults.set_rate("confirm", "reset_after", 0.02)
        faults.set_rate("confirm", "delay", 0.01, ms=SLOW_MS)
        results = await client.confirm_many(confirms, concurrency=256)
        storm = client.stats
        received = emulator.ledger().requests - received_before
        faults.clear()
        unknown = [
            confirms[i]
            for i, result in enumerate(results)
            if isinstance(result, OutcomeUnknownError)
        ]
        replayed = await client.confirm_many(unknown)
    calls = storm.calls - before.calls
    attempts = storm.attempts - before.attempts
    succeeded = [r for r in results if isinstance(r, ConfirmResponse)]
    other = [
        r for r in results if not isinstance(r, ConfirmResponse | OutcomeUnknownError)
    ]
    # Every failed attempt is a retry's cause or an unknown call's last error; of
    # those, only an attempt that timed out or never connected may not have been
    # read by the emulator (a read timeout under load, a connect that failed).
    failed = causes + collections.Counter(
        type(r.last_error).__name__
        for r in results
        if isinstance(r, OutcomeUnknownError)
    )
    unanswered = failed["RequestTimeoutError"] + failed["ConnectError"]
    ledger = emulator.ledger()
    test = request.node.name
    figures.record(test, "confirms", count, "5,000 / 100,000 (soak)", met=True)
    share = len(succeeded) / count
    figures.record(
        test, "succeeded in the storm", f"{share:.2%}", ">= 99.5%", met=share >= 0.995
    )
    figures.record(
        test,
        "attempts per call",
        f"{attempts / calls:.3f}",
        "<= 1.35",
        met=attempts <= 1.35 * calls,
    )
    figures.record(
        test,
        "duplicate purchases",
        len(ledger.duplicates),
        "0",
        met=not ledger.duplicates,
    )
    figures.record(test, "unknown, then reconciled", len(unknown), "all", met=True)
    figures.record(
        test,
        "requests received / attempts (unanswered)",
        f"{received} / {attempts} ({unanswered})",
        "attempts - unanswered <= received <= attempts",
        met=attempts - unanswered <= received <= attempts,
    )
    assert other == []
    assert ledger.duplicates == ()
    assert ledger.is_stock_conserved
    assert share >= 0.995
    assert attempts <= 1.35 * calls
    assert attempts - unanswered <= received <= attempts
    assert all(isinstance(r, ConfirmResponse) and r.is_complete for r in replayed)
    for confirm in confirms:  # every cart bought exactly once, unknowns included
        assert ledger.confirmations(confirm.cart_id, ITEM) == 1
