"""The ledger check, the JSON report's schema, the summary and redaction."""

from __future__ import annotations

import json

import msgspec
import pytest

from rokt_async.bench._check import check_ledger
from rokt_async.bench._report import (
    SCHEMA,
    SCHEMA_VERSION,
    BenchReport,
    build_report,
    to_json,
)
from rokt_async.bench._stats import (
    ClientCounters,
    FlowCounts,
    LatencyHistogram,
    LedgerTally,
    WorkerResult,
)
from rokt_async.bench._summary import format_summary
from rokt_async.bench._target import FaultRate, redact
from rokt_async.emulator import Ledger, StockLine
from tests.bench._configs import run_config

_CONSERVED = {"parking": StockLine(initial=10, available=7, held=1, confirmed=2)}

#: Every top-level field of schema rokt-async-bench version 3, in order.
TOP_LEVEL = [
    "schema",
    "schema_version",
    "version",
    "passed",
    "exit_code",
    "verdict",
    "problems",
    "config",
    "stopped_by",
    "wall_seconds",
    "warmup_flows",
    "flows",
    "throughput",
    "endpoints",
    "flow_latency",
    "client",
    "retries_by_cause",
    "errors",
    "unexplained_errors",
    "cpu",
    "memory",
    "ledger",
    "events",
    "outbox",  # null without --outbox
]


def _ledger(
    effects: dict[str, int],
    stock: dict[str, StockLine] | None = None,
    replays: dict[str, int] | None = None,
) -> Ledger:
    return Ledger.build(
        effects=effects,
        replays=replays or {},
        stock=_CONSERVED if stock is None else stock,
        peak_connections=64,
        requests=sum(effects.values()),
    )


def _tally(sent: int, acked: int, released: int = 0) -> LedgerTally:
    return LedgerTally(
        confirm_items_sent=sent,
        confirm_items_acked=acked,
        release_items_sent=released,
        release_items_acked=released,
    )


def test_ledger_check_passes_when_effects_match_the_client() -> None:
    """Each line confirmed once, stock conserved, counts within bounds: pass."""
    after = _ledger(
        {"confirm c1/parking": 1, "confirm c2/parking": 1, "release r3": 1},
        replays={"confirm c1/parking": 2},
    )
    check = check_ledger(_ledger({}), after, _tally(3, 2, 1))
    assert check.passed
    assert check.problems == []
    assert (check.confirmations, check.releases, check.replays) == (2, 1, 2)
    assert check.held_units == 1


def test_ledger_check_fails_on_a_duplicate_confirmation() -> None:
    """A cart line bought twice during the run fails the check."""
    after = _ledger({"confirm c1/parking": 2})
    check = check_ledger(_ledger({}), after, _tally(2, 1))
    assert not check.passed
    assert check.duplicate_confirmations == 1
    assert check.duplicate_keys == ["confirm c1/parking"]


def test_ledger_check_ignores_duplicates_from_before_the_run() -> None:
    """A double buy already in the ledger before the run is not this run's."""
    before = _ledger({"confirm old/parking": 2})
    after = _ledger({"confirm old/parking": 2, "confirm c1/parking": 1})
    check = check_ledger(before, after, _tally(1, 1))
    assert check.passed
    assert check.confirmations == 1


def test_ledger_check_fails_when_stock_is_not_conserved() -> None:
    """Units that vanished from an item's stock fail the check."""
    broken = {"parking": StockLine(initial=10, available=5, held=1, confirmed=2)}
    after = _ledger({"confirm c1/parking": 1}, stock=broken)
    check = check_ledger(_ledger({}), after, _tally(1, 1))
    assert not check.passed
    assert not check.stock_conserved
    assert "parking" in check.problems[0]


def test_ledger_check_fails_when_the_client_saw_more_than_took_effect() -> None:
    """Confirmations acknowledged to the client but missing from the ledger fail."""
    after = _ledger({"confirm c1/parking": 1})
    check = check_ledger(_ledger({}), after, _tally(3, 2))
    assert not check.passed


def test_ledger_check_fails_when_more_took_effect_than_was_sent() -> None:
    """More confirmations or releases in the ledger than the client sent fail."""
    after = _ledger({"confirm c1/parking": 1, "release r1": 1, "release r2": 1})
    check = check_ledger(_ledger({}), after, _tally(0, 0, 1))
    assert not check.passed
    assert len(check.problems) == 2


def test_ledger_check_never_passes_when_the_ledger_is_missing() -> None:
    """A ledger not read before or after the run is unchecked, not passed."""
    check = check_ledger(None, _ledger({}), _tally(0, 0), unreadable="no admin API")
    assert (check.checked, check.passed) == (False, False)
    assert check.problems == ["no admin API"]


