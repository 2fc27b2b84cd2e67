"""The bench's conversion events: the ledger's events part, the verdict, the report."""

from __future__ import annotations

import json

import pytest

from rokt_async import OAuthCredentials, RoktClient
from rokt_async.bench._check import check_events, check_ledger
from rokt_async.bench._events import Conversions, EventCounts, client_event_id
from rokt_async.bench._report import RunConfig, build_report, to_json
from rokt_async.bench._stats import FlowCounts, LedgerTally, WorkerResult
from rokt_async.bench._summary import format_summary
from rokt_async.bench._target import FaultRate
from rokt_async.bench._verdict import unexplained_events
from rokt_async.emulator import Emulator, Ledger
from rokt_async.emulator._ledger import EventTally
from tests.bench._configs import run_config

V1 = "/v1/events"
V2 = "/v2/events"


def _ledger(
    counts: dict[str, int],
    *,
    unprocessed: int = 0,
    batches: int = 0,
    conflicts: int = 0,
    tokens: int = 0,
) -> Ledger:
    return Ledger.build(
        effects={},
        replays={},
        stock={},
        peak_connections=1,
        requests=0,
        events=EventTally(
            event_counts=counts,
            events_unprocessed=unprocessed,
            event_batches=batches,
            idempotency_conflicts=conflicts,
            token_requests=tokens,
            tokens_issued=tokens,
        ),
    )


def _sent(
    added: int, delivered: int, unprocessed: int = 0, undelivered: int = 0
) -> EventCounts:
    return EventCounts(
        added=added,
        delivered=delivered,
        unprocessed=unprocessed,
        undelivered=undelivered,
        failed=undelivered,
        batches_sent=2,
        measured_delivered=delivered // 2,  # the rest in the warm-up
        measured_batches=1,
    )


EMPTY = _ledger({})


def test_event_id_is_a_32_hex_digest_of_the_order_id() -> None:
    """The same order always gives the same id, other orders other ids, in 32 hex."""
    first = client_event_id("order-ab12-0-1")
    assert first == client_event_id("order-ab12-0-1")
    assert first != client_event_id("order-ab12-0-2")
    assert len(first) == 32
    int(first, 16)


async def test_conversions_count_what_a_full_queue_refused() -> None:
    """A full sender queue refuses the order's event: counted, not raised, and
    the event that was queued is delivered to the emulator as a conversion."""
    with Emulator() as emulator:
        client = RoktClient(
            api_key=emulator.api_key,
            tag_id=emulator.tag_id,
            base_url=emulator.url,
            event_credentials=OAuthCredentials("test-app", "test-app-secret"),
        )
        async with client:
            sender = client.event_sender(account_id="12345", max_queue=1)
            conversions = Conversions(sender)
            async with sender:
                conversions.start_measuring()
                conversions.record("order-1", "one@example.com")
                conversions.record("order-2", "two@example.com")  # queue full
                measured_to = sender.stats
        ledger = emulator.ledger()
    counts = conversions.counts(measured_to)
    assert (counts.added, counts.refused, counts.delivered) == (1, 1, 1)
    assert counts.measured_delivered == 0  # delivered at close, after "measured"
    assert ledger.event_counts == {client_event_id("order-1"): 1}


def test_event_check_passes_when_each_event_is_applied_once_on_v1() -> None:
    """Every delivered event applied once, none lost: the v1 check passes."""
    after = _ledger({"a": 1, "b": 1, "c": 1}, batches=2, conflicts=1, tokens=1)
    check = check_events(EMPTY, after, _sent(3, 3), V1)
    assert (check.checked, check.passed, check.problems) == (True, True, [])
    assert (check.applied, check.distinct, check.duplicates) == (3, 3, 0)
    assert (check.batches, check.idempotency_conflicts, check.token_requests) == (
        2,
        1,
        1,
    )
    assert check.exactly_once


def test_event_check_fails_on_v1_when_an_event_is_applied_twice() -> None:
    """A clientEventId applied twice during the run breaks "each applied once"."""
    after = _ledger({"a": 2, "b": 1})
    check = check_events(EMPTY, after, _sent(2, 2), V1)
    assert not check.passed
    assert (check.duplicates, check.duplicate_ids) == (1, ["a"])
    assert "1 events were applied more than once on /v1/events" in check.problems
    assert "the ledger applied 3 events but the client delivered 2" in check.problems


def test_event_check_allows_duplicates_on_v2() -> None:
    """On /v2 a resend applies again: duplicates are counted, not a problem."""
    check = check_events(EMPTY, _ledger({"a": 2, "b": 1}), _sent(2, 2), V2)
    assert (check.passed, check.duplicates, check.applied) == (True, 1, 3)
    assert not check.exactly_once


@pytest.mark.parametrize("path", [V1, V2])
def test_event_check_fails_when_a_delivered_event_was_not_applied(path: str) -> None:
    """The client saw more delivered than the ledger applied: an event was lost."""
    check = check_events(EMPTY, _ledger({"a": 1}), _sent(2, 2), path)
    assert not check.passed
    assert check.problems == [
        "the client saw 2 events delivered but the ledger applied only 1"
    ]


