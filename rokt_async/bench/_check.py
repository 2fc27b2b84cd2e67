"""The ledger check: what the emulator says took effect, against what the client saw.

It passes when, over the run (the ledger read before and after, so an emulator
that served earlier runs still checks):

- no cart line was confirmed twice (the emulator's ``duplicates``): a retry that
  bought again would show up here;
- stock is conserved on every item (``available + held + confirmed == initial``);
- confirmations the client saw succeed <= confirmations in the ledger <= cart
  lines the client sent to confirm (a confirm whose outcome stayed unknown may or
  may not have taken effect, so the ledger may hold more than the client saw);
- releases in the ledger <= cart lines the client sent to release.

A ledger that could not be read before or after the run is not checked, and an
unchecked ledger never passes (the verdict is then ``ledger_unchecked``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import msgspec

if TYPE_CHECKING:
    from ..emulator import Ledger
    from ._stats import LedgerTally

__all__ = ["LedgerCheck", "check_ledger"]

_SHOWN_DUPLICATES: Final = 20


class LedgerCheck(msgspec.Struct, kw_only=True):
    """The emulator's ledger over the run, and whether it agrees with the client.

    Attributes:
        checked: a ledger was read before and after the run.
        passed: checked and no problem found.
        problems: one sentence per rule broken, or why it could not be checked.
        duplicate_confirmations: how many cart lines were confirmed twice.
        duplicate_keys: the first few of them.
        stock_conserved: every item's stock adds up.
        items: catalog items the ledger lists.
        confirmations: confirm effects during the run.
        confirmations_acked: cart lines the client saw confirmed.
        confirm_items_sent: cart lines the client asked to confirm.
        releases: release effects during the run.
        releases_acked: cart lines the client saw released.
        release_items_sent: cart lines the client asked to release.
        replays: resends the emulator answered from an earlier effect.
        held_units: units still held by reservations at the end (flows that failed
            after reserving; they go back on sale when the reservations expire).
        peak_connections: most client connections open at once (the whole
            emulator's life, or since its last reset).
        requests: API requests the emulator received during the run.
    """

    checked: bool
    passed: bool
    problems: list[str] = msgspec.field(default_factory=list)
    duplicate_confirmations: int = 0
    duplicate_keys: list[str] = msgspec.field(default_factory=list)
    stock_conserved: bool = False
    items: int = 0
    confirmations: int = 0
    confirmations_acked: int = 0
    confirm_items_sent: int = 0
    releases: int = 0
    releases_acked: int = 0
    release_items_sent: int = 0
    replays: int = 0
    held_units: int = 0
    peak_connections: int = 0
    requests: int = 0


def _delta(after: dict[str, int], before: dict[str, int], action: str) -> int:
    prefix = action + " "
    return sum(
        n - before.get(key, 0) for key, n in after.items() if key.startswith(prefix)
    )


def check_ledger(
    before: Ledger | None,
    after: Ledger | None,
    tally: LedgerTally,
    *,
    unreadable: str = "the emulator's ledger could not be read",
) -> LedgerCheck:
    """Compare the ledger's change over the run with the client's tally.

    Args:
        before: the ledger read before the first flow (None: not readable).
        after: the ledger read after the last flow.
        tally: cart lines the client sent and saw acknowledged.
        unreadable: why a ledger is None, for the report.
    """
    if before is None or after is None:
        return LedgerCheck(checked=False, passed=False, problems=[unreadable])
    duplicates = sorted(
        key
        for key in after.duplicates
        if key.startswith("confirm ")
        and after.effects.get(key, 0) > before.effects.get(key, 0)
    )
    confirmations = _delta(after.effects, before.effects, "confirm")
    releases = _delta(after.effects, before.effects, "release")
    problems: list[str] = []
    if duplicates:
        problems.append(f"{len(duplicates)} cart lines were confirmed more than once")
    if not after.is_stock_conserved:
        bad = sorted(k for k, line in after.stock.items() if not line.is_conserved)
        problems.append(f"stock is not conserved for {', '.join(bad[:10])}")
    if confirmations < tally.confirm_items_acked:
        problems.append(
            f"the client saw {tally.confirm_items_acked} lines confirmed but the"
            f" ledger holds {confirmations} confirmations"
        )
    if confirmations > tally.confirm_items_sent:
        problems.append(
            f"the ledger holds {confirmations} confirmations but the client sent"
            f" only {tally.confirm_items_sent} lines to confirm"
        )
    if releases > tally.release_items_sent:
        problems.append(
            f"the ledger holds {releases} releases but the client sent only"
            f" {tally.release_items_sent} lines to release"
        )
    return LedgerCheck(
        checked=True,
        passed=not problems,
        problems=problems,
        duplicate_confirmations=len(duplicates),
        duplicate_keys=duplicates[:_SHOWN_DUPLICATES],
        stock_conserved=after.is_stock_conserved,
        items=len(after.stock),
        confirmations=confirmations,
        confirmations_acked=tally.confirm_items_acked,
        confirm_items_sent=tally.confirm_items_sent,
        releases=releases,
        releases_acked=tally.release_items_acked,
        release_items_sent=tally.release_items_sent,
        replays=sum(after.replays.values()) - sum(before.replays.values()),
        held_units=sum(line.held for line in after.stock.values()),
        peak_connections=after.peak_connections,
        requests=after.requests - before.requests,
    )
