"""FakeTiming's defaults and its one check.

Written for the mutants ``make mutate`` left alive in ``_timing.py`` (issue #11).
"""

from __future__ import annotations

import pytest

from rokt_async.testing import FakeTiming


def test_fake_timing_starts_at_zero_with_full_jitter() -> None:
    """By default the fake clock reads 0.0 and every jitter draw is 1.0."""
    timing = FakeTiming()
    assert (timing.clock(), timing.random(), timing.sleeps) == (0.0, 1.0, [])


@pytest.mark.parametrize("jitter", [-0.1, 1.5])
def test_jitter_outside_zero_to_one_is_refused(jitter: float) -> None:
    """A jitter factor outside [0, 1] is a ValueError that gives the range."""
    with pytest.raises(ValueError, match=r"^jitter must be in \[0, 1\]$"):
        FakeTiming(jitter=jitter)
