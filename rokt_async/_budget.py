"""The retry budget (a client-wide token bucket) and the client's counters."""

from __future__ import annotations

from dataclasses import dataclass

from ._errors import RequestTimeoutError, RoktError

__all__ = ["ClientStats", "RetryBudget", "StatsCounter"]


@dataclass(frozen=True, slots=True)
class ClientStats:
    """Client-wide counters since the client was created."""

    calls: int
    attempts: int
    retries: int
    budget_refusals: int
    outcomes_unknown: int
    hedges: int
    budget_tokens: int


class StatsCounter:
    """The mutable counters behind ``client.stats``."""

    __slots__ = (
        "attempts",
        "budget_refusals",
        "calls",
        "hedges",
        "outcomes_unknown",
        "retries",
    )

    def __init__(self) -> None:
        self.calls = self.attempts = self.retries = 0
        self.budget_refusals = self.outcomes_unknown = self.hedges = 0

    def snapshot(self, budget: RetryBudget) -> ClientStats:
        return ClientStats(
            calls=self.calls,
            attempts=self.attempts,
            retries=self.retries,
            budget_refusals=self.budget_refusals,
            outcomes_unknown=self.outcomes_unknown,
            hedges=self.hedges,
            budget_tokens=budget.tokens,
        )


class RetryBudget:
    """Client-wide token bucket (botocore's standard mode) that stops retry storms.

    A retry costs ``retry_cost`` tokens (``timeout_cost`` after a timeout). A call
    that succeeds on its first attempt refunds ``refund``; one that succeeds after
    retrying gives back what its retries cost. So only calls that keep failing
    drain the bucket, and when it cannot pay for a retry, calls fail fast with
    their last error.
    """

    __slots__ = ("capacity", "refund", "retry_cost", "timeout_cost", "tokens")

    def __init__(
        self,
        capacity: int = 500,
        retry_cost: int = 5,
        timeout_cost: int = 10,
        refund: int = 1,
    ) -> None:
        self.capacity = self.tokens = capacity
        self.retry_cost = retry_cost
        self.timeout_cost = timeout_cost
        self.refund = refund

    def cost_of(self, exc: RoktError) -> int:
        """Tokens a retry after ``exc`` costs."""
        timed_out = isinstance(exc, RequestTimeoutError)
        return self.timeout_cost if timed_out else self.retry_cost

    def try_spend(self, cost: int) -> bool:
        """Take ``cost`` tokens if there are that many; False changes nothing."""
        if self.tokens < cost:
            return False
        self.tokens -= cost
        return True

    def give_back(self, amount: int) -> None:
        """Return tokens, never past capacity."""
        self.tokens = min(self.capacity, self.tokens + amount)
