"""``Timing``: the system's clock, sleep and jitter, and the deterministic fake.

The retry layer calls ``time.monotonic``, ``asyncio.sleep`` and ``random.random``
directly when it is given the system timing, so these tests are what hold
``SystemTiming`` to the ``Timing`` protocol it promises.
"""

from __future__ import annotations

import time

import pytest

from rokt_async import Timing
from rokt_async._timing import SYSTEM_TIMING, SystemTiming
from rokt_async.testing import FakeTiming


def test_system_timing_is_a_timing_with_a_plain_repr() -> None:
    """The default timing satisfies the public protocol and says what it is."""
    assert isinstance(SYSTEM_TIMING, SystemTiming)
    assert isinstance(SYSTEM_TIMING, Timing)
    assert repr(SYSTEM_TIMING) == "SystemTiming()"


async def test_system_timing_sleeps_for_real_on_the_monotonic_clock() -> None:
    """``sleep`` waits at least as long as asked, as measured by ``clock``."""
    before = SYSTEM_TIMING.clock()
    wall = time.monotonic()
    await SYSTEM_TIMING.sleep(0.05)
    assert SYSTEM_TIMING.clock() - before >= 0.05
    assert abs(before - wall) < 1.0  # the same clock as time.monotonic


def test_system_timing_draws_jitter_in_the_unit_interval() -> None:
    """``random`` draws in [0, 1), and not one fixed value."""
    draws = {SYSTEM_TIMING.random() for _ in range(64)}
    assert all(0.0 <= draw < 1.0 for draw in draws)
    assert len(draws) > 1


@pytest.mark.parametrize("jitter", [-0.01, 1.01])
def test_fake_timing_refuses_jitter_outside_the_unit_interval(jitter: float) -> None:
    """A jitter factor outside [0, 1] is a ValueError at construction."""
    with pytest.raises(ValueError, match=r"jitter must be in \[0, 1\]"):
        FakeTiming(jitter=jitter)


@pytest.mark.parametrize("jitter", [0.0, 1.0])
def test_fake_timing_accepts_the_ends_of_the_unit_interval(jitter: float) -> None:
    """0 and 1 are both allowed, and every draw returns the factor given."""
    assert FakeTiming(jitter=jitter).random() == jitter


async def test_fake_timing_advance_moves_the_clock_without_a_sleep() -> None:
    """``advance`` moves ``now`` and records no sleep; ``sleep`` does both."""
    fake = FakeTiming(start=10.0, jitter=0.25)
    fake.advance(2.5)
    assert (fake.clock(), fake.sleeps) == (12.5, [])
    await fake.sleep(1.5)
    assert (fake.clock(), fake.sleeps) == (14.0, [1.5])
    assert repr(fake) == "FakeTiming(now=14.0, jitter=0.25)"
