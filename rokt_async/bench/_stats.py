"""Bench statistics: latency histograms, percentiles, CPU and RSS readings, merging.

Latencies go into a log-bucketed histogram (each bucket 1% wider than the one
before), so recording costs one ``math.log``, memory stays constant however long
the run, and histograms from several processes merge by adding counts. A
percentile read from it is within 0.5% of the exact nearest-rank value.
"""

from __future__ import annotations

import math
import os
import resource
import sys
import time
from typing import TYPE_CHECKING, Final

import msgspec

from ._events import EventCounts

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

__all__ = [
    "ENDPOINTS",
    "ClientCounters",
    "FlowCounts",
    "LatencyHistogram",
    "LatencySummary",
    "LedgerTally",
    "SparseHistogram",
    "WorkerResult",
    "cpu_seconds",
    "cpu_us_per_call",
    "merge_results",
    "percentile",
    "process_cpu_seconds",
    "rss_bytes",
]

#: Endpoints the checkout flows call, in the order a flow calls them.
ENDPOINTS: Final = ("placements", "reserve", "confirm", "release")

_LOWEST: Final = 1e-6  # seconds: everything faster lands in bucket 0
_GROWTH: Final = 1.01  # each bucket is 1% wider than the one before
_LOG_GROWTH: Final = math.log(_GROWTH)
_BUCKETS: Final = math.ceil(math.log(1_000.0 / _LOWEST) / _LOG_GROWTH) + 1


def percentile(ordered: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile of an already sorted sequence.

    Args:
        ordered: values sorted ascending; not empty.
        q: percentile in [0, 100]; 0 gives the minimum, 100 the maximum.

    Raises:
        ValueError: ``ordered`` is empty or ``q`` is outside [0, 100].
    """
    if not ordered:
        raise ValueError("percentile of no values")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile {q} is outside [0, 100]")
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[rank - 1]


class LatencySummary(msgspec.Struct, frozen=True, kw_only=True):
    """Percentiles of one latency distribution, in milliseconds."""

    count: int
    mean_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


class LatencyHistogram:
    """Latencies in seconds, log-bucketed: constant memory, mergeable.

    Percentiles use the nearest rank and answer the geometric middle of the bucket
    holding that rank, clamped to the exact minimum and maximum seen.
    """

    __slots__ = ("count", "counts", "maximum", "minimum", "total")

    def __init__(self) -> None:
        self.counts = [0] * _BUCKETS
        self.count = 0
        self.total = 0.0
        self.minimum = math.inf
        self.maximum = 0.0

    def record(self, seconds: float) -> None:
        """Add one latency (seconds; negative values count as 0)."""
        if seconds > _LOWEST:
            index = min(int(math.log(seconds / _LOWEST) / _LOG_GROWTH), _BUCKETS - 1)
        else:
            index = 0
            seconds = max(seconds, 0.0)
        self.counts[index] += 1
        self.count += 1
        self.total += seconds
        if seconds < self.minimum:
            self.minimum = seconds
        if seconds > self.maximum:
            self.maximum = seconds

    def merge(self, other: LatencyHistogram) -> None:
        """Add every latency ``other`` recorded to this histogram."""
        counts = self.counts
        for index, n in enumerate(other.counts):
            if n:
                counts[index] += n
        self.count += other.count
        self.total += other.total
        self.minimum = min(self.minimum, other.minimum)
        self.maximum = max(self.maximum, other.maximum)

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile in seconds (0.0 when nothing was recorded).

        Raises:
            ValueError: ``q`` is outside [0, 100].
        """
        if not 0.0 <= q <= 100.0:
            raise ValueError(f"percentile {q} is outside [0, 100]")
        if self.count == 0:
            return 0.0
        if q >= 100.0:
            return self.maximum
        rank = max(1, math.ceil(q / 100.0 * self.count))
        seen = 0
        for index, n in enumerate(self.counts):
            seen += n
            if seen >= rank:
                middle = _LOWEST * _GROWTH ** (index + 0.5) if index else _LOWEST
                return min(max(middle, self.minimum), self.maximum)
        return self.maximum  # pragma: no cover - counts always add up to count

    def summary(self) -> LatencySummary:
        """Count, mean, p50, p95, p99 and max in milliseconds."""
        mean = self.total / self.count if self.count else 0.0
        return LatencySummary(
            count=self.count,
            mean_ms=_ms(mean),
            p50_ms=_ms(self.percentile(50)),
            p95_ms=_ms(self.percentile(95)),
            p99_ms=_ms(self.percentile(99)),
            max_ms=_ms(self.maximum),
        )

    def to_sparse(self) -> SparseHistogram:
        """A compact, serialisable copy (only the buckets that hold something)."""
        return SparseHistogram(
            buckets=[(i, n) for i, n in enumerate(self.counts) if n],
            count=self.count,
            total=self.total,
            minimum=self.minimum if self.count else 0.0,
            maximum=self.maximum,
        )

    @classmethod
    def from_sparse(cls, sparse: SparseHistogram) -> LatencyHistogram:
        """Rebuild a histogram from ``to_sparse``'s output."""
        histogram = cls()
        for index, n in sparse.buckets:
            histogram.counts[index] += n
        histogram.count = sparse.count
        histogram.total = sparse.total
        histogram.minimum = sparse.minimum if sparse.count else math.inf
        histogram.maximum = sparse.maximum
        return histogram


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)


