"""Opt-in pytest plugin: a local Rokt emulator and a client pointed at it.

Enable it in a ``conftest.py``::

    pytest_plugins = ["rokt_async.testing"]

Fixtures:

- ``rokt_emulator``: a synchronous fixture, so it works in every pytest-asyncio
  mode. One emulator per test session serves from a background thread with its own
  event loop; it is reset (state, ledger, recorded requests, faults, clock, resend
  mode) before each test that uses it.
- ``rokt_client``: an open ``RoktClient`` pointed at ``rokt_emulator`` with
  ``retry=NO_WAIT_RETRY`` (retries, no sleeping); closed after the test. Declared
  with ``@pytest_asyncio.fixture``, so strict mode needs no marker on it.

Resend mode (how the emulator answers a resent cart/confirm: ``replay``, the
first confirmation; ``reject``, the item failed as ``AlreadyConfirmed``;
``duplicate``, quantity-only items bought again):

- the ini option ``rokt_emulator_resend = reject`` sets the session's default
  (``replay`` when unset);
- the marker ``@pytest.mark.rokt_resend("duplicate")`` sets it for one test (or a
  module or class), and the next test is back to the default.

The plugin is not registered through a ``pytest11`` entry point, so installing
rokt-async never imports aiohttp into unrelated test runs. It needs pytest-asyncio.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import pytest_asyncio

from ._client import RoktClient
from ._config import NO_WAIT_RETRY
from .emulator import REPLAY, RESEND_MODES, Emulator

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

__all__ = ["rokt_client", "rokt_emulator"]

_RESEND_INI = "rokt_emulator_resend"
_RESEND_MARKER = "rokt_resend"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ``rokt_emulator_resend`` ini option."""
    parser.addini(
        _RESEND_INI,
        f"rokt_emulator's resend mode, one of {', '.join(RESEND_MODES)}",
        default=REPLAY,
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``rokt_resend`` marker and check the ini option.

    Raises:
        pytest.UsageError: ``rokt_emulator_resend`` is not a resend mode.
    """
    config.addinivalue_line(
        "markers",
        f"{_RESEND_MARKER}(mode): rokt_emulator answers resent confirms by mode, "
        f"one of {', '.join(RESEND_MODES)}, for this test",
    )
    mode = _ini_resend(config)
    if mode not in RESEND_MODES:
        raise pytest.UsageError(
            f"{_RESEND_INI} must be one of {', '.join(RESEND_MODES)}, got {mode!r}"
        )


def _ini_resend(config: pytest.Config) -> str:
    return str(config.getini(_RESEND_INI)).strip()


@pytest.fixture(scope="session")
def rokt_emulator_session(pytestconfig: pytest.Config) -> Iterator[Emulator]:
    """The session's one emulator, serving from a background thread."""
    with Emulator(resend=_ini_resend(pytestconfig)) as emulator:
        yield emulator


@pytest.fixture
def rokt_emulator(
    rokt_emulator_session: Emulator, request: pytest.FixtureRequest
) -> Emulator:
    """The session's emulator, reset for this test, in the test's resend mode.

    Raises:
        pytest.UsageError: a ``rokt_resend`` marker names no single valid mode.
    """
    rokt_emulator_session.reset()
    marker = request.node.get_closest_marker(_RESEND_MARKER)
    if marker is not None:
        if len(marker.args) != 1 or marker.kwargs or marker.args[0] not in RESEND_MODES:
            raise pytest.UsageError(
                f"{_RESEND_MARKER} takes one mode, one of {', '.join(RESEND_MODES)}"
            )
        rokt_emulator_session.set_resend(marker.args[0])
    return rokt_emulator_session


@pytest_asyncio.fixture
async def rokt_client(rokt_emulator: Emulator) -> AsyncIterator[RoktClient]:
    """An open RoktClient on the emulator, retrying without waits; closed after."""
    client = RoktClient(
        api_key=rokt_emulator.api_key,
        tag_id=rokt_emulator.tag_id,
        base_url=rokt_emulator.url,
        retry=NO_WAIT_RETRY,
    )
    async with client:
        yield client
