"""Bench statistics: percentiles, histograms, CPU per call and merging processes."""

from __future__ import annotations

import math
import pathlib
import random

import msgspec
import pytest

from rokt_async.bench._events import EventCounts
from rokt_async.bench._stats import (
    ClientCounters,
    FlowCounts,
    LatencyHistogram,
    LedgerTally,
    WorkerResult,
    cpu_us_per_call,
    merge_results,
    percentile,
    rss_bytes,
)


def _histogram(values: list[float]) -> LatencyHistogram:
    histogram = LatencyHistogram()
    for value in values:
        histogram.record(value)
    return histogram


def test_percentile_uses_nearest_rank_on_sorted_values() -> None:
    """p50 of 1..10 is 5, p95 is 10, p0 the minimum and p100 the maximum."""
    values = [float(v) for v in range(1, 11)]
    assert percentile(values, 50) == 5.0
    assert percentile(values, 95) == 10.0
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 10.0


def test_percentile_rejects_empty_or_out_of_range() -> None:
    """No values, or a percentile outside [0, 100], raise ValueError."""
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)
    with pytest.raises(ValueError, match="outside"):
        percentile([1.0], 101)


def test_histogram_percentiles_within_half_a_percent_of_exact() -> None:
    """Log-bucketed percentiles stay within 0.5% of the exact nearest rank."""
    rng = random.Random(7)
    values = [rng.lognormvariate(math.log(0.005), 1.0) for _ in range(20_000)]
    histogram = _histogram(values)
    ordered = sorted(values)
    for q in (1, 10, 50, 90, 95, 99, 99.9):
        exact = percentile(ordered, q)
        assert histogram.percentile(q) == pytest.approx(exact, rel=0.006)
    assert histogram.percentile(100) == ordered[-1]
    assert histogram.count == len(values)


def test_histogram_summary_reports_milliseconds() -> None:
    """The summary gives count, mean and percentiles in milliseconds."""
    summary = _histogram([0.001, 0.002, 0.003, 0.004]).summary()
    assert summary.count == 4
    assert summary.mean_ms == pytest.approx(2.5)
    assert summary.max_ms == pytest.approx(4.0)
    assert summary.p50_ms == pytest.approx(2.0, rel=0.006)


def test_histogram_empty_answers_zero() -> None:
    """A histogram with nothing recorded answers 0 for every percentile."""
    summary = LatencyHistogram().summary()
    assert (summary.count, summary.p99_ms, summary.max_ms) == (0, 0.0, 0.0)


def test_histogram_clamps_tiny_and_negative_values() -> None:
    """Values below a microsecond land in the first bucket; negatives count as 0."""
    histogram = _histogram([-1.0, 1e-9, 2e-9])
    assert histogram.count == 3
    assert histogram.percentile(50) >= 0.0
    assert histogram.maximum == pytest.approx(2e-9)


def test_histogram_survives_the_trip_between_processes() -> None:
    """to_sparse -> msgpack -> from_sparse gives the same percentiles."""
    histogram = _histogram([0.001 * i for i in range(1, 500)])
    wire = msgspec.msgpack.encode(histogram.to_sparse())
    back = LatencyHistogram.from_sparse(
        msgspec.msgpack.decode(wire, type=type(histogram.to_sparse()))
    )
    for q in (50, 95, 99, 100):
        assert back.percentile(q) == histogram.percentile(q)
    assert back.summary() == histogram.summary()


def test_merged_histograms_equal_one_histogram_of_all_values() -> None:
    """Merging two histograms is the same as recording every value in one."""
    rng = random.Random(3)
    first = [rng.uniform(0.001, 0.05) for _ in range(3000)]
    second = [rng.uniform(0.01, 0.5) for _ in range(1000)]
    merged = _histogram(first)
    merged.merge(_histogram(second))
    assert merged.summary() == _histogram(first + second).summary()


