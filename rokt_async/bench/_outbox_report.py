"""The ``--outbox`` phase's results: the ``outbox`` object of the JSON document.

``OutboxReport`` holds what the phase measured (put latency, drain throughput,
direct confirms at the same concurrency, their ratio) and how the jobs put
ended. ``outbox_problems`` judges it: a job that did not end ``done``,
``failed`` or ``unknown`` is a broken delivery promise (the verdict's
``ledger_failed``); errors no injected fault explains, refused items and a phase
cut short are ``calls_failed``. The ratio against its target is reported and
never judged: the exit status does not depend on it. ``StepCounts`` is what the
phase counts as it runs; ``build_outbox_report`` turns it into the report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import msgspec

from ._outbox_store import SQLITE
from ._stats import LatencyHistogram, LatencySummary
from ._verdict import unexplained_errors

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from ._target import FaultRate

__all__ = [
    "STEPS",
    "TARGET_RATIO",
    "OutboxDirect",
    "OutboxDrain",
    "OutboxJobs",
    "OutboxPut",
    "OutboxReport",
    "StepCounts",
    "build_outbox_report",
    "outbox_problems",
    "outbox_unexplained",
]

#: Drain throughput over direct confirms at the same concurrency that the issue
#: sets for the SQLite store. Reported, never part of the verdict.
TARGET_RATIO: Final = 0.7
#: The phase's steps whose errors are counted, and the endpoint each one calls
#: (``put`` calls none: no injected fault can explain a store's error).
STEPS: Final = {
    "reserve": "reserve",
    "direct": "confirm",
    "put": "put",
    "drain": "confirm",
}


class OutboxPut(msgspec.Struct, frozen=True, kw_only=True):
    """``await outbox.put_confirm(...)``, ``concurrency`` at once.

    Attributes:
        count: puts that returned a job id.
        seconds: from the first put to the last one's return.
        per_s: ``count / seconds``.
        latency: each put's latency (a put returns once the store has the job).
    """

    count: int
    seconds: float
    per_s: float
    latency: LatencySummary


class OutboxDirect(msgspec.Struct, frozen=True, kw_only=True):
    """``client.confirm_cart`` on the other half of the carts, ``concurrency``
    in flight (one call each, the client's retries included).

    Attributes:
        count: confirms sent.
        ok: confirms answered with every item confirmed.
        refused: confirms answered 200 with an item refused.
        seconds: from the first call to the last one's end.
        per_s: ``ok / seconds``.
        attempts: HTTP attempts, retries included.
        latency: each call's latency.
    """

    count: int
    ok: int
    refused: int
    seconds: float
    per_s: float
    attempts: int
    latency: LatencySummary


class OutboxDrain(msgspec.Struct, frozen=True, kw_only=True):
    """``outbox.worker(client, concurrency=...)`` draining the jobs put.

    Attributes:
        count: jobs that ended ``done``.
        seconds: from the worker's start until the last job put ended.
        per_s: ``count / seconds``.
        sends: sends the worker started (a job sent again counts again).
        attempts: HTTP attempts, retries included.
        refused: jobs ``failed`` on a 200 with an item refused.
    """

    count: int
    seconds: float
    per_s: float
    sends: int
    attempts: int
    refused: int


class OutboxJobs(msgspec.Struct, frozen=True, kw_only=True):
    """How the jobs put ended, read back from the store one by one.

    Attributes:
        put: distinct job ids the puts returned.
        done, failed, unknown: jobs in those (final) states.
        pending, in_flight: jobs that had not ended when the phase stopped.
        missing: job ids the store no longer knows.
        settled: every job put ended ``done``, ``failed`` or ``unknown``.
    """

    put: int
    done: int
    failed: int
    unknown: int
    pending: int
    in_flight: int
    missing: int
    settled: bool


class OutboxReport(msgspec.Struct, frozen=True, kw_only=True):
    """The ``--outbox`` phase, after the measured flows, on the same target.

    Attributes:
        store: ``sqlite`` or ``postgres``.
        url: the store's URL, its password masked and query left out.
        temporary: a SQLite file the bench made, and removed after.
        confirms: ``--outbox-confirms``: carts for each of direct and outbox.
        concurrency: the bench's concurrency: calls, puts and sends in flight.
        stopped_by: ``done``, or ``time_limit`` (``--max-seconds`` cut it short).
        reserved: carts reserved (one item each), half for each way.
        put, direct, drain: the three measurements.
        ratio: ``drain.per_s / direct.per_s`` (None when either is 0).
        target: ``TARGET_RATIO``, set for SQLite.
        target_met: ``ratio >= target`` on SQLite; None on PostgreSQL or with
            no ratio. Never part of the verdict.
        jobs: how the jobs put ended.
        errors: by step (``reserve``, ``direct``, ``put``, ``drain``), then by
            exception class (``drain``: the last error of a job that ended
            ``failed`` or ``unknown``).
        unexplained_errors: the part of ``errors`` no injected fault explains.
        problems: ``outbox_problems``: why the phase does not pass.
    """

    store: str
    url: str
    temporary: bool
    confirms: int
    concurrency: int
    stopped_by: str
    reserved: int
    put: OutboxPut
    direct: OutboxDirect
    drain: OutboxDrain
    ratio: float | None
    target: float
    target_met: bool | None
    jobs: OutboxJobs
    errors: dict[str, dict[str, int]]
    unexplained_errors: dict[str, dict[str, int]]
    problems: list[str]


def outbox_unexplained(
    errors: Mapping[str, Mapping[str, int]], faults: Iterable[FaultRate]
) -> dict[str, dict[str, int]]:
    """The errors, by step then class, that no injected fault explains on the
    endpoint each step calls (``STEPS``)."""
    plan = list(faults)
    found: dict[str, dict[str, int]] = {}
    for step, by_class in errors.items():
        endpoint = STEPS.get(step, step)
        left = unexplained_errors({endpoint: by_class}, plan).get(endpoint)
        if left:
            found[step] = left
    return found


def outbox_problems(
    *,
    puts: int,
    jobs: OutboxJobs,
    direct: OutboxDirect,
    drain: OutboxDrain,
    stopped_by: str,
    unexplained: Mapping[str, Mapping[str, int]],
) -> tuple[list[str], list[str]]:
    """Why the phase does not pass, as (jobs not accounted for, calls failed).

    The first list is the verdict's ``ledger_failed``: puts that made fewer jobs,
    jobs the store lost, and jobs that did not end ``done``, ``failed`` or
    ``unknown``. The second is its ``calls_failed``.
    """
    lost: list[str] = []
    if jobs.put != puts:
        lost.append(f"outbox: {puts} puts of distinct confirms made {jobs.put} jobs")
    if jobs.missing:
        lost.append(f"outbox: {jobs.missing} jobs put are missing from the store")
    left = jobs.pending + jobs.in_flight
    if left:
        lost.append(
            f"outbox: {left} of {jobs.put} jobs did not end done, failed or"
            f" unknown ({jobs.pending} pending, {jobs.in_flight} in flight)"
        )
    calls = [
        f"outbox {step}: {name} x{count} not explained by the injected faults"
        for step, by_class in unexplained.items()
        for name, count in by_class.items()
    ]
    for step, refused in (("direct", direct.refused), ("drain", drain.refused)):
        if refused:
            calls.append(f"outbox {step}: {refused} confirms had an item refused")
    if stopped_by != "done":
        calls.append("outbox: the phase was cut short by --max-seconds")
    elif not direct.ok or not drain.count:
        calls.append(
            f"outbox: no confirm went through ({direct.ok} direct,"
            f" {drain.count} drained)"
        )
    return lost, calls


class StepCounts:
    """What one step of the phase measured, as it runs."""

    __slots__ = ("attempts", "count", "errors", "latency", "ok", "refused", "seconds")

    def __init__(self) -> None:
        self.latency = LatencyHistogram()
        self.count = self.ok = self.refused = self.attempts = 0
        self.seconds = 0.0
        self.errors: dict[str, int] = {}

    def error(self, name: str) -> None:
        self.errors[name] = self.errors.get(name, 0) + 1


def _per_s(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else 0.0


def build_outbox_report(
    *,
    store: str,
    url: str,
    temporary: bool,
    confirms: int,
    concurrency: int,
    steps: Mapping[str, StepCounts],
    jobs: OutboxJobs,
    reserved: int,
    stopped_by: str,
    faults: Iterable[FaultRate],
) -> OutboxReport:
    """The ``outbox`` object from what the steps counted and the jobs read back."""
    put, direct, drain = steps["put"], steps["direct"], steps["drain"]
    put_report = OutboxPut(
        count=put.ok,
        seconds=round(put.seconds, 3),
        per_s=_per_s(put.ok, put.seconds),
        latency=put.latency.summary(),
    )
    direct_report = OutboxDirect(
        count=direct.count,
        ok=direct.ok,
        refused=direct.refused,
        seconds=round(direct.seconds, 3),
        per_s=_per_s(direct.ok, direct.seconds),
        attempts=direct.attempts,
        latency=direct.latency.summary(),
    )
    drain_report = OutboxDrain(
        count=drain.ok,
        seconds=round(drain.seconds, 3),
        per_s=_per_s(drain.ok, drain.seconds),
        sends=drain.count,
        attempts=drain.attempts,
        refused=drain.refused,
    )
    ratio = None
    if direct_report.per_s > 0 and drain_report.per_s > 0:
        ratio = round(drain_report.per_s / direct_report.per_s, 3)
    errors = {
        name: dict(sorted(step.errors.items()))
        for name, step in steps.items()
        if step.errors
    }
    unexplained = outbox_unexplained(errors, faults)
    lost, calls = outbox_problems(
        puts=put.ok,
        jobs=jobs,
        direct=direct_report,
        drain=drain_report,
        stopped_by=stopped_by,
        unexplained=unexplained,
    )
    return OutboxReport(
        store=store,
        url=url,
        temporary=temporary,
        confirms=confirms,
        concurrency=concurrency,
        stopped_by=stopped_by,
        reserved=reserved,
        put=put_report,
        direct=direct_report,
        drain=drain_report,
        ratio=ratio,
        target=TARGET_RATIO,
        target_met=None if ratio is None or store != SQLITE else ratio >= TARGET_RATIO,
        jobs=jobs,
        errors=errors,
        unexplained_errors=unexplained,
        problems=lost + calls,
    )
