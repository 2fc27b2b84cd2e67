"""The bench's results: the JSON document (schema ``rokt-async-bench/1``) and summary.

``BenchReport`` is the machine-readable result that ``--json PATH`` writes; the
summary printed at the end is rendered from it, so both always agree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import msgspec

from .._version import __version__
from ._check import LedgerCheck
from ._stats import (
    ENDPOINTS,
    ClientCounters,
    FlowCounts,
    LatencyHistogram,
    LatencySummary,
    cpu_us_per_call,
)

if TYPE_CHECKING:
    from ._stats import WorkerResult

__all__ = [
    "RSS_TARGET",
    "SCHEMA",
    "BenchReport",
    "CpuReport",
    "EndpointReport",
    "MemoryReport",
    "RunConfig",
    "Throughput",
    "build_report",
    "format_summary",
    "to_json",
]

SCHEMA: Final = "rokt-async-bench/1"
#: RSS after the run may be at most this many times RSS after warm-up.
RSS_TARGET: Final = 1.10
_MIB: Final = 1024.0 * 1024.0


class RunConfig(msgspec.Struct, frozen=True, kw_only=True):
    """What was asked for. Holds no secret: the API key is never part of it."""

    target: str  # "embedded emulator" or "base url"
    base_url: str
    flows: int | None
    duration: float | None
    time_limit: float
    warmup: int
    warmup_seconds: float
    concurrency: int
    processes: int
    mix: dict[str, float]
    faults: list[str]
    loop: str  # "asyncio" or "uvloop"
    seed: int


class Throughput(msgspec.Struct, frozen=True, kw_only=True):
    """Per second of the measured phase: flows, client calls, HTTP attempts."""

    flows_per_s: float
    calls_per_s: float
    requests_per_s: float


class EndpointReport(msgspec.Struct, frozen=True, kw_only=True):
    """One endpoint's calls (retries included in each call's latency)."""

    calls: int
    ok: int
    errors: int
    latency: LatencySummary


class CpuReport(msgspec.Struct, frozen=True, kw_only=True):
    """Client CPU over the measured phase (every client process added up)."""

    client_seconds: float
    us_per_call: float
    us_per_request: float
    emulator_seconds: float | None


class MemoryReport(msgspec.Struct, frozen=True, kw_only=True):
    """Client RSS after warm-up and after the run (added over processes)."""

    rss_after_warmup_mib: float
    rss_after_run_mib: float
    ratio: float  # the worst process's after-run / after-warm-up
    target: float
    flat: bool


class BenchReport(msgspec.Struct, frozen=True, kw_only=True):
    """Everything one ``rokt-async bench`` run measured.

    Attributes:
        schema: ``rokt-async-bench/1``; a new number means fields changed meaning.
        version: the rokt-async version that ran.
        passed: the ledger check passed (the exit status is 0 exactly then).
        config: what was asked for.
        stopped_by: ``flows``, ``duration`` or ``time_limit``.
        wall_seconds: length of the measured phase.
        warmup_flows: flows run before measuring (not in the numbers below).
        flows: how the measured flows ended.
        throughput: flows, calls and HTTP requests per second.
        endpoints: per endpoint: calls, ok, errors, latency percentiles.
        flow_latency: end-to-end latency of whole flows.
        client: deltas of ``RoktClient.stats`` over the measured phase.
        retries_by_cause: retries by the error class that caused them.
        errors: errors by endpoint, then by exception class.
        cpu: client CPU per call and per HTTP request.
        memory: client RSS after warm-up and after the run.
        ledger: the emulator's ledger check.
    """

    schema: str
    version: str
    passed: bool
    config: RunConfig
    stopped_by: str
    wall_seconds: float
    warmup_flows: int
    flows: FlowCounts
    throughput: Throughput
    endpoints: dict[str, EndpointReport]
    flow_latency: LatencySummary
    client: ClientCounters
    retries_by_cause: dict[str, int]
    errors: dict[str, dict[str, int]]
    cpu: CpuReport
    memory: MemoryReport
    ledger: LedgerCheck


def _histogram(result: WorkerResult, name: str) -> LatencyHistogram:
    sparse = result.latency.get(name)
    if sparse is None:
        return LatencyHistogram()
    return LatencyHistogram.from_sparse(sparse)


def build_report(
    config: RunConfig,
    result: WorkerResult,
    ledger: LedgerCheck,
    *,
    emulator_cpu: float | None = None,
) -> BenchReport:
    """Turn the merged measurements and the ledger check into the report."""
    wall = result.wall_seconds
    per_s = 1.0 / wall if wall > 0 else 0.0
    endpoints = {}
    for name in ENDPOINTS:
        histogram = _histogram(result, name)
        errors = sum(result.errors.get(name, {}).values())
        if histogram.count or errors:
            endpoints[name] = EndpointReport(
                calls=histogram.count,
                ok=result.calls_ok.get(name, 0),
                errors=errors,
                latency=histogram.summary(),
            )
    client = result.client
    ratio = round(result.worst_rss_ratio, 3)
    return BenchReport(
        schema=SCHEMA,
        version=__version__,
        passed=ledger.passed,
        config=config,
        stopped_by=result.stopped_by,
        wall_seconds=round(wall, 3),
        warmup_flows=result.warmup_flows,
        flows=result.flows,
        throughput=Throughput(
            flows_per_s=round(result.flows.completed * per_s, 1),
            calls_per_s=round(client.calls * per_s, 1),
            requests_per_s=round(client.attempts * per_s, 1),
        ),
        endpoints=endpoints,
        flow_latency=_histogram(result, "flow").summary(),
        client=client,
        retries_by_cause=dict(sorted(result.retries_by_cause.items())),
        errors={k: dict(sorted(v.items())) for k, v in sorted(result.errors.items())},
        cpu=CpuReport(
            client_seconds=round(result.cpu_seconds, 3),
            us_per_call=cpu_us_per_call(result.cpu_seconds, client.calls),
            us_per_request=cpu_us_per_call(result.cpu_seconds, client.attempts),
            emulator_seconds=None if emulator_cpu is None else round(emulator_cpu, 2),
        ),
        memory=MemoryReport(
            rss_after_warmup_mib=round(result.rss_after_warmup / _MIB, 1),
            rss_after_run_mib=round(result.rss_after_run / _MIB, 1),
            ratio=ratio,
            target=RSS_TARGET,
            flat=ratio <= RSS_TARGET,
        ),
        ledger=ledger,
    )


def to_json(report: BenchReport) -> bytes:
    """The report as indented JSON, ending in a newline."""
    return msgspec.json.format(msgspec.json.encode(report), indent=2) + b"\n"


# --- the summary ------------------------------------------------------------------


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
    parts = [f"{_n(flows.completed)} done:", f"{_n(flows.confirmed)} confirmed"]
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
        verdict = "FAIL" if not check.passed else "not checked"
        reason = "; ".join(check.problems) or "no emulator ledger at this URL"
        return [f"ledger       {verdict}: {reason}"]
    verdict = "PASS" if check.passed else "FAIL"
    stock = "stock conserved" if check.stock_conserved else "stock NOT conserved"
    lines = [
        f"ledger       {verdict}: {check.duplicate_confirmations} duplicate"
        f" confirmations · {stock} ({check.items} items,"
        f" {_n(check.held_units)} units still held)",
        f"             confirmations: {_n(check.confirmations_acked)} seen by the"
        f" client <= {_n(check.confirmations)} in the ledger <="
        f" {_n(check.confirm_items_sent)} sent · releases {_n(check.releases)}"
        f" <= {_n(check.release_items_sent)} sent",
        f"             {_n(check.replays)} resends answered as replays ·"
        f" {_n(check.requests)} requests · peak {check.peak_connections}"
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
        f" warm-up flows (stopped by: {report.stopped_by})",
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
    return "\n".join(lines) + "\n"