class SparseHistogram(msgspec.Struct, kw_only=True):
    """A ``LatencyHistogram`` on the wire between processes."""

    buckets: list[tuple[int, int]]
    count: int
    total: float
    minimum: float
    maximum: float


# --- what one client process measured -------------------------------------------


class ClientCounters(msgspec.Struct, kw_only=True):
    """Deltas of ``RoktClient.stats`` over the measured phase."""

    calls: int = 0
    attempts: int = 0
    retries: int = 0
    budget_refusals: int = 0
    outcomes_unknown: int = 0
    hedges: int = 0

    def add(self, other: ClientCounters) -> None:
        """Add ``other``'s counts to these."""
        for name in self.__struct_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


class FlowCounts(msgspec.Struct, kw_only=True):
    """How the measured flows ended.

    Attributes:
        completed: flows that ran to an end (every field below but ``reconciled``
            and ``cancelled`` adds up to it).
        confirmed: reserve then confirm, every item confirmed.
        released: reserve then release, every item released.
        no_upsell: placements/any said false or failed, so the flow stopped there.
        partial: a confirm or release answered 200 with some items failed.
        failed_reserve: the reserve call failed.
        failed_confirm: the confirm call failed, after one reconciling resend if
            its outcome was unknown.
        failed_release: the same for release.
        reconciled: outcomes unknown that one resend of the same request settled.
        cancelled: flows still running when the time limit cancelled them.
    """

    completed: int = 0
    confirmed: int = 0
    released: int = 0
    no_upsell: int = 0
    partial: int = 0
    failed_reserve: int = 0
    failed_confirm: int = 0
    failed_release: int = 0
    reconciled: int = 0
    cancelled: int = 0

    def add(self, other: FlowCounts) -> None:
        """Add ``other``'s counts to these."""
        for name in self.__struct_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def failed(self) -> int:
        """Flows that ended on an error."""
        return self.failed_reserve + self.failed_confirm + self.failed_release


class LedgerTally(msgspec.Struct, kw_only=True):
    """Cart lines the client sent and saw acknowledged, over the whole run.

    Warm-up included: the emulator's ledger counts every effect, so the check
    against it needs every request.
    """

    confirm_items_sent: int = 0
    confirm_items_acked: int = 0
    release_items_sent: int = 0
    release_items_acked: int = 0

    def add(self, other: LedgerTally) -> None:
        """Add ``other``'s counts to these."""
        for name in self.__struct_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