def test_cpu_us_per_call_divides_and_guards_zero() -> None:
    """CPU per call is seconds * 1e6 / calls, and 0 when there were no calls."""
    assert cpu_us_per_call(0.5, 10_000) == 50.0
    assert cpu_us_per_call(1.0, 0) == 0.0


@pytest.mark.skipif(
    not pathlib.Path("/proc/self/status").exists(), reason="reads Linux /proc"
)
def test_rss_bytes_reports_a_plausible_size() -> None:
    """rss_bytes() is this process's resident size now: within 4 MiB of the
    kernel's VmRSS, and 64 MiB larger once 64 MiB more are written."""

    def vm_rss() -> int:
        status = pathlib.Path("/proc/self/status").read_text()
        [kib] = [line.split()[1] for line in status.splitlines() if "VmRSS" in line]
        return int(kib) * 1024

    before = rss_bytes()
    assert abs(before - vm_rss()) < 4 << 20
    block = b"\x01" * (64 << 20)  # written, so every page is resident
    grown = rss_bytes()
    del block
    assert 60 << 20 <= grown - before <= 72 << 20


def _worker(
    latencies: list[float], *, calls: int, cpu: float, wall: float, stopped: str
) -> WorkerResult:
    return WorkerResult(
        wall_seconds=wall,
        cpu_seconds=cpu,
        rss_after_warmup=100,
        rss_after_run=105 if stopped == "flows" else 120,
        worst_rss_ratio=1.05 if stopped == "flows" else 1.2,
        stopped_by=stopped,
        flows=FlowCounts(completed=len(latencies), confirmed=len(latencies)),
        client=ClientCounters(calls=calls, attempts=calls + 1, retries=1),
        latency={"confirm": _histogram(latencies).to_sparse()},
        calls_ok={"confirm": len(latencies)},
        errors={"reserve": {"ConnectError": 1}},
        retries_by_cause={"GatewayTimeoutError": 1},
        tally=LedgerTally(confirm_items_sent=3, confirm_items_acked=2),
        events=EventCounts(
            added=calls,
            delivered=calls - 1,
            undelivered=1,
            batches_sent=2,
            measured_delivered=1,
        ),
    )


def test_merge_results_adds_counts_and_keeps_the_longest_wall_time() -> None:
    """Counts, CPU, RSS, tallies and events add up; wall time is the longest."""
    first = _worker([0.01, 0.02], calls=10, cpu=1.0, wall=2.0, stopped="flows")
    second = _worker([0.03], calls=5, cpu=0.5, wall=3.0, stopped="flows")
    merged = merge_results([first, second])
    assert merged.processes == 2
    assert merged.wall_seconds == 3.0
    assert merged.cpu_seconds == 1.5
    assert merged.client.calls == 15
    assert merged.client.attempts == 17
    assert merged.flows.completed == 3
    assert merged.calls_ok == {"confirm": 3}
    assert merged.errors == {"reserve": {"ConnectError": 2}}
    assert merged.retries_by_cause == {"GatewayTimeoutError": 2}
    assert merged.tally.confirm_items_sent == 6
    assert merged.events == EventCounts(
        added=15, delivered=13, undelivered=2, batches_sent=4, measured_delivered=2
    )
    assert merged.rss_after_warmup == 200
    latency = LatencyHistogram.from_sparse(merged.latency["confirm"])
    assert latency.summary() == _histogram([0.01, 0.02, 0.03]).summary()


def test_merge_results_keeps_the_worst_rss_ratio_and_strongest_stop() -> None:
    """The worst process's RSS ratio and a time-limit stop win over the others."""
    calm = _worker([0.01], calls=1, cpu=0.1, wall=1.0, stopped="flows")
    grown = _worker([0.01], calls=1, cpu=0.1, wall=1.0, stopped="time_limit")
    merged = merge_results([calm, grown])
    assert merged.worst_rss_ratio == 1.2
    assert merged.stopped_by == "time_limit"


def test_merge_results_refuses_nothing() -> None:
    """Merging no results raises ValueError."""
    with pytest.raises(ValueError, match="no results"):
        merge_results([])
