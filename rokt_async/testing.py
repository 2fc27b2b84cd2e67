"""Opt-in pytest plugin: a local Rokt emulator and clients pointed at it.

Enable it in your top-level ``conftest.py``::

    pytest_plugins = ["rokt_async.testing"]

or, when that conftest imports app modules that build a client at import time,
with ``addopts = -p rokt_async.testing`` in the ini file (the plugin then starts
before any conftest is imported). It needs pytest-asyncio; set
``asyncio_default_fixture_loop_scope`` (``function`` is right) or pytest-asyncio
warns, and in strict mode mark async tests with ``@pytest.mark.asyncio``.

Fixtures:

- ``rokt_emulator``: a synchronous fixture, so it works in every pytest-asyncio
  mode. The session's emulator serves from a background thread with its own event
  loop; it is reset (state, ledger, recorded requests, faults, clock, resend mode)
  before each test that uses it. A test marked ``rokt_emulator(...)`` gets its own.
- ``rokt_client``: an open ``RoktClient`` on ``rokt_emulator`` with
  ``retry=NO_WAIT_RETRY`` (retries, no sleeping); closed after the test. Declared
  with ``@pytest_asyncio.fixture``, so strict mode needs no marker on it. It runs on
  the fixture loop scope; a test on another loop needs ``rokt_client_factory``.
- ``rokt_client_factory``: ``client = await rokt_client_factory(**overrides)`` opens
  a client like ``rokt_client`` (keyword arguments of ``RoktClient`` win) on the loop
  that awaits it, in a test or a function-scoped fixture of any loop scope; each is
  closed on its own loop when the test ends, after the fixtures that made it.
- ``rokt_emulator_session``: the session's emulator itself, never reset for you,
  for module- or session-scoped fixtures.

Deterministic retries: ``RoktClient(..., timing=FakeTiming())`` (also exported
here) makes backoff waits instant and recorded, and fixes the jitter.

Session-wide settings, in the ini file; they build the session's emulator:

- ``rokt_emulator_api_key``, ``rokt_emulator_tag_id``: the credentials it accepts
  (``test-key``, ``test-tag``);
- ``rokt_emulator_reservation_ttl``: seconds a reservation lives (600);
- ``rokt_emulator_default_stock``: stock of each item not in a catalog (1000000);
- ``rokt_emulator_resend``: how a resent cart/confirm is answered: ``replay`` (the
  first confirmation, the default), ``reject`` (the item failed as
  ``AlreadyConfirmed``) or ``duplicate`` (quantity-only items bought again);
- ``rokt_emulator_env`` (default true): before collection, set ``ROKT_API_KEY``,
  ``ROKT_TAG_ID`` and ``ROKT_BASE_URL`` to the session's emulator, so a
  ``RoktClient.from_env()`` built when a module is imported reaches it; the
  previous values come back when the session ends. ``false`` leaves them alone.

Per test (or class, or module through ``pytestmark``):

- ``@pytest.mark.rokt_resend("duplicate")`` switches the resend mode of the
  test's emulator; the next test is back to the ini default.
- ``@pytest.mark.rokt_emulator(catalog=..., default_stock=1, reservation_ttl=30,
  api_key=..., ...)`` gives the test its own emulator, built from the ini settings
  with these ``Emulator`` options on top (the closest marker wins per option),
  stopped after the test. ``rokt_emulator``, ``rokt_client`` and
  ``rokt_client_factory`` follow it; clients built from the environment still
  reach the session's emulator.

The plugin is not registered through a ``pytest11`` entry point, so installing
rokt-async never imports aiohttp into unrelated test runs.
"""

from __future__ import annotations

import asyncio
import functools
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio

from ._client import RoktClient
from ._config import NO_WAIT_RETRY
from ._testing_config import (
    EMULATOR_MARKER,
    RESEND_MARKER,
    add_ini_options,
    caller_site,
    close_plugin_state,
    marker_options,
    plugin_state,
    register_markers,
)
from ._timing import FakeTiming
from .emulator import RESEND_MODES, Emulator

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Coroutine, Iterator

__all__ = [
    "FakeTiming",
    "RoktClientFactory",
    "rokt_client",
    "rokt_client_factory",
    "rokt_emulator",
    "rokt_emulator_session",
]

FakeTiming.__module__ = __name__  # shown as rokt_async.testing.FakeTiming


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ``rokt_emulator_*`` ini options."""
    add_ini_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers and check the ini options.

    Raises:
        pytest.UsageError: an ini option has an unusable value.
    """
    register_markers(config)
    plugin_state(config)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """With ``-p rokt_async.testing``: export ``ROKT_*`` before conftests import."""
    plugin_state(early_config).set_env()


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Export ``ROKT_*`` before collection imports any test module."""
    plugin_state(session.config).set_env()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Restore the environment and stop the session's emulator.

    Runs that end sooner (``--help``, ``--version``) do it in a config cleanup.
    """
    close_plugin_state(session.config)