class WorkerResult(msgspec.Struct, kw_only=True):
    """Everything one client process measured; merged across processes.

    Latencies, counts, CPU and client counters cover the measured phase only (after
    warm-up); ``tally`` and ``events`` (but its ``measured_*``) cover the whole run.
    """

    processes: int = 1
    warmup_flows: int = 0
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    rss_after_warmup: int = 0
    rss_after_run: int = 0
    worst_rss_ratio: float = 0.0
    stopped_by: str = "flows"
    flows: FlowCounts = msgspec.field(default_factory=FlowCounts)
    client: ClientCounters = msgspec.field(default_factory=ClientCounters)
    latency: dict[str, SparseHistogram] = msgspec.field(default_factory=dict)
    calls_ok: dict[str, int] = msgspec.field(default_factory=dict)
    errors: dict[str, dict[str, int]] = msgspec.field(default_factory=dict)
    retries_by_cause: dict[str, int] = msgspec.field(default_factory=dict)
    tally: LedgerTally = msgspec.field(default_factory=LedgerTally)
    events: EventCounts = msgspec.field(default_factory=EventCounts)


_STOP_PRIORITY: Final = ("time_limit", "duration", "flows")


def merge_results(results: Iterable[WorkerResult]) -> WorkerResult:
    """One result for several processes that shared the load.

    Counts, CPU and RSS add up; wall time is the longest process's (they ran side
    by side); histograms merge bucket by bucket; ``worst_rss_ratio`` is the largest
    of any process; ``stopped_by`` is the strongest reason any process stopped.

    Raises:
        ValueError: ``results`` is empty.
    """
    items = list(results)
    if not items:
        raise ValueError("no results to merge")
    merged = WorkerResult(processes=0, worst_rss_ratio=0.0)
    histograms: dict[str, LatencyHistogram] = {}
    reasons = set()
    for item in items:
        merged.processes += item.processes
        merged.warmup_flows += item.warmup_flows
        merged.wall_seconds = max(merged.wall_seconds, item.wall_seconds)
        merged.cpu_seconds += item.cpu_seconds
        merged.rss_after_warmup += item.rss_after_warmup
        merged.rss_after_run += item.rss_after_run
        merged.worst_rss_ratio = max(merged.worst_rss_ratio, item.worst_rss_ratio)
        reasons.add(item.stopped_by)
        merged.flows.add(item.flows)
        merged.client.add(item.client)
        merged.tally.add(item.tally)
        merged.events.add(item.events)
        for name, sparse in item.latency.items():
            histogram = LatencyHistogram.from_sparse(sparse)
            if name in histograms:
                histograms[name].merge(histogram)
            else:
                histograms[name] = histogram
        _add_counts(merged.calls_ok, item.calls_ok)
        _add_counts(merged.retries_by_cause, item.retries_by_cause)
        for endpoint, by_class in item.errors.items():
            _add_counts(merged.errors.setdefault(endpoint, {}), by_class)
    ranked = (*_STOP_PRIORITY, *sorted(reasons))
    merged.stopped_by = next(reason for reason in ranked if reason in reasons)
    merged.latency = {name: h.to_sparse() for name, h in histograms.items()}
    return merged


def _add_counts(into: dict[str, int], counts: dict[str, int]) -> None:
    for key, n in counts.items():
        into[key] = into.get(key, 0) + n


# --- process readings ---------------------------------------------------------------


def cpu_seconds() -> float:
    """CPU time (user + system) this process used so far, every thread included."""
    return time.process_time()


def cpu_us_per_call(cpu: float, calls: int) -> float:
    """Microseconds of CPU per call; 0.0 when there were no calls."""
    return round(cpu * 1e6 / calls, 2) if calls > 0 else 0.0


def rss_bytes() -> int:
    """This process's resident set size now (Linux), else its peak so far."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def process_cpu_seconds(pid: int) -> float | None:
    """CPU time another process used so far (Linux ``/proc``), or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None
