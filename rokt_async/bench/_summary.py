"""The end-of-run summary: the report rendered for a reader at a terminal.

Counts are labelled with what they count: the measured phase (warm-up excluded)
for flows, calls, latencies and errors; the whole run, in cart lines, for the
ledger.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._check import LedgerCheck
    from ._report import BenchReport
    from ._stats import FlowCounts, LatencySummary

__all__ = ["format_summary"]


def _n(value: float) -> str:
    return f"{value:,.0f}"


def _counts(counts: dict[str, int]) -> str:
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{name} {_n(n)}" for name, n in ordered) or "none"


def _latency_row(name: str, calls: int, ok: int, errors: int, s: LatencySummary) -> str:
    return (
        f"  {name:<12}{_n(calls):>9}{_n(ok):>9}{_n(errors):>8}"
        f"{s.p50_ms:>9.2f}{s.p95_ms:>9.2f}{s.p99_ms:>9.2f}{s.max_ms:>10.2f}"
    )


def _flows_line(flows: FlowCounts) -> str:
    parts = [
        f"{_n(flows.completed)} measured flows done:",
        f"{_n(flows.confirmed)} confirmed",
    ]
    parts.append(f"· {_n(flows.released)} released")
    parts.append(f"· {_n(flows.no_upsell)} no upsell")
    if flows.partial:
        parts.append(f"· {_n(flows.partial)} partly refused")
    failed = {
        "reserve": flows.failed_reserve,
        "confirm": flows.failed_confirm,
        "release": flows.failed_release,
    }
    detail = ", ".join(f"{k} {_n(v)}" for k, v in failed.items() if v)
    parts.append(f"· {_n(flows.failed)} failed" + (f" ({detail})" if detail else ""))
    if flows.reconciled:
        parts.append(f"· {_n(flows.reconciled)} reconciled by a resend")
    if flows.cancelled:
        parts.append(f"· {_n(flows.cancelled)} cancelled at the time limit")
    return " ".join(parts)


def _ledger_lines(check: LedgerCheck) -> list[str]:
    if not check.checked:
        reason = "; ".join(check.problems) or "no emulator ledger at this URL"
        return [f"ledger       NOT CHECKED: {reason}"]
    verdict = "PASS" if check.passed else "FAIL"
    stock = "stock conserved" if check.stock_conserved else "stock NOT conserved"
    lines = [
        f"ledger       {verdict}: {check.duplicate_confirmations} duplicate"
        f" confirmations · {stock} ({check.items} items,"
        f" {_n(check.held_units)} units still held)",
        "             whole run, warm-up included; cart lines, not flows:",
        f"             confirmed {_n(check.confirmations_acked)} seen by the"
        f" client <= {_n(check.confirmations)} in the ledger <="
        f" {_n(check.confirm_items_sent)} sent · released {_n(check.releases)}"
        f" <= {_n(check.release_items_sent)} sent",
        f"             {_n(check.replays)} resends answered as replays ·"
        f" {_n(check.requests)} API requests · peak {check.peak_connections}"
        " connections",
    ]
    lines.extend(f"             problem: {problem}" for problem in check.problems)
    return lines


def format_summary(report: BenchReport) -> str:
    """The end-of-run summary, readable at a glance; never holds a secret."""
    config = report.config
    processes = "process" if config.processes == 1 else "processes"
    faults = ",".join(config.faults) or "none"
    mix = ",".join(f"{k}={v:g}" for k, v in config.mix.items())
    throughput = report.throughput
    cpu = report.cpu
    memory = report.memory
    client = report.client
    lines = [
        f"rokt-async {report.version} bench against {config.target} {config.base_url}",
        f"  {config.concurrency} concurrent flows · {config.processes} {processes}"
        f" · {config.loop} loop · mix {mix} · faults {faults} · seed {config.seed}",
        f"  measured {report.wall_seconds:.1f} s after {_n(report.warmup_flows)}"
        f" warm-up flows (stopped by: {report.stopped_by}); every count below is",
        "  the measured phase's, warm-up excluded, but the ledger's (the whole run)",
        "",
        f"throughput   {throughput.flows_per_s:,.1f} flows/s ·"
        f" {throughput.requests_per_s:,.1f} requests/s"
        f" ({throughput.calls_per_s:,.1f} client calls/s)",
        f"flows        {_flows_line(report.flows)}",
        "",
        f"  {'latency':<12}{'calls':>9}{'ok':>9}{'errors':>8}"
        f"{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>10}",
    ]
    for name, endpoint in report.endpoints.items():
        lines.append(
            _latency_row(
                name, endpoint.calls, endpoint.ok, endpoint.errors, endpoint.latency
            )
        )
    flow = report.flow_latency
    flows = report.flows
    lines += [
        _latency_row(
            "whole flow", flow.count, flows.completed - flows.failed, flows.failed, flow
        ),
        "",
        f"client       {_n(client.calls)} calls · {_n(client.attempts)} attempts ·"
        f" {_n(client.retries)} retries · {_n(client.budget_refusals)} budget"
        f" refusals · {_n(client.outcomes_unknown)} outcomes unknown",
        f"retries by   {_counts(report.retries_by_cause)}",
    ]
    errors = [f"{name}: {_counts(by)}" for name, by in report.errors.items()]
    lines.append(f"errors       {' · '.join(errors) or 'none'}")
    emulator = (
        ""
        if cpu.emulator_seconds is None
        else f" · emulator used {cpu.emulator_seconds:.1f} s CPU"
    )
    lines += [
        f"client CPU   {cpu.us_per_call:.1f} µs per call ({cpu.us_per_request:.1f} µs"
        f" per HTTP request; {cpu.client_seconds:.2f} s in all){emulator}",
        f"memory       RSS {memory.rss_after_warmup_mib:.1f} MiB after warm-up →"
        f" {memory.rss_after_run_mib:.1f} MiB after the run ({memory.ratio:.3f}x;"
        f" {'flat' if memory.flat else 'GREW'}, target <= {memory.target:.2f}x)",
    ]
    lines += _ledger_lines(report.ledger)
    lines += _verdict_lines(report)
    return "\n".join(lines) + "\n"


def _verdict_lines(report: BenchReport) -> list[str]:
    name = "PASS" if report.passed else report.verdict.replace("_", " ").upper()
    lines = [f"verdict      {name} (exit {report.exit_code})"]
    shown = set(report.ledger.problems)  # already under "ledger"
    lines.extend(
        f"             problem: {problem}"
        for problem in report.problems
        if problem not in shown
    )
    return lines
