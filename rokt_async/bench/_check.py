"""The ledger check: what the emulator says took effect, against what the client saw.

It passes when, over the run (the ledger read before and after, so an emulator
that served earlier runs still checks):

- no cart line was confirmed twice (the emulator's ``duplicates``): a retry that
  bought again would show up here;
- stock is conserved on every item (``available + held + confirmed == initial``);
- confirmations the client saw succeed <= confirmations in the ledger <= cart
  lines the client sent to confirm (a confirm whose outcome stayed unknown may or
  may not have taken effect, so the ledger may hold more than the client saw);
- releases in the ledger <= cart lines the client sent to release;
- the events part (``check_events``) passed.

The events part compares the conversion events the client's sender handled with
the events the ledger applied over the run. It passes when none was lost
(delivered + unprocessed + undelivered == added, on the client's side), every
event the client saw delivered was applied (applied >= delivered), the ledger
refused at least the events the client saw refused as unprocessed, and no event
was applied that the client did not send. On ``/v1/events`` each event must also
be applied once: no ``clientEventId`` applied twice during the run, and applied
== delivered, exactly. Only undelivered events loosen that (a batch whose
outcome stayed unknown may have been applied): then delivered <= applied <=
delivered + undelivered. On ``/v2/events`` a resend applies again, so
duplicates are allowed (and counted).

A ledger that could not be read before or after the run is not checked, and an
unchecked ledger never passes (the verdict is then ``ledger_unchecked``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import msgspec

if TYPE_CHECKING:
    from ..emulator import Ledger
    from ._events import EventCounts
    from ._stats import LedgerTally

__all__ = [
    "EXACTLY_ONCE_PATH",
    "EventCheck",
    "LedgerCheck",
    "check_events",
    "check_ledger",
]

_SHOWN_DUPLICATES: Final = 20
#: The events endpoint whose Idempotency-Key makes each event apply once.
EXACTLY_ONCE_PATH: Final = "/v1/events"


class EventCheck(msgspec.Struct, kw_only=True):
    """The ledger's events part: applied events against the client's counts.

    Attributes:
        checked: events were sent and a ledger was read before and after.
        passed: no problem found; true when no events were sent at all.
        problems: one sentence per rule broken.
        path: ``/v1/events`` or ``/v2/events``; None when no events were sent.
        exactly_once: the rules for ``/v1/events`` apply (each applied once).
        added: events the client's sender took.
        delivered: events the client saw delivered.
        unprocessed: events the client saw refused as unprocessed records.
        undelivered: events whose batch failed or was pending at close.
        accounted: delivered + unprocessed + undelivered == added.
        applied: events the ledger applied during the run, resends included.
        distinct: ``clientEventId`` values the ledger applied during the run.
        duplicates: ``clientEventId`` values applied more than once.
        duplicate_ids: the first few of them.
        ledger_unprocessed: events the ledger answered as unprocessed records.
        batches: events requests the ledger answered 200 (or applied, then lost
            the answer to a fault).
        idempotency_conflicts: ``/v1`` resends answered 409 (already applied).
        token_requests: requests to the token endpoint, faulted ones included.
        tokens_issued: tokens the token endpoint issued.
    """

    checked: bool = False
    passed: bool = True
    problems: list[str] = msgspec.field(default_factory=list)
    path: str | None = None
    exactly_once: bool = False
    added: int = 0
    delivered: int = 0
    unprocessed: int = 0
    undelivered: int = 0
    accounted: bool = True
    applied: int = 0
    distinct: int = 0
    duplicates: int = 0
    duplicate_ids: list[str] = msgspec.field(default_factory=list)
    ledger_unprocessed: int = 0
    batches: int = 0
    idempotency_conflicts: int = 0
    token_requests: int = 0
    tokens_issued: int = 0


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
        events: the events part (its problems are in ``problems`` too).
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
    events: EventCheck = msgspec.field(default_factory=EventCheck)


def _delta(after: dict[str, int], before: dict[str, int], action: str) -> int:
    prefix = action + " "
    return sum(
        n - before.get(key, 0) for key, n in after.items() if key.startswith(prefix)
    )


def check_events(
    before: Ledger, after: Ledger, events: EventCounts, path: str | None
) -> EventCheck:
    """The events part of the check: the ledger's events over the run against
    what the client's sender counted (see the module docstring).

    Args:
        before: the ledger read before the first flow.
        after: the ledger read after the last flow.
        events: what the client's background sender counted.
        path: where the events went, ``/v1/events`` or ``/v2/events``; None
            when no events were sent (nothing to check: it passes).
    """
    if path is None:
        return EventCheck()
    was = before.event_counts
    again = sorted(
        key
        for key in after.event_duplicates
        if after.event_counts.get(key, 0) > was.get(key, 0)
    )
    applied = after.events_applied - before.events_applied
    distinct = sum(1 for key, n in after.event_counts.items() if n > was.get(key, 0))
    ledger_unprocessed = after.events_unprocessed - before.events_unprocessed
    exactly_once = path == EXACTLY_ONCE_PATH
    accounted = events.accounted == events.added
    delivered, undelivered = events.delivered, events.undelivered
    problems: list[str] = []
    if not accounted:
        problems.append(
            f"the event sender accounted for {events.accounted} of the"
            f" {events.added} events added (delivered {delivered} + unprocessed"
            f" {events.unprocessed} + undelivered {undelivered})"
        )
    if applied < delivered:
        problems.append(
            f"the client saw {delivered} events delivered but the ledger applied"
            f" only {applied}"
        )
    if exactly_once and again:
        problems.append(f"{len(again)} events were applied more than once on {path}")
    if exactly_once and applied > delivered + undelivered:
        more = f" + {undelivered} undelivered" if undelivered else ""
        problems.append(
            f"the ledger applied {applied} events but the client delivered"
            f" {delivered}{more}"
        )
    if distinct > events.added:
        problems.append(
            f"the ledger applied {distinct} distinct events but the client added"
            f" only {events.added}"
        )
    if ledger_unprocessed < events.unprocessed:
        problems.append(
            f"the client saw {events.unprocessed} events refused as unprocessed"
            f" but the ledger refused only {ledger_unprocessed}"
        )
    return EventCheck(
        checked=True,
        passed=not problems,
        problems=problems,
        path=path,
        exactly_once=exactly_once,
        added=events.added,
        delivered=delivered,
        unprocessed=events.unprocessed,
        undelivered=undelivered,
        accounted=accounted,
        applied=applied,
        distinct=distinct,
        duplicates=len(again),
        duplicate_ids=again[:_SHOWN_DUPLICATES],
        ledger_unprocessed=ledger_unprocessed,
        batches=after.event_batches - before.event_batches,
        idempotency_conflicts=after.idempotency_conflicts
        - before.idempotency_conflicts,
        token_requests=after.token_requests - before.token_requests,
        tokens_issued=after.tokens_issued - before.tokens_issued,
    )


def check_ledger(
    before: Ledger | None,
    after: Ledger | None,
    tally: LedgerTally,
    *,
    events: EventCounts | None = None,
    event_path: str | None = None,
    unreadable: str = "the emulator's ledger could not be read",
) -> LedgerCheck:
    """Compare the ledger's change over the run with the client's tally.

    Args:
        before: the ledger read before the first flow (None: not readable).
        after: the ledger read after the last flow.
        tally: cart lines the client sent and saw acknowledged.
        events: what the client's event sender counted (None: none sent).
        event_path: ``/v1/events`` or ``/v2/events``, where they went.
        unreadable: why a ledger is None, for the report.
    """
    if before is None or after is None:
        return LedgerCheck(
            checked=False,
            passed=False,
            problems=[unreadable],
            events=EventCheck(passed=events is None or event_path is None),
        )
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
    event_check = (
        EventCheck()
        if events is None
        else check_events(before, after, events, event_path)
    )
    problems += event_check.problems
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
        events=event_check,
    )