def _report(
    passed: bool = True,
    faults: tuple[FaultRate, ...] = (FaultRate("*", "504_before", 0.02),),
) -> BenchReport:
    latency = LatencyHistogram()
    for ms in range(1, 101):
        latency.record(ms / 1000.0)
    result = WorkerResult(
        wall_seconds=2.0,
        cpu_seconds=0.5,
        rss_after_warmup=40 << 20,
        rss_after_run=41 << 20,
        worst_rss_ratio=41 / 40,
        flows=FlowCounts(completed=100, confirmed=80, released=20),
        client=ClientCounters(calls=300, attempts=310, retries=10),
        latency={name: latency.to_sparse() for name in ("reserve", "flow")},
        calls_ok={"reserve": 100},
        errors={"confirm": {"OutcomeUnknownError": 1}},
        retries_by_cause={"GatewayTimeoutError": 10},
    )
    config = run_config(
        concurrency=64,
        mix={"confirm": 0.8, "release": 0.2},
        faults=["504_before=0.02"],
        events="off",
    )
    after = _ledger({"confirm c1/parking": 1 if passed else 2})
    check = check_ledger(_ledger({}), after, _tally(2, 1))
    return build_report(config, result, check, faults=faults, emulator_cpu=1.5)


def test_report_json_has_schema_three_fields_and_round_trips() -> None:
    """The JSON holds every schema-3 field, in order, and decodes back strictly."""
    data = to_json(_report())
    document = json.loads(data)
    assert list(document) == TOP_LEVEL
    assert (document["schema"], document["schema_version"]) == (SCHEMA, SCHEMA_VERSION)
    assert (document["passed"], document["exit_code"]) == (True, 0)
    assert document["throughput"] == {
        "flows_per_s": 50.0,
        "calls_per_s": 150.0,
        "requests_per_s": 155.0,
        "events_per_s": 0.0,
    }
    assert document["cpu"]["us_per_call"] == round(0.5e6 / 300, 2)
    latency = document["endpoints"]["reserve"]["latency"]  # 1, 2 ... 100 ms
    assert (latency["count"], latency["mean_ms"], latency["max_ms"]) == (
        100,
        50.5,
        100.0,
    )
    assert latency["p50_ms"] == pytest.approx(50.0, rel=0.01)  # 1% buckets
    assert latency["p99_ms"] == pytest.approx(99.0, rel=0.01)
    assert msgspec.json.decode(data, type=BenchReport) == _report()


def test_report_json_schema_requires_every_field() -> None:
    """msgspec's JSON Schema for the report lists every top-level field required."""
    schema = msgspec.json.schema(BenchReport)
    definition = schema["$defs"]["BenchReport"]
    assert sorted(definition["required"]) == sorted(TOP_LEVEL)


def test_summary_shows_throughput_latency_cpu_memory_and_ledger() -> None:
    """The summary names each headline number a reader looks for."""
    text = format_summary(_report())
    for needle in (
        "flows/s",
        "requests/s",
        "p50 ms",
        "p99 ms",
        "reserve",
        "whole flow",
        "retries",
        "budget refusals",
        "outcomes unknown",
        "OutcomeUnknownError 1",
        "µs per call",
        "RSS 40.0 MiB after warm-up",
        "ledger       PASS: 0 duplicate confirmations",
        "stock conserved",
        "verdict      PASS (exit 0)",
    ):
        assert needle in text


def test_summary_labels_what_each_count_counts() -> None:
    """Flows are the measured phase's; the ledger's counts are cart lines, whole run."""
    text = format_summary(_report())
    assert "the measured phase's, warm-up excluded" in text
    assert "100 measured flows done" in text
    assert "whole run, warm-up included; cart lines, not flows" in text
    assert "API requests" in text


def test_summary_says_calls_failed_when_no_fault_explains_the_errors() -> None:
    """Errors with no fault injected fail the run, and the summary says which."""
    report = _report(faults=())
    assert (report.passed, report.verdict, report.exit_code) == (
        False,
        "calls_failed",
        3,
    )
    text = format_summary(report)
    assert "verdict      CALLS FAILED (exit 3)" in text
    assert "problem: confirm: OutcomeUnknownError x1 not explained" in text


def test_summary_says_fail_when_the_ledger_check_fails() -> None:
    """A failed ledger check is printed as FAIL with its problem."""
    report = _report(passed=False)
    assert not report.passed
    text = format_summary(report)
    assert "ledger       FAIL: 1 duplicate confirmations" in text
    assert "problem:" in text
    assert "verdict      LEDGER FAILED (exit 1)" in text
    assert report.exit_code == 1


def test_redact_masks_secret_values_and_api_key_headers() -> None:
    """Known secrets and any rokt-api-key header value are replaced by ***."""
    text = "key k-123 sent as rokt-api-key: other-secret and {'rokt-api-key': 'x9'}"
    masked = redact(text, ["k-123"])
    assert "k-123" not in masked
    assert "other-secret" not in masked
    assert "x9" not in masked
    assert masked.count("***") == 3


def test_redact_masks_basic_and_bearer_authorization_values() -> None:
    """An Authorization header's Basic or Bearer credential is replaced by ***."""
    text = (
        "Authorization: Basic dGVzdDpzZWNyZXQ= then"
        " {'Authorization': 'Bearer tok-123abc'} and authorization=bearer x.y.z"
    )
    masked = redact(text, [])
    for secret in ("dGVzdDpzZWNyZXQ=", "tok-123abc", "x.y.z"):
        assert secret not in masked
    assert masked.count("***") == 3
    assert "Basic ***" in masked
