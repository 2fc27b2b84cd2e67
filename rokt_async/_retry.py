"""Retries: classification, backoff with full jitter, deadline, budget, hooks.

The waits come from ``backoff.expo`` with full jitter; our own loop owns the clock
(``time.monotonic``), so that a call's deadline bounds every attempt and
every sleep, ``Retry-After`` is honoured, and the client-wide budget is consulted
before each retry. The happy path costs one attempt and two counter updates.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypeAlias, TypeVar

import backoff

from ._codec import decode_answer
from ._errors import (
    APIError,
    ConnectError,
    ConnectionLostError,
    GatewayTimeoutError,
    OutcomeUnknownError,
    RateLimitError,
    RequestTimeoutError,
    RoktError,
)
from ._hedge import hedged
from ._session import client_timeout
from ._timing import SystemTiming
from ._transport import post_once

if TYPE_CHECKING:
    from collections.abc import Awaitable, Iterator, Mapping

    import aiohttp

    from ._budget import RetryBudget, StatsCounter
    from ._config import RetryPolicy, Timeouts
    from ._endpoints import Endpoint
    from ._models import _Request
    from ._timing import Timing


T = TypeVar("T")

__all__ = ["Failure", "Retrier", "RetryEvent", "classify"]

_log: Final = logging.getLogger("rokt_async")


class Failure(enum.Enum):
    """What a failed attempt means for a resend: the one table retries read."""

    NEVER_SENT = "never sent"  # nothing reached Rokt: safe to resend anywhere
    THROTTLED = "throttled"  # 429: refused, not performed
    AMBIGUOUS = "ambiguous"  # may have taken effect: resend only where safe
    DEFINITE = "definite"  # Rokt's answer stands: never retried


NEVER_SENT: Final = Failure.NEVER_SENT
THROTTLED: Final = Failure.THROTTLED
AMBIGUOUS: Final = Failure.AMBIGUOUS
DEFINITE: Final = Failure.DEFINITE

#: Error classes by what they mean, most specific first; statuses 502 and 503
#: (a ``ServerError``) are ambiguous too, 500 and every other status definite.
_BY_CLASS: Final[tuple[tuple[type[RoktError], Failure], ...]] = (
    (ConnectError, NEVER_SENT),
    (RateLimitError, THROTTLED),
    (RequestTimeoutError, AMBIGUOUS),
    (ConnectionLostError, AMBIGUOUS),
    (GatewayTimeoutError, AMBIGUOUS),
)
_AMBIGUOUS_STATUSES: Final = frozenset({502, 503})


class Stop(enum.Enum):
    """Why a failed call makes no further attempt (the text ends the error message
    of an ``OutcomeUnknownError``)."""

    DEFINITE = "a definite failure, not retried"
    UNSAFE = "not resent: resending could act twice"
    ATTEMPTS = "no attempts left (RetryPolicy.max_attempts)"
    DEADLINE = "no time left before the call's deadline"
    BUDGET = "the client's retry budget is spent (a retry storm is being damped)"


def classify(exc: RoktError) -> Failure:
    """What a failed attempt means for a resend (see ``Failure``)."""
    for cls, failure in _BY_CLASS:
        if isinstance(exc, cls):
            return failure
    if isinstance(exc, APIError) and exc.status in _AMBIGUOUS_STATUSES:
        return AMBIGUOUS
    return DEFINITE


@dataclass(frozen=True, slots=True)
class RetryEvent:
    """What an ``on_retry`` hook receives before the client sleeps and retries.

    Attributes:
        endpoint: operation name (``confirm``, ``reserve``...).
        attempt: the attempt that just failed, counting from 1.
        delay: seconds the client will wait before the next attempt.
        cause: the error of the failed attempt.
    """

    endpoint: str
    attempt: int
    delay: float
    cause: RoktError


RetryHook: TypeAlias = Callable[[RetryEvent], None]


def _delays(policy: RetryPolicy) -> Iterator[float]:
    """Exponential backoff before jitter: base, 2*base, 4*base... capped."""
    waits = backoff.expo(base=2, factor=policy.base_delay, max_value=policy.max_delay)
    next(waits)  # backoff's generators are primed with one send(None)
    return waits


class Retrier:
    """Runs one call: attempts, waits, budget and hooks under one deadline."""

    __slots__ = (
        "_budget",
        "_clock",
        "_hooks",
        "_max_bytes",
        "_random",
        "_sleep",
        "_stats",
        "_timeouts",
        "_whole_attempt",
    )

    def __init__(
        self,
        *,
        stats: StatsCounter,
        budget: RetryBudget,
        hooks: tuple[RetryHook, ...],
        timeouts: Timeouts,
        max_bytes: int,
        timing: Timing,
    ) -> None:
        self._stats = stats
        self._budget = budget
        self._hooks = hooks
        self._timeouts = timeouts
        self._max_bytes = max_bytes
        #: Built once: most first attempts have more time left than one may use.
        self._whole_attempt = client_timeout(timeouts, None)
        if type(timing) is SystemTiming:
            # The functions themselves, one call less each: time.monotonic is the
            # clock asyncio's loop keeps (asking the running loop for it would
            # cost a getpid() system call per call).
            self._sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
            self._random: Callable[[], float] = random.random
            self._clock: Callable[[], float] = time.monotonic
        else:
            self._sleep = timing.sleep
            self._random = timing.random
            self._clock = timing.clock

    async def call(
        self,
        session: aiohttp.ClientSession,
        endpoint: Endpoint[T],
        url: str,
        request: _Request,
        payload: bytes,
        headers: Mapping[str, str],
        policy: RetryPolicy,
        timeout: float | None,
    ) -> T:
        """Send until an answer, a definite failure, or the policy says stop.

        Returns:
            The 2xx answer decoded with ``endpoint.decoder`` (None without one).

        Raises:
            OutcomeUnknownError: a state-changing call gave up after an ambiguous
                failure.
            RoktError: the last failure, with ``.attempts`` set.
        """
        stats = self._stats
        stats.calls += 1
        clock = self._clock
        deadline = clock() + (
            timeout if timeout is not None else policy.deadline_for(endpoint.name)
        )
        hedge_after = (
            policy.hedge_placements_after if not endpoint.changes_state else None
        )
        # Tokens this call's hedges took, refunded if the call is cancelled.
        hedge_paid = None if hedge_after is None else [0]
        attempt = spent = 0
        ambiguous_seen = False
        waits: Iterator[float] | None = None
        try:
            while True:
                attempt += 1
                stats.attempts += 1
                remaining = deadline - clock()
                timeout_now = (
                    self._whole_attempt
                    if remaining >= self._timeouts.attempt_limit
                    else client_timeout(self._timeouts, remaining)
                )
                try:
                    if hedge_after is None or hedge_paid is None:
                        answer = await post_once(
                            session, url, payload, headers, timeout_now, self._max_bytes
                        )
                    else:
                        answer = await hedged(
                            functools.partial(
                                post_once,
                                session,
                                url,
                                payload,
                                headers,
                                timeout_now,
                                self._max_bytes,
                            ),
                            hedge_after,
                            functools.partial(self._may_hedge, hedge_paid),
                        )
                except RoktError as exc:
                    kind = classify(exc)
                    ambiguous_seen = ambiguous_seen or kind is AMBIGUOUS
                    if _log.isEnabledFor(logging.DEBUG):
                        _log.debug(
                            "POST %s attempt %d failed: %s",
                            url,
                            attempt,
                            type(exc).__name__,
                        )
                    waits = waits or _delays(policy)
                    plan = self._plan_retry(
                        exc,
                        kind,
                        endpoint,
                        request,
                        policy,
                        attempt,
                        waits,
                        deadline - clock(),
                    )
                    if isinstance(plan, float):
                        cost = self._budget.cost_of(exc)
                        spent += cost
                        stats.retries += 1
                        if self._hooks:
                            self._run_hooks(
                                RetryEvent(endpoint.name, attempt, plan, exc)
                            )
                        await self._sleep(plan)
                        if deadline - clock() > 0:
                            continue
                        # The wait (on a busy loop, longer than planned) used up the
                        # time left: no attempt starts after the deadline, and the
                        # retry it paid for is given back.
                        self._budget.give_back(cost)
                        spent -= cost
                        stats.retries -= 1
                        plan = Stop.DEADLINE
                    exc.attempts = attempt
                    if not (ambiguous_seen and endpoint.changes_state):
                        raise
                    raise self._outcome_unknown(
                        exc, endpoint, request, headers, policy, plan
                    ) from exc
                # A first-try success earns a token; a retried success returns what
                # its retries took, so only calls that never succeed drain the bucket.
                self._budget.give_back(spent or self._budget.refund)
                status, body = answer
                if _log.isEnabledFor(logging.DEBUG):
                    _log.debug("POST %s -> %d (attempt %d)", url, status, attempt)
                return decode_answer(
                    status, body, endpoint.decoder, self._max_bytes, endpoint.empty
                )
        except asyncio.CancelledError:
            # The caller gave up (a shopper's browser went away): nothing this call
            # paid for may stay spent, or cancellations alone would drain the bucket.
            self._budget.give_back(spent + (hedge_paid[0] if hedge_paid else 0))
            raise

    def _plan_retry(
        self,
        exc: RoktError,
        kind: Failure,
        endpoint: Endpoint[Any],
        request: _Request,
        policy: RetryPolicy,
        attempt: int,
        waits: Iterator[float],
        remaining: float,
    ) -> float | Stop:
        """Seconds to wait before the next attempt, or why the call stops here."""
        if kind is DEFINITE:
            return Stop.DEFINITE
        if kind is AMBIGUOUS and endpoint.unsafe_resend(request, policy) is not None:
            return Stop.UNSAFE
        if attempt >= policy.max_attempts:
            return Stop.ATTEMPTS
        delay = next(waits) * self._random()  # full jitter
        retry_after = exc.retry_after if isinstance(exc, APIError) else None
        if retry_after is not None:
            delay = max(delay, min(retry_after, policy.max_delay))
        if delay >= remaining:  # no attempt may start after the deadline
            return Stop.DEADLINE
        if not self._budget.try_spend(self._budget.cost_of(exc)):
            self._stats.budget_refusals += 1
            return Stop.BUDGET
        return delay

    def _run_hooks(self, event: RetryEvent) -> None:
        # A helper's frame, not call()'s: a local there holding the event (and so
        # the error and its traceback back to that frame) would be a reference
        # cycle that only the cyclic GC frees.
        for hook in self._hooks:
            hook(event)

    def _may_hedge(self, paid: list[int]) -> bool:
        """A hedge is one more attempt: counted, and paid for from the budget
        (what it paid is added to ``paid``)."""
        cost = self._budget.retry_cost
        if not self._budget.try_spend(cost):
            self._stats.budget_refusals += 1
            return False
        paid[0] += cost
        self._stats.hedges += 1
        self._stats.attempts += 1
        return True

    def _outcome_unknown(
        self,
        exc: RoktError,
        endpoint: Endpoint[Any],
        request: _Request,
        headers: Mapping[str, str],
        policy: RetryPolicy,
        stop: Stop,
    ) -> OutcomeUnknownError:
        self._stats.outcomes_unknown += 1
        unsafe = endpoint.unsafe_resend(request, policy)
        why = unsafe if stop is Stop.UNSAFE and unsafe is not None else stop.value
        return OutcomeUnknownError(
            f"{endpoint.name}: outcome unknown after {exc.attempts} attempt(s)"
            f" (last: {type(exc).__name__}); {why}",
            endpoint=endpoint.name,
            identifiers=endpoint.identifiers(request),
            attempts=exc.attempts,
            last_error=exc,
            resend_is_safe=unsafe is None,
            request=request,  # type: ignore[arg-type]  # one of the cart requests
            session_id=headers.get("rokt-session-id"),
        )
