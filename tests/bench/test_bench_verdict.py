"""The verdict: which errors the injected faults explain, and which exit status wins."""

from __future__ import annotations

from pathlib import Path

from rokt_async.bench._check import LedgerCheck
from rokt_async.bench._cli import build_parser
from rokt_async.bench._report import SCHEMA, SCHEMA_VERSION
from rokt_async.bench._target import FaultRate
from rokt_async.bench._verdict import (
    EXIT_MEANINGS,
    FAULT_ERRORS,
    judge,
    unexplained_errors,
)
from rokt_async.emulator import FAULT_KINDS

DOCS = Path(__file__).resolve().parents[2] / "docs" / "bench-json.md"

_PASSED_LEDGER = LedgerCheck(checked=True, passed=True, stock_conserved=True)


def test_unexplained_errors_hold_every_error_when_no_fault_was_injected() -> None:
    """Without --faults, every error the client saw is unexplained."""
    errors = {"placements": {"ConnectError": 10}, "confirm": {"ServerError": 2}}
    assert unexplained_errors(errors, ()) == errors


def test_unexplained_errors_keep_errors_the_faults_cannot_cause_on_that_endpoint() -> (
    None
):
    """A confirm fault explains confirm's 5xx and unknown outcomes, nothing else."""
    faults = [FaultRate("confirm", "504_after", 0.1)]
    errors = {
        "confirm": {
            "GatewayTimeoutError": 3,
            "OutcomeUnknownError": 2,
            "ConnectError": 1,
        },
        "reserve": {"OutcomeUnknownError": 4},
    }
    assert unexplained_errors(errors, faults) == {
        "confirm": {"ConnectError": 1},
        "reserve": {"OutcomeUnknownError": 4},
    }


def test_unexplained_errors_ignore_faults_when_their_rate_is_zero() -> None:
    """A fault given with rate 0 injects nothing, so it explains nothing."""
    errors = {"reserve": {"ServerError": 1}}
    assert unexplained_errors(errors, [FaultRate("*", "500", 0.0)]) == errors


def test_unexplained_errors_spread_idle_close_to_every_endpoint() -> None:
    """idle_close on one endpoint explains lost connections on any endpoint."""
    faults = [FaultRate("placements", "idle_close", 0.3)]
    errors = {"reserve": {"OutcomeUnknownError": 5, "AuthenticationError": 1}}
    assert unexplained_errors(errors, faults) == {"reserve": {"AuthenticationError": 1}}


def test_fault_errors_name_every_fault_kind_when_the_emulator_has_them() -> None:
    """Each fault kind the emulator can inject has the errors it can surface as."""
    assert set(FAULT_ERRORS) == FAULT_KINDS


def test_verdict_is_ledger_failed_when_calls_also_failed() -> None:
    """A ledger problem outranks failed calls: exit 1, both problems listed."""
    ledger = LedgerCheck(checked=True, passed=False, problems=["bought twice"])
    verdict = judge(ledger, {"confirm": {"ConnectError": 1}}, completed=10)
    assert (verdict.name, verdict.exit_code) == ("ledger_failed", 1)
    assert verdict.problems[0] == "bought twice"
    assert "confirm: ConnectError x1" in verdict.problems[1]


def test_verdict_is_calls_failed_when_no_measured_flow_completed() -> None:
    """A run whose measured phase ended no flow fails with exit 3."""
    verdict = judge(_PASSED_LEDGER, {}, completed=0)
    assert (verdict.name, verdict.exit_code) == ("calls_failed", 3)


def test_verdict_is_ledger_unchecked_when_the_calls_passed_without_a_ledger() -> None:
    """Clean calls but no ledger to read: exit 5, never a pass."""
    ledger = LedgerCheck(checked=False, passed=False, problems=["no ledger here"])
    verdict = judge(ledger, {}, completed=10)
    assert (verdict.name, verdict.exit_code) == ("ledger_unchecked", 5)
    assert verdict.problems == ["no ledger here"]


def test_verdict_is_passed_when_the_ledger_passed_and_every_error_is_explained() -> (
    None
):
    """A passed ledger and no unexplained error: exit 0, no problem."""
    verdict = judge(_PASSED_LEDGER, {}, completed=10)
    assert (verdict.name, verdict.exit_code, verdict.problems) == ("passed", 0, [])


def test_bench_help_lists_every_exit_status_when_asked() -> None:
    """``rokt-async bench --help`` ends with every exit status and its verdict."""
    text = build_parser().format_help()
    for code, meaning in EXIT_MEANINGS:
        name = meaning.split(":")[0]
        assert f"  {code:<5}{name}" in text


def test_json_docs_describe_every_verdict_and_the_schema_version() -> None:
    """docs/bench-json.md names the schema, its version and every exit status."""
    text = DOCS.read_text(encoding="utf-8")
    assert f'"schema": "{SCHEMA}", "schema_version": {SCHEMA_VERSION}' in text
    for code, meaning in EXIT_MEANINGS:
        name = meaning.split(":")[0]
        assert f"| {code:<4} |" in text
        if name.islower() and " " not in name:
            assert f"`{name}`" in text
