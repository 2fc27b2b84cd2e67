"""The run's verdict and exit status: ledger, calls beyond the injected faults.

A run passes when the ledger check passed and every error the client saw in the
measured phase is one the bench's own ``--faults`` can cause on that endpoint.
Conversion events that were not delivered count as failed calls too, unless an
injected fault explains them (``unexplained_events``).
The exit statuses, from most to least severe when several apply:

==  ==================  ==========================================================
 4  could_not_start     the embedded emulator did not start, the target refused
                        connections or its ledger was unreadable before the first
                        flow, a worker process failed, or the --outbox store
                        could not be opened (no measurements)
 1  ledger_failed       the ledger check found a problem (a cart line confirmed
                        twice, stock not conserved, counts out of bounds, an
                        event lost or applied twice on /v1/events), or an
                        --outbox job did not end done, failed or unknown
 3  calls_failed        calls failed with an error no injected fault explains,
                        events went undelivered or unprocessed beyond the
                        injected faults, no measured flow completed, or the
                        --outbox phase failed the same way or was cut short
 5  ledger_unchecked    the calls went through but no ledger could be read, so
                        nothing shows that no cart line was bought twice
 0  passed              none of the above
 2  (no verdict)        bad command line, before anything ran
==  ==================  ==========================================================
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

from .. import (
    ConnectionLostError,
    OutcomeUnknownError,
    RequestTimeoutError,
    ResponseDecodeError,
    RoktError,
    ServerError,
)
from ..emulator import ALL_ENDPOINTS

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from ._check import LedgerCheck
    from ._events import EventCounts
    from ._target import FaultRate

__all__ = [
    "CALLS_FAILED",
    "COULD_NOT_START",
    "EXIT_CALLS_FAILED",
    "EXIT_CODES",
    "EXIT_COULD_NOT_START",
    "EXIT_HELP",
    "EXIT_INTERRUPTED",
    "EXIT_LEDGER_FAILED",
    "EXIT_LEDGER_UNCHECKED",
    "EXIT_MEANINGS",
    "EXIT_PASSED",
    "EXIT_USAGE",
    "FAULT_ERRORS",
    "LEDGER_FAILED",
    "LEDGER_UNCHECKED",
    "PASSED",
    "Verdict",
    "judge",
    "unexplained_errors",
    "unexplained_events",
]

EXIT_PASSED: Final = 0
EXIT_LEDGER_FAILED: Final = 1
EXIT_USAGE: Final = 2  # argparse's own status for a bad command line
EXIT_CALLS_FAILED: Final = 3
EXIT_COULD_NOT_START: Final = 4
EXIT_LEDGER_UNCHECKED: Final = 5
EXIT_INTERRUPTED: Final = 130  # Ctrl-C, as shells report SIGINT

PASSED: Final = "passed"
LEDGER_FAILED: Final = "ledger_failed"
CALLS_FAILED: Final = "calls_failed"
COULD_NOT_START: Final = "could_not_start"
LEDGER_UNCHECKED: Final = "ledger_unchecked"

#: Verdict -> exit status.
EXIT_CODES: Final[Mapping[str, int]] = MappingProxyType(
    {
        PASSED: EXIT_PASSED,
        LEDGER_FAILED: EXIT_LEDGER_FAILED,
        CALLS_FAILED: EXIT_CALLS_FAILED,
        COULD_NOT_START: EXIT_COULD_NOT_START,
        LEDGER_UNCHECKED: EXIT_LEDGER_UNCHECKED,
    }
)

#: Each exit status and what triggers it, as ``--help`` lists them.
EXIT_MEANINGS: Final = (
    (
        EXIT_PASSED,
        f"{PASSED}: the ledger check passed and every error the client saw in the"
        " measured phase is one the injected --faults explain",
    ),
    (
        EXIT_LEDGER_FAILED,
        f"{LEDGER_FAILED}: the ledger check found a problem (a cart line confirmed"
        " twice, stock not conserved, effects out of bounds, an event lost or"
        " applied twice on /v1/events), or an --outbox job did not end done,"
        " failed or unknown",
    ),
    (EXIT_USAGE, "bad command line, --json PATH included; nothing ran"),
    (
        EXIT_CALLS_FAILED,
        f"{CALLS_FAILED}: calls failed beyond the injected faults (an error class"
        " that no injected fault on that endpoint causes, such as ConnectError or"
        " AuthenticationError, or any error at all without --faults), events"
        " were undelivered or unprocessed beyond the injected faults, no"
        " measured flow completed, or the --outbox phase failed so or was cut"
        " short (its drain/direct ratio never counts)",
    ),
    (
        EXIT_COULD_NOT_START,
        f"{COULD_NOT_START}: the embedded emulator did not start, the target took"
        " no TCP connection, the embedded emulator's ledger was unreadable before"
        " the first flow, a worker process failed, or the --outbox store could"
        " not be opened or held unfinished jobs",
    ),
    (
        EXIT_LEDGER_UNCHECKED,
        f"{LEDGER_UNCHECKED}: no ledger could be read (a --base-url that is not"
        " our emulator), so nothing shows that no cart line was bought twice",
    ),
    (EXIT_INTERRUPTED, "interrupted (Ctrl-C)"),
)
EXIT_HELP: Final = (
    "exit status (the most severe that applies; --json: exit_code, verdict):\n"
    + "".join(
        textwrap.fill(
            text, width=79, initial_indent=f"  {code:<5}", subsequent_indent=" " * 7
        )
        + "\n"
        for code, text in EXIT_MEANINGS
    )
)

_HTTP_ERROR: Final = (ServerError, OutcomeUnknownError)
_CUT: Final = (ConnectionLostError, OutcomeUnknownError)
#: Fault kind -> the errors it can surface as, once the client's retries are done
#: (``OutcomeUnknownError`` when they ran out after an ambiguous failure).
#: ``ConnectError`` is in none: every fault happens on a connection already made.
FAULT_ERRORS: Final[Mapping[str, tuple[type[RoktError], ...]]] = MappingProxyType(
    {
        "504_before": _HTTP_ERROR,
        "504_after": _HTTP_ERROR,
        "500": _HTTP_ERROR,
        "502_html": _HTTP_ERROR,
        "503_retry_after": (*_HTTP_ERROR, RequestTimeoutError),
        "reset_before": _CUT,
        "reset_after": _CUT,
        "delay": (RequestTimeoutError, OutcomeUnknownError),
        "truncate": (*_CUT, ResponseDecodeError, RequestTimeoutError),
        "idle_close": _CUT,
    }
)
#: Kinds whose effect reaches other endpoints' requests: a connection the server
#: closes after answering one endpoint may be picked from the pool for another.
_SPILLS_OVER: Final = frozenset({"idle_close"})
#: The endpoints an event batch's delivery goes through.
_EVENT_ENDPOINTS: Final = frozenset({ALL_ENDPOINTS, "events", "token"})
_UNPROCESSED: Final = "unprocessed"


def _error_classes() -> dict[str, type[RoktError]]:
    found: dict[str, type[RoktError]] = {}
    pending: list[type[RoktError]] = [RoktError]
    while pending:
        cls = pending.pop()
        found[cls.__name__] = cls
        pending.extend(cls.__subclasses__())
    return found


def _explains(
    faults: Iterable[FaultRate], endpoint: str, error: type[RoktError] | None
) -> bool:
    if error is None:  # not one of ours: no fault explains it
        return False
    for fault in faults:
        if fault.rate <= 0.0:
            continue
        reaches = fault.endpoint in (ALL_ENDPOINTS, endpoint) or (
            fault.kind in _SPILLS_OVER
        )
        if reaches and issubclass(error, FAULT_ERRORS.get(fault.kind, ())):
            return True
    return False


def unexplained_errors(
    errors: Mapping[str, Mapping[str, int]], faults: Iterable[FaultRate]
) -> dict[str, dict[str, int]]:
    """The errors, by endpoint then class name, that no injected fault explains.

    An error on an endpoint is explained when a fault with a rate above 0 targets
    that endpoint (or every endpoint, or any endpoint for ``idle_close``) and its
    kind can surface as that error class (``FAULT_ERRORS``). With no faults, every
    error is unexplained.
    """
    plan = list(faults)
    classes = _error_classes()
    found: dict[str, dict[str, int]] = {}
    for endpoint, by_class in sorted(errors.items()):
        for name, count in sorted(by_class.items()):
            if count and not _explains(plan, endpoint, classes.get(name)):
                found.setdefault(endpoint, {})[name] = count
    return found


def unexplained_events(events: EventCounts, faults: Iterable[FaultRate]) -> list[str]:
    """One sentence per kind of event trouble that no injected fault explains.

    Events undelivered (their batch failed, after the client's retries) or
    refused by a full sender queue are explained by any fault, with a rate above
    0, on ``events``, ``token`` or every endpoint (or ``idle_close`` anywhere):
    the bench cannot see the failed batches' error classes. Unprocessed events
    are explained only by ``events:unprocessed``.
    """
    plan = [fault for fault in faults if fault.rate > 0.0]
    failing = any(
        fault.kind != _UNPROCESSED
        and (fault.endpoint in _EVENT_ENDPOINTS or fault.kind in _SPILLS_OVER)
        for fault in plan
    )
    refusing = any(fault.kind == _UNPROCESSED for fault in plan)
    found: list[str] = []
    if events.undelivered and not failing:
        found.append(
            f"events: {events.undelivered} events undelivered, not explained by"
            " the injected faults"
        )
    if events.refused and not failing:
        found.append(
            f"events: {events.refused} events refused by a full sender queue, not"
            " explained by the injected faults"
        )
    if events.unprocessed and not refusing:
        found.append(
            f"events: {events.unprocessed} events answered as unprocessed records,"
            " not explained by the injected faults"
        )
    return found


@dataclass(frozen=True, slots=True)
class Verdict:
    """How a run ended: the verdict's name and why it did not pass."""

    name: str
    problems: list[str]

    @property
    def exit_code(self) -> int:
        """The bench's exit status for this verdict."""
        return EXIT_CODES[self.name]


def judge(
    ledger: LedgerCheck,
    unexplained: Mapping[str, Mapping[str, int]],
    completed: int,
    events: Sequence[str] = (),
    *,
    outbox_lost: Sequence[str] = (),
    outbox_calls: Sequence[str] = (),
) -> Verdict:
    """The verdict of a run that ran: the most severe condition that holds.

    Args:
        ledger: the ledger check.
        unexplained: ``unexplained_errors`` of the measured phase.
        completed: measured flows that ran to an end.
        events: ``unexplained_events`` of the run.
        outbox_lost: ``--outbox`` jobs not accounted for (``ledger_failed``,
            whether or not the emulator's ledger could be read).
        outbox_calls: the ``--outbox`` phase's failures (``calls_failed``).
    """
    problems: list[str] = []
    if ledger.checked:
        problems += ledger.problems
    problems += outbox_lost
    calls = [
        f"{endpoint}: {name} x{count} not explained by the injected faults"
        for endpoint, by_class in unexplained.items()
        for name, count in by_class.items()
    ]
    calls += events
    calls += outbox_calls
    if completed == 0:
        calls.append("no measured flow completed")
    problems += calls
    if not ledger.checked:
        problems += ledger.problems or ["the ledger could not be read"]
    if (ledger.checked and not ledger.passed) or outbox_lost:
        return Verdict(LEDGER_FAILED, problems)
    if calls:
        return Verdict(CALLS_FAILED, problems)
    if not ledger.checked:
        return Verdict(LEDGER_UNCHECKED, problems)
    return Verdict(PASSED, problems)
