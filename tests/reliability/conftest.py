"""Reliability suite: smoke sizes in ``make test``, full sizes under ``--soak``."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Final

import pytest

from ._figures import FIGURES

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from rokt_async.emulator import Emulator

    from ._figures import Figures


#: Loops a ``both_loops`` test runs on: ``@pytest.mark.asyncio(loop_factories=LOOPS)``.
LOOPS: Final = ("asyncio", "uvloop")


@pytest.fixture
def soak(request: pytest.FixtureRequest) -> bool:
    """True under ``pytest --soak`` (``make soak``): run the full sizes."""
    return bool(request.config.getoption("--soak"))


@pytest.fixture
def size(soak: bool) -> Callable[[int, int], int]:
    """``size(smoke, full)``: the smoke size in ``make test``, full under --soak."""

    def pick(smoke: int, full: int) -> int:
        return full if soak else smoke

    return pick


@pytest.fixture
def emulator(rokt_emulator: Emulator) -> Emulator:
    """The plugin's session emulator (its own thread and loop), reset for this test."""
    return rokt_emulator


@pytest.fixture
def figures() -> Figures:
    """The session's table of measured figures (printed at the end of the run)."""
    return FIGURES


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    """Tests marked ``both_loops`` run on asyncio's loop and on uvloop's; the rest
    on asyncio's alone (pytest-asyncio wants a mapping for every test here).

    Mark them ``@pytest.mark.asyncio(loop_factories=LOOPS)`` too: a loop that
    cannot be had here (uvloop not installed) is then skipped with its reason.
    """
    factories: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
        "asyncio": asyncio.new_event_loop
    }
    if item.get_closest_marker("both_loops") is None:
        return factories
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is in the dev requirements
        return factories
    factories["uvloop"] = uvloop.new_event_loop
    return factories
