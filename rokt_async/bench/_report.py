"""The bench's results: the JSON document (``rokt-async-bench``, v3) and summary.

``BenchReport`` is the machine-readable result that ``--json PATH`` writes (a run
that could not start writes a ``StartFailure``); the summary printed at the end is
rendered from it (``_summary``), so both always agree. ``docs/bench-json.md``
documents every field.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import msgspec

from .._version import __version__
from ._check import LedgerCheck
from ._events import EVENT_PATHS
from ._outbox_report import OutboxReport, outbox_problems
from ._stats import (
    ENDPOINTS,
    ClientCounters,
    FlowCounts,
    LatencyHistogram,
    LatencySummary,
    cpu_us_per_call,
)
from ._verdict import (
    COULD_NOT_START,
    EXIT_CODES,
    judge,
    unexplained_errors,
    unexplained_events,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ._stats import WorkerResult
    from ._target import FaultRate

__all__ = [
    "RSS_TARGET",
    "SCHEMA",
    "SCHEMA_VERSION",
    "BenchReport",
    "CpuReport",
    "EndpointReport",
    "EventsReport",
    "MemoryReport",
    "RunConfig",
    "StartFailure",
    "Throughput",
    "build_report",
    "to_json",
]

SCHEMA: Final = "rokt-async-bench"
#: Goes up when a field is removed or changes meaning; new fields may appear
#: without it. 2: ``passed`` is the whole verdict, not only the ledger's.
#: 3: conversion events; ``client`` and ``cpu`` count their calls too, and
#: ``ledger.passed`` includes the events part. (``outbox`` and
#: ``config.outbox*`` were added in 3, changing no other field.)
SCHEMA_VERSION: Final = 3
#: RSS after the run may be at most this many times RSS after warm-up.
RSS_TARGET: Final = 1.10
_MIB: Final = 1024.0 * 1024.0


class RunConfig(msgspec.Struct, frozen=True, kw_only=True):
    """What was asked for. Holds no secret: no key or secret is ever part of it."""

    target: str  # "embedded emulator" or "base url"
    base_url: str | None  # None: could not start, with the embedded emulator
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
    events: str  # "oauth", "basic" or "off"
    account_id: str
    outbox: str | None = None  # "sqlite", "postgres"; None: no outbox phase
    outbox_confirms: int | None = None


class Throughput(msgspec.Struct, frozen=True, kw_only=True):
    """Per second of the measured phase: flows, client calls, HTTP attempts and
    conversion events delivered."""

    flows_per_s: float
    calls_per_s: float
    requests_per_s: float
    events_per_s: float


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


class EventsReport(msgspec.Struct, frozen=True, kw_only=True):
    """The conversion events the client's background sender handled.

    Every count covers the whole run, warm-up included, but ``measured_*``.
    ``added == delivered + unprocessed + undelivered`` when nothing was lost.
    """

    path: str | None  # "/v1/events", "/v2/events"; None with --events off
    added: int
    refused: int  # sender.add refused them (a full queue): never sent
    delivered: int
    unprocessed: int
    undelivered: int
    failed: int  # the part of undelivered whose batch ended in an error
    batches_sent: int
    measured_delivered: int
    measured_batches: int


class BenchReport(msgspec.Struct, frozen=True, kw_only=True):
    """Everything one ``rokt-async bench`` run measured.

    Attributes:
        schema: ``rokt-async-bench``: what this document is.
        schema_version: ``SCHEMA_VERSION``; a new number means fields changed.
        version: the rokt-async version that ran.
        passed: the verdict is ``passed`` (the exit status is 0 exactly then).
        exit_code: the bench's exit status.
        verdict: ``passed``, ``ledger_failed``, ``calls_failed`` or
            ``ledger_unchecked`` (``StartFailure`` has ``could_not_start``).
        problems: one sentence per reason the run did not pass.
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
        unexplained_errors: the part of ``errors`` no injected fault explains.
        cpu: client CPU per call and per HTTP request.
        memory: client RSS after warm-up and after the run.
        ledger: the emulator's ledger check, its events part included.
        events: the conversion events the client sent.
        outbox: the ``--outbox`` phase (None without ``--outbox``).
    """

    schema: str
    schema_version: int
    version: str
    passed: bool
    exit_code: int
    verdict: str
    problems: list[str]
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
    unexplained_errors: dict[str, dict[str, int]]
    cpu: CpuReport
    memory: MemoryReport
    ledger: LedgerCheck
    events: EventsReport
    outbox: OutboxReport | None


class StartFailure(msgspec.Struct, frozen=True, kw_only=True):
    """What ``--json`` holds when the run could not start: no measurements.

    The first seven fields are ``BenchReport``'s; ``verdict`` is
    ``could_not_start`` and ``problems`` says why.
    """

    schema: str = SCHEMA
    schema_version: int = SCHEMA_VERSION
    version: str = __version__
    passed: bool = False
    exit_code: int = EXIT_CODES[COULD_NOT_START]
    verdict: str = COULD_NOT_START
    problems: list[str]
    config: RunConfig


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
    faults: Sequence[FaultRate] = (),
    emulator_cpu: float | None = None,
    outbox: OutboxReport | None = None,
) -> BenchReport:
    """Turn the merged measurements and the ledger check into the report.

    Args:
        config: what was asked for.
        result: what the client processes measured, merged.
        ledger: the ledger check.
        faults: the faults the bench injected, which explain some errors.
        emulator_cpu: CPU seconds the embedded emulator used, when known.
        outbox: the ``--outbox`` phase, when it ran.
    """
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
    unexplained = unexplained_errors(result.errors, faults)
    events = result.events
    outbox_lost: list[str] = []
    outbox_calls: list[str] = []
    if outbox is not None:
        outbox_lost, outbox_calls = outbox_problems(
            puts=outbox.put.count,
            jobs=outbox.jobs,
            direct=outbox.direct,
            drain=outbox.drain,
            stopped_by=outbox.stopped_by,
            unexplained=outbox.unexplained_errors,
        )
    verdict = judge(
        ledger,
        unexplained,
        result.flows.completed,
        unexplained_events(events, faults),
        outbox_lost=outbox_lost,
        outbox_calls=outbox_calls,
    )
    return BenchReport(
        schema=SCHEMA,
        schema_version=SCHEMA_VERSION,
        version=__version__,
        passed=verdict.exit_code == 0,
        exit_code=verdict.exit_code,
        verdict=verdict.name,
        problems=verdict.problems,
        config=config,
        stopped_by=result.stopped_by,
        wall_seconds=round(wall, 3),
        warmup_flows=result.warmup_flows,
        flows=result.flows,
        throughput=Throughput(
            flows_per_s=round(result.flows.completed * per_s, 1),
            calls_per_s=round(client.calls * per_s, 1),
            requests_per_s=round(client.attempts * per_s, 1),
            events_per_s=round(events.measured_delivered * per_s, 1),
        ),
        endpoints=endpoints,
        flow_latency=_histogram(result, "flow").summary(),
        client=client,
        retries_by_cause=dict(sorted(result.retries_by_cause.items())),
        errors={k: dict(sorted(v.items())) for k, v in sorted(result.errors.items())},
        unexplained_errors=unexplained,
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
        events=EventsReport(
            path=EVENT_PATHS.get(config.events),
            added=events.added,
            refused=events.refused,
            delivered=events.delivered,
            unprocessed=events.unprocessed,
            undelivered=events.undelivered,
            failed=events.failed,
            batches_sent=events.batches_sent,
            measured_delivered=events.measured_delivered,
            measured_batches=events.measured_batches,
        ),
        outbox=outbox,
    )


def to_json(report: BenchReport | StartFailure) -> bytes:
    """The report as indented JSON, ending in a newline."""
    return msgspec.json.format(msgspec.json.encode(report), indent=2) + b"\n"
