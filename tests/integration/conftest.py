"""Integration tests run on the shipped plugin's emulator (rokt_async.testing)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from rokt_async.emulator import Emulator


@pytest.fixture
def emulator(rokt_emulator: Emulator) -> Emulator:
    """The plugin's session emulator, freshly reset for this test."""
    return rokt_emulator