@pytest.fixture(scope="session")
def rokt_emulator_session(pytestconfig: pytest.Config) -> Emulator:
    """The session's one emulator, serving from a background thread; never reset."""
    return plugin_state(pytestconfig).emulator()


@pytest.fixture
def rokt_emulator(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """The test's emulator: the session's, reset, or its own if marked.

    Raises:
        pytest.UsageError: a ``rokt_emulator`` or ``rokt_resend`` marker is unusable.
    """
    options = marker_options(request.node, plugin_state(request.config).options)
    if not options:
        emulator: Emulator = request.getfixturevalue("rokt_emulator_session")
        emulator.reset()
        _apply_resend_marker(emulator, request)
        yield emulator
        return
    try:
        own = Emulator(**options)
    except ValueError as exc:
        raise pytest.UsageError(f"{EMULATOR_MARKER} marker: {exc}") from None
    with own:
        _apply_resend_marker(own, request)
        yield own


def _apply_resend_marker(emulator: Emulator, request: pytest.FixtureRequest) -> None:
    marker = request.node.get_closest_marker(RESEND_MARKER)
    if marker is None:
        return
    if len(marker.args) != 1 or marker.kwargs or marker.args[0] not in RESEND_MODES:
        raise pytest.UsageError(
            f"{RESEND_MARKER} takes one mode, one of {', '.join(RESEND_MODES)}"
        )
    emulator.set_resend(marker.args[0])


@pytest_asyncio.fixture
async def rokt_client(
    rokt_emulator: Emulator, request: pytest.FixtureRequest
) -> AsyncIterator[RoktClient]:
    """An open RoktClient on the emulator, retrying without waits; closed after."""
    site = (
        f"the rokt_client fixture of {request.node.nodeid} (on the fixture loop"
        " scope; a test on another loop needs rokt_client_factory)"
    )
    async with _client_for(rokt_emulator, site) as client:
        yield client


class RoktClientFactory:
    """Opens clients on the emulator, on whichever loop awaits it.

    ``client = await rokt_client_factory(**overrides)``: a ``RoktClient`` on the
    test's emulator with ``retry=NO_WAIT_RETRY``, opened on the running loop;
    keyword arguments of ``RoktClient`` win. Every client it opened and that is
    still open is closed when the test ends, on its own loop, after the fixtures
    that made it were torn down. Closing one earlier is fine.
    """

    __slots__ = ("_add_finalizer", "_emulator")

    def __init__(
        self, emulator: Emulator, add_finalizer: Callable[[Callable[[], None]], None]
    ) -> None:
        self._emulator = emulator
        self._add_finalizer = add_finalizer

    def __call__(self, **overrides: Any) -> Coroutine[Any, Any, RoktClient]:
        """A coroutine opening a new client; see the class.

        Raises:
            ConfigurationError: an override is unusable (raised here, not awaited).
        """
        return self._open(_client_for(self._emulator, caller_site(), **overrides))

    async def _open(self, client: RoktClient) -> RoktClient:
        await client.open()
        loop = asyncio.get_running_loop()
        self._add_finalizer(functools.partial(_close_on, loop, client))
        return client


@pytest.fixture
def rokt_client_factory(
    rokt_emulator: Emulator, request: pytest.FixtureRequest
) -> RoktClientFactory:
    """Open clients on the test's emulator from any loop; closed when the test ends.

    Synchronous, so the loop is the caller's: the test's or the fixture's that
    awaits it, whatever its loop scope.
    """
    return RoktClientFactory(rokt_emulator, request.node.addfinalizer)


def _client_for(emulator: Emulator, site: str, **overrides: Any) -> RoktClient:
    options: dict[str, Any] = {
        "api_key": emulator.api_key,
        "tag_id": emulator.tag_id,
        "base_url": emulator.url,
        "retry": NO_WAIT_RETRY,
        **overrides,
    }
    client = RoktClient(**options)
    # Name the partner's line, not ours, in leak warnings and loop-mismatch errors.
    client._shared.created_at = site
    return client


def _close_on(loop: asyncio.AbstractEventLoop, client: RoktClient) -> None:
    """Close ``client`` on ``loop``, the loop it was opened on.

    Raises:
        RuntimeError: the loop is closed, so the client cannot be closed cleanly.
    """
    if client.is_closed:
        return
    if loop.is_closed():
        raise RuntimeError(
            f"rokt_client_factory cannot close the RoktClient created at"
            f" {client._shared.created_at}: its event loop is already closed; close"
            " it yourself before its loop ends"
        )
    if loop.is_running():  # a loop on another thread
        asyncio.run_coroutine_threadsafe(client.close(), loop).result(timeout=30)
    else:
        loop.run_until_complete(client.close())