def test_event_check_fails_when_the_sender_does_not_account_for_every_event() -> None:
    """delivered + unprocessed + undelivered short of added fails the check."""
    check = check_events(EMPTY, _ledger({"a": 1, "b": 1}), _sent(3, 2), V1)
    assert (check.passed, check.accounted) == (False, False)
    assert check.problems == [
        "the event sender accounted for 2 of the 3 events added (delivered 2"
        " + unprocessed 0 + undelivered 0)"
    ]


def test_event_check_on_v1_lets_undelivered_events_have_been_applied() -> None:
    """An undelivered batch may have been applied once: within the bound, a pass."""
    after = _ledger({"a": 1, "b": 1, "c": 1})
    check = check_events(EMPTY, after, _sent(3, 2, undelivered=1), V1)
    assert (check.passed, check.applied, check.delivered) == (True, 3, 2)


def test_event_check_on_v1_fails_when_more_applied_than_could_have_been() -> None:
    """More applied than delivered + undelivered fails, and so do unknown events."""
    after = _ledger({"a": 1, "b": 1, "c": 1, "d": 1})
    check = check_events(EMPTY, after, _sent(3, 2, undelivered=1), V1)
    assert not check.passed
    assert check.problems == [
        "the ledger applied 4 events but the client delivered 2 + 1 undelivered",
        "the ledger applied 4 distinct events but the client added only 3",
    ]


def test_event_check_fails_when_the_ledger_refused_fewer_than_the_client_saw() -> None:
    """Unprocessed records the client saw must be in the ledger's refusals."""
    after = _ledger({"a": 1}, unprocessed=0)
    check = check_events(EMPTY, after, _sent(2, 1, unprocessed=1), V2)
    assert not check.passed
    assert check.problems == [
        "the client saw 1 events refused as unprocessed but the ledger refused only 0"
    ]


def test_event_check_counts_only_what_the_run_applied() -> None:
    """Events and duplicates already in the ledger before the run are not its own."""
    before = _ledger({"old": 2}, tokens=5)
    after = _ledger({"old": 2, "a": 1}, tokens=6)
    check = check_events(before, after, _sent(1, 1), V1)
    assert check.passed
    assert (check.applied, check.duplicates, check.token_requests) == (1, 0, 1)


def test_ledger_check_fails_with_the_event_problem_when_events_fail() -> None:
    """A failed events part fails the ledger check and lists its problem."""
    check = check_ledger(
        EMPTY, _ledger({"a": 2}), LedgerTally(), events=_sent(1, 1), event_path=V1
    )
    assert (check.passed, check.events.passed) == (False, False)
    assert "1 events were applied more than once on /v1/events" in check.problems


def test_ledger_check_skips_the_events_part_when_no_events_were_sent() -> None:
    """With --events off nothing is checked, and the events part passes."""
    check = check_ledger(
        EMPTY, _ledger({"a": 2}), LedgerTally(), events=EventCounts(), event_path=None
    )
    assert check.passed
    assert (check.events.checked, check.events.passed) == (False, True)


def test_ledger_check_without_a_ledger_does_not_pass_the_events_part() -> None:
    """Events sent but no ledger to read: the events part is unchecked, not passed."""
    check = check_ledger(None, None, LedgerTally(), events=_sent(1, 1), event_path=V1)
    assert (check.events.checked, check.events.passed) == (False, False)


# --- the verdict ---------------------------------------------------------------


def test_undelivered_events_fail_the_calls_when_no_fault_explains_them() -> None:
    """Undelivered events with no fault on the events path: one problem line."""
    found = unexplained_events(_sent(3, 2, undelivered=1), [])
    assert found == [
        "events: 1 events undelivered, not explained by the injected faults"
    ]


@pytest.mark.parametrize(
    ("endpoint", "kind", "explained"),
    [
        ("*", "504_after", True),
        ("events", "reset_after", True),
        ("token", "500", True),
        ("placements", "idle_close", True),
        ("confirm", "504_after", False),
        ("events", "unprocessed", False),
    ],
)
def test_undelivered_events_are_explained_by_faults_on_their_way(
    endpoint: str, kind: str, explained: bool
) -> None:
    """A fault on events, token or every endpoint explains undelivered events."""
    faults = [FaultRate(endpoint, kind, 0.1)]
    assert (unexplained_events(_sent(3, 2, undelivered=1), faults) == []) is explained


def test_refused_events_fail_the_calls_unless_a_fault_slows_the_events() -> None:
    """Events a full queue refused need a fault on the events path to explain."""
    sent = EventCounts(added=1, delivered=1, refused=2)
    assert unexplained_events(sent, [FaultRate("*", "delay", 0.5)]) == []
    assert unexplained_events(sent, []) == [
        "events: 2 events refused by a full sender queue, not explained by the"
        " injected faults"
    ]


