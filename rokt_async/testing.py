"""Opt-in pytest plugin: a local Rokt emulator and a client pointed at it.

Enable it in a ``conftest.py``::

    pytest_plugins = ["rokt_async.testing"]

Fixtures:

- ``rokt_emulator``: a synchronous fixture, so it works in every pytest-asyncio
  mode. One emulator per test session serves from a background thread with its own
  event loop; it is reset (state, ledger, recorded requests, faults, clock) before
  each test that uses it.
- ``rokt_client``: an open ``RoktClient`` pointed at ``rokt_emulator`` with
  ``retry=NO_WAIT_RETRY`` (retries, no sleeping); closed after the test. Declared
  with ``@pytest_asyncio.fixture``, so strict mode needs no marker on it.

The plugin is not registered through a ``pytest11`` entry point, so installing
rokt-async never imports aiohttp into unrelated test runs. It needs pytest-asyncio.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import pytest_asyncio

from ._client import RoktClient
from ._config import NO_WAIT_RETRY
from .emulator import Emulator

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

__all__ = ["rokt_client", "rokt_emulator"]


@pytest.fixture(scope="session")
def rokt_emulator_session() -> Iterator[Emulator]:
    """The session's one emulator, serving from a background thread."""
    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def rokt_emulator(rokt_emulator_session: Emulator) -> Emulator:
    """The session's emulator, reset for this test."""
    rokt_emulator_session.reset()
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
