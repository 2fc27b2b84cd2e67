"""Fixtures for the emulator tests: an emulator on the test's loop, clients on it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp
import pytest_asyncio

from rokt_async import NO_RETRY, RoktClient
from rokt_async.emulator import CatalogItem, Emulator
from tests.emulator._helpers import KEY, T0, TAG, TTL

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


@pytest_asyncio.fixture
async def emulator() -> AsyncIterator[Emulator]:
    """An emulator on the test's loop with a fixed clock and a small catalog."""
    emu = Emulator(
        api_key=KEY,
        tag_id=TAG,
        reservation_ttl=TTL,
        clock=lambda: T0,
        catalog={"scarce": CatalogItem(stock=2, unit_price=7.5, currency="EUR")},
    )
    async with emu:
        yield emu


@pytest_asyncio.fixture
async def client(emulator: Emulator) -> AsyncIterator[RoktClient]:
    """A RoktClient on the emulator that never retries."""
    async with RoktClient(
        api_key=KEY, tag_id=TAG, base_url=emulator.url, retry=NO_RETRY
    ) as rokt:
        yield rokt


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session for requests RoktClient would never send."""
    async with aiohttp.ClientSession() as session:
        yield session
