"""Outbox jobs: their states, what one holds, and what makes two puts the same job."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from .._models import CancelRequest, ConfirmRequest, ReleaseRequest

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "KINDS",
    "TERMINAL",
    "Job",
    "JobState",
    "NewJob",
    "Settle",
    "operation_key",
]


class JobState(enum.StrEnum):
    """Where a job is, as its string. ``unknown`` jobs are never resent
    automatically."""

    PENDING = "pending"  # waiting, possibly until ``next_attempt_at``
    IN_FLIGHT = "in_flight"  # leased by a worker, which may be sending it
    DONE = "done"  # Rokt accepted it
    FAILED = "failed"  # a definite refusal, or older than max_age
    UNKNOWN = "unknown"  # may or may not have taken effect; an operator decides


TERMINAL: Final = frozenset({JobState.DONE, JobState.FAILED, JobState.UNKNOWN})
#: The operations an outbox queues (reserve is not: the shopper is waiting).
KINDS: Final = ("confirm", "release", "cancel")


@dataclass(frozen=True, slots=True)
class NewJob:
    """A job as ``put_*`` hands it to a store.

    Attributes:
        kind: ``confirm``, ``release`` or ``cancel``.
        key: the operation key; a second put with the same key is the same job.
        cart: jobs with the same cart run one at a time, in the order put.
        body: the request's wire JSON (``to_json()``), sent byte for byte.
        session_id: the ``rokt-session-id`` to send, or None for a fresh one.
        resend_safe: whether sending it again after an ambiguous failure acts at
            most once (the client's retry rules).
        created_at: seconds since the epoch.
    """

    kind: str
    key: str
    cart: str
    body: bytes
    session_id: str | None
    resend_safe: bool
    created_at: float


@dataclass(frozen=True, slots=True)
class Job:
    """A stored job as an operator sees it.

    Attributes:
        id: the store's id for it (what ``put_*`` returned).
        state: see ``JobState``.
        attempts: sends started (recorded before each request went out).
        next_attempt_at: earliest time a pending job is claimed again.
        updated_at: last change, seconds since the epoch.
        last_error: the last failure's type and message (no secrets), or None.
        error_body: Rokt's error JSON of a definite refusal, kept for the operator.
        reason: why a job is ``failed`` or ``unknown``, in words.
    """

    id: int
    kind: str
    key: str
    cart: str
    body: bytes
    session_id: str | None
    resend_safe: bool
    created_at: float
    state: JobState
    attempts: int
    next_attempt_at: float
    updated_at: float
    last_error: str | None
    error_body: str | None
    reason: str | None

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Job:
        """A job from a store's row, its columns in this class's field order."""
        (job_id, kind, key, cart, body, session_id, resend_safe, *rest) = row
        created_at, state, attempts, next_attempt_at, updated_at, *texts = rest
        return cls(
            job_id,
            kind,
            key,
            cart,
            bytes(body),
            session_id,
            bool(resend_safe),
            created_at,
            _STATES[state],
            attempts,
            next_attempt_at,
            updated_at,
            *texts,
        )

    def settled(
        self,
        state: JobState,
        *,
        updated_at: float,
        last_error: str | None,
        error_body: str | None,
        reason: str | None,
    ) -> Job:
        """This job as a settle into ``state`` leaves it (``last_error`` kept
        when the settle names none)."""
        return Job(
            self.id,
            self.kind,
            self.key,
            self.cart,
            self.body,
            self.session_id,
            self.resend_safe,
            self.created_at,
            state,
            self.attempts,
            self.next_attempt_at,
            updated_at,
            last_error or self.last_error,
            error_body,
            reason,
        )


_STATES: Final = {state.value: state for state in JobState}


@dataclass(frozen=True, slots=True)
class Settle:
    """The end of one lease, as a worker hands it to ``Store.settle_many``.

    Attributes:
        job_id: the leased job.
        state: ``pending`` again (from ``next_attempt_at``), ``done``, ``failed``
            or ``unknown``.
        now: when, on the caller's clock.
        next_attempt_at: for ``pending``: the earliest next claim.
        last_error, error_body, reason: what the operator reads (see ``Job``).
    """

    job_id: int
    state: JobState
    now: float
    next_attempt_at: float | None = None
    last_error: str | None = None
    error_body: str | None = None
    reason: str | None = None


def operation_key(
    request: ConfirmRequest | ReleaseRequest | CancelRequest, cart: str | None = None
) -> tuple[str, str, str]:
    """``(kind, key, cart)`` of an operation: a confirm is one job per (cart,
    order), a release one per (cart, reservations), a cancel one per reservation.

    A cancel names no cart; ``cart`` puts it in its cart's order (after that
    cart's confirm), else it is ordered only with cancels of its reservation.
    """
    if isinstance(request, ConfirmRequest):
        key = f"confirm {request.cart_id}/{request.order_id}"
        return "confirm", key, request.cart_id
    if isinstance(request, ReleaseRequest):
        held = ",".join(
            sorted(f"{i.cart_item_id}={i.item_reservation_id}" for i in request.items)
        )
        return "release", f"release {request.cart_id}/{held}", request.cart_id
    reservation = request.item_reservation_id
    return "cancel", f"cancel {reservation}", cart or f"reservation {reservation}"