def test_unprocessed_events_are_explained_only_by_the_unprocessed_fault() -> None:
    """Unprocessed records need events:unprocessed; a 504 fault explains none."""
    sent = _sent(3, 2, unprocessed=1)
    assert unexplained_events(sent, [FaultRate("events", "unprocessed", 0.2)]) == []
    assert unexplained_events(sent, [FaultRate("*", "504_before", 0.2)]) == [
        "events: 1 events answered as unprocessed records, not explained by the"
        " injected faults"
    ]


# --- the report ------------------------------------------------------------------


def _config(events: str = "oauth") -> RunConfig:
    return run_config(events=events)


def _result(events: EventCounts) -> WorkerResult:
    return WorkerResult(
        wall_seconds=2.0,
        cpu_seconds=0.5,
        rss_after_warmup=40 << 20,
        rss_after_run=40 << 20,
        worst_rss_ratio=1.0,
        flows=FlowCounts(completed=100, confirmed=100),
        events=events,
    )


def _events_report(after: Ledger, sent: EventCounts, path: str = V1) -> str:
    check = check_ledger(EMPTY, after, LedgerTally(), events=sent, event_path=path)
    mode = "oauth" if path == V1 else "basic"
    return to_json(build_report(_config(mode), _result(sent), check)).decode()


def test_report_has_the_events_object_and_events_per_second() -> None:
    """JSON: the sender's counts, events/s over the measured phase, the ledger part."""
    after = _ledger({"a": 1, "b": 1, "c": 1}, batches=2, conflicts=1, tokens=1)
    document = json.loads(_events_report(after, _sent(3, 3)))
    assert document["config"]["events"] == "oauth"
    assert document["config"]["account_id"] == "12345"
    assert document["events"] == {
        "path": "/v1/events",
        "added": 3,
        "refused": 0,
        "delivered": 3,
        "unprocessed": 0,
        "undelivered": 0,
        "failed": 0,
        "batches_sent": 2,
        "measured_delivered": 1,
        "measured_batches": 1,
    }
    assert document["throughput"]["events_per_s"] == 0.5  # 1 over 2.0 s
    part = document["ledger"]["events"]
    assert (part["checked"], part["passed"], part["applied"]) == (True, True, 3)
    assert (part["token_requests"], part["batches"]) == (1, 2)
    assert document["verdict"] == "passed"


def test_summary_shows_events_per_second_batches_tokens_and_the_check() -> None:
    """The summary names events/s, event batches, token requests and the check."""
    after = _ledger({"a": 1, "b": 1, "c": 1}, batches=2, conflicts=1, tokens=1)
    sent = _sent(3, 3)
    check = check_ledger(EMPTY, after, LedgerTally(), events=sent, event_path=V1)
    text = format_summary(build_report(_config(), _result(sent), check))
    for needle in (
        "0.5 events/s delivered",
        "a conversion per confirmed order to /v1/events; whole run, warm-up included",
        "3 added · 3 delivered · 0 unprocessed · 0 undelivered · 2 batches sent",
        "the calls include 1 event batches",
        "events PASS, each applied once (/v1/events): 3 applied = 3 delivered",
        "none lost: 3 delivered + 0 unprocessed + 0 undelivered = 3 added",
        "event batches answered: 2 · resends answered 409: 1 · token requests: 1",
        "verdict      PASS (exit 0)",
    ):
        assert needle in text


def test_report_is_ledger_failed_when_the_event_check_fails() -> None:
    """An event applied twice on /v1: exit 1, FAIL and the problem in the summary."""
    sent = _sent(2, 2)
    check = check_ledger(
        EMPTY, _ledger({"a": 2, "b": 1}), LedgerTally(), events=sent, event_path=V1
    )
    report = build_report(_config(), _result(sent), check)
    assert (report.verdict, report.exit_code, report.passed) == (
        "ledger_failed",
        1,
        False,
    )
    assert "1 events were applied more than once on /v1/events" in report.problems
    text = format_summary(report)
    assert "ledger       FAIL" in text
    assert "events FAIL, each applied once (/v1/events): 3 applied != 2 delivered" in (
        text
    )
    assert "problem: 1 events were applied more than once on /v1/events" in text
    assert "verdict      LEDGER FAILED (exit 1)" in text


def test_report_is_calls_failed_when_events_go_undelivered_without_faults() -> None:
    """Undelivered events and no fault injected: exit 3, and the summary says so."""
    sent = _sent(3, 2, undelivered=1)
    after = _ledger({"a": 1, "b": 1})
    check = check_ledger(EMPTY, after, LedgerTally(), events=sent, event_path=V1)
    report = build_report(_config(), _result(sent), check)
    assert (report.verdict, report.exit_code) == ("calls_failed", 3)
    text = format_summary(report)
    assert "problem: events: 1 events undelivered, not explained" in text
    assert "2 delivered <= 2 applied <= 3 delivered or undelivered" in text


def test_summary_says_no_events_when_they_are_off() -> None:
    """--events off: one line saying none were sent, and no event check line."""
    check = check_ledger(EMPTY, EMPTY, LedgerTally(), events=EventCounts())
    text = format_summary(build_report(_config("off"), _result(EventCounts()), check))
    assert "events       none sent (--events off)" in text
    assert "events PASS" not in text
    assert "event batches" not in text
