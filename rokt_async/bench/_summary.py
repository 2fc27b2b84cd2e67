"""The end-of-run summary: the report rendered for a reader at a terminal.

Counts are labelled with what they count: the measured phase (warm-up excluded)
for flows, calls, latencies, errors and events/s; the whole run, in cart lines,
for the ledger (the ``--outbox`` phase's confirms included), and in events for
the conversion events and their check; the ``--outbox`` phase's own lines count
its confirms, puts and jobs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._check import EventCheck, LedgerCheck
    from ._outbox_report import OutboxReport
    from ._report import BenchReport, EventsReport
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


def _ledger_lines(check: LedgerCheck, outbox: bool = False) -> list[str]:
    if not check.checked:
        reason = "; ".join(check.problems) or "no emulator ledger at this URL"
        return [f"ledger       NOT CHECKED: {reason}"]
    verdict = "PASS" if check.passed else "FAIL"
    stock = "stock conserved" if check.stock_conserved else "stock NOT conserved"
    lines = [
        f"ledger       {verdict}: {check.duplicate_confirmations} duplicate"
        f" confirmations · {stock} ({check.items} items,"
        f" {_n(check.held_units)} units still held)",
        "             whole run, warm-up"
        + (" and the outbox phase" if outbox else "")
        + " included; cart lines, not flows:",
        f"             confirmed {_n(check.confirmations_acked)} seen by the"
        f" client <= {_n(check.confirmations)} in the ledger <="
        f" {_n(check.confirm_items_sent)} sent · released {_n(check.releases)}"
        f" <= {_n(check.release_items_sent)} sent",
        f"             {_n(check.replays)} resends answered as replays ·"
        f" {_n(check.requests)} API requests · peak {check.peak_connections}"
        " connections",
    ]
    lines += _event_check_lines(check.events)
    lines.extend(f"             problem: {problem}" for problem in check.problems)
    return lines


def _event_check_lines(check: EventCheck) -> list[str]:
    if not check.checked:
        return []
    verdict = "PASS" if check.passed else "FAIL"
    if check.exactly_once:
        rule = "each applied once"
        if check.undelivered:
            applied = (
                f"{_n(check.delivered)} delivered <= {_n(check.applied)} applied"
                f" <= {_n(check.delivered + check.undelivered)} delivered or"
                " undelivered"
            )
        else:
            relation = "=" if check.applied == check.delivered else "!="
            applied = (
                f"{_n(check.applied)} applied {relation} {_n(check.delivered)}"
                " delivered"
            )
        twice = f"{_n(check.duplicates)} applied twice"
    else:
        rule = "at least once"
        relation = ">=" if check.applied >= check.delivered else "<"
        applied = (
            f"{_n(check.applied)} applied {relation} {_n(check.delivered)} delivered"
        )
        twice = f"{_n(check.duplicates)} applied twice (allowed)"
    lost = "none lost" if check.accounted else "SOME LOST"
    return [
        f"             events {verdict}, {rule} ({check.path}): {applied} · {twice}",
        f"             {lost}: {_n(check.delivered)} delivered +"
        f" {_n(check.unprocessed)} unprocessed + {_n(check.undelivered)}"
        f" undelivered {'=' if check.accounted else '!='} {_n(check.added)} added",
        f"             event batches answered: {_n(check.batches)} · resends"
        f" answered 409: {_n(check.idempotency_conflicts)} · token requests:"
        f" {_n(check.token_requests)}",
    ]


def _events_lines(events: EventsReport) -> list[str]:
    if events.path is None:
        return ["events       none sent (--events off)"]
    refused = f" · {_n(events.refused)} refused (queue full)" if events.refused else ""
    return [
        f"events       a conversion per confirmed order to {events.path}; whole run,"
        " warm-up included:",
        f"             {_n(events.added)} added · {_n(events.delivered)} delivered ·"
        f" {_n(events.unprocessed)} unprocessed · {_n(events.undelivered)}"
        f" undelivered{refused} · {_n(events.batches_sent)} batches sent",
    ]


def _ms_row(s: LatencySummary) -> str:
    return (
        f"p50 {s.p50_ms:.2f} · p95 {s.p95_ms:.2f} · p99 {s.p99_ms:.2f} ·"
        f" max {s.max_ms:.2f} ms"
    )


def _outbox_lines(outbox: OutboxReport) -> list[str]:
    where = "a temporary file, removed after" if outbox.temporary else outbox.url
    put, direct, drain, jobs = outbox.put, outbox.direct, outbox.drain, outbox.jobs
    if outbox.ratio is None:
        ratio = "drain/direct: no ratio (nothing went through one way)"
    else:
        ratio = f"drain/direct {outbox.ratio:.2f}x"
    if outbox.target_met is not None:
        met = "met" if outbox.target_met else "NOT MET"
        target = f"target >= {outbox.target:.2f}x on SQLite: {met}"
    else:
        target = f"the {outbox.target:.2f}x target is set for SQLite"
    verdict = "PASS" if jobs.settled and jobs.put == put.count else "FAIL"
    refused = [
        f"{_n(n)} {name} confirms had an item refused"
        for name, n in (("direct", direct.refused), ("drained", drain.refused))
        if n
    ]
    errors = [f"{name}: {_counts(by)}" for name, by in outbox.errors.items()]
    lines = [
        f"outbox       {outbox.store} ({where}) · after the flows, same target and"
        f" faults · {outbox.concurrency} in flight ·"
        f" {_n(outbox.reserved)} carts reserved, one line each"
        + (" · CUT SHORT by --max-seconds" if outbox.stopped_by != "done" else ""),
        f"  put        {_n(put.count)} put_confirm: {_ms_row(put.latency)}"
        f" ({put.per_s:,.1f} puts/s)",
        f"  direct     {_n(direct.ok)} of {_n(direct.count)} confirm_cart in"
        f" {direct.seconds:.2f} s: {direct.per_s:,.1f} confirms/s"
        f" ({_n(direct.attempts)} attempts) · {_ms_row(direct.latency)}",
        f"  drain      {_n(drain.count)} done by worker(concurrency="
        f"{outbox.concurrency}) in {drain.seconds:.2f} s: {drain.per_s:,.1f}"
        f" confirms/s ({_n(drain.sends)} sends, {_n(drain.attempts)} attempts)",
        f"  ratio      {ratio} · {target} (reported only: the exit status does"
        " not depend on it)",
        f"  jobs       {verdict}: {_n(jobs.put)} put → {_n(jobs.done)} done ·"
        f" {_n(jobs.failed)} failed · {_n(jobs.unknown)} unknown ·"
        f" {_n(jobs.pending)} pending · {_n(jobs.in_flight)} in flight ·"
        f" {_n(jobs.missing)} missing",
        f"  errors     {' · '.join(errors) or 'none'}"
        + (f" · {', '.join(refused)}" if refused else ""),
    ]
    lines.extend(f"             problem: {problem}" for problem in outbox.problems)
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
        "  the measured phase's, warm-up excluded, but the ledger's and the events'"
        " (the whole run)",
        "",
        f"throughput   {throughput.flows_per_s:,.1f} flows/s ·"
        f" {throughput.requests_per_s:,.1f} requests/s"
        f" ({throughput.calls_per_s:,.1f} client calls/s) ·"
        f" {throughput.events_per_s:,.1f} events/s delivered",
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
    events = report.events
    lines += _events_lines(events)
    included = (
        ""
        if events.path is None
        else f"; the calls include {_n(events.measured_batches)} event batches"
    )
    lines += [
        f"client CPU   {cpu.us_per_call:.1f} µs per call ({cpu.us_per_request:.1f} µs"
        f" per HTTP request; {cpu.client_seconds:.2f} s in all{included}){emulator}",
        f"memory       RSS {memory.rss_after_warmup_mib:.1f} MiB after warm-up →"
        f" {memory.rss_after_run_mib:.1f} MiB after the run ({memory.ratio:.3f}x;"
        f" {'flat' if memory.flat else 'GREW'}, target <= {memory.target:.2f}x)",
    ]
    lines += _ledger_lines(report.ledger, outbox=report.outbox is not None)
    if report.outbox is not None:
        lines += _outbox_lines(report.outbox)
    lines += _verdict_lines(report)
    return "\n".join(lines) + "\n"


def _verdict_lines(report: BenchReport) -> list[str]:
    name = "PASS" if report.passed else report.verdict.replace("_", " ").upper()
    lines = [f"verdict      {name} (exit {report.exit_code})"]
    shown = set(report.ledger.problems)  # already under "ledger" or "outbox"
    if report.outbox is not None:
        shown.update(report.outbox.problems)
    lines.extend(
        f"             problem: {problem}"
        for problem in report.problems
        if problem not in shown
    )
    return lines
