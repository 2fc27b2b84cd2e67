"""Shared test helpers: canned requests, a canary key and no-wait clients."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import aioresponses.core
import pytest
import pytest_asyncio
from aiohttp import ClientResponse

from rokt_async import (
    NO_WAIT_RETRY,
    CancelRequest,
    ConfirmItem,
    ConfirmRequest,
    PlacementsRequest,
    ReleaseItem,
    ReleaseRequest,
    ReserveItem,
    ReserveRequest,
    RoktClient,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from rokt_async.emulator import Emulator

#: Our own shipped plugin: rokt_emulator and rokt_client fixtures.
pytest_plugins = ["rokt_async.testing"]


class _SentStreamWriter:
    """Stands in for the request writer aiohttp 3.14 hands every response."""

    output_size = 0


class _CompatResponse(ClientResponse):
    """aioresponses 0.7.9 predates aiohttp 3.14's required ``stream_writer``
    argument (pnuckowski/aioresponses#289); supply one so it keeps working."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", _SentStreamWriter())
        super().__init__(*args, **kwargs)


aioresponses.core.ClientResponse = _CompatResponse  # type: ignore[attr-defined]

#: A key that must never show up in logs, reprs or exception chains.
CANARY_KEY = "rk-CANARY-7f3a9c1e5b"
TAG_ID = "253_439d21r21r21321"
FAKE_BASE = "https://api.rokt.test"

A_RESERVE = ReserveRequest(
    cart_id="cart-1", items=(ReserveItem(cart_item_id="parking", quantity=2),)
)
A_CONFIRM = ConfirmRequest(
    cart_id="cart-1",
    order_id="order-1",
    items=(ConfirmItem(cart_item_id="parking", item_reservation_id="res-1"),),
)
A_RELEASE = ReleaseRequest(
    cart_id="cart-1",
    items=(ReleaseItem(cart_item_id="parking", item_reservation_id="res-1"),),
)
A_CANCEL = CancelRequest(item_reservation_id="res-1")
A_PLACEMENTS = PlacementsRequest(cart_id="cart-1", page_identifier="checkout.upsell")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--soak",
        action="store_true",
        default=False,
        help="run the reliability suite at full size (make soak)",
    )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the reliability suite's measured figures, one row per figure."""
    from tests.reliability._figures import FIGURES

    if FIGURES.rows:
        terminalreporter.section("reliability figures")
        for line in FIGURES.table():
            terminalreporter.write_line(line)


def make_client(
    base_url: str = FAKE_BASE,
    *,
    api_key: str = CANARY_KEY,
    tag_id: str = TAG_ID,
    **options: Any,
) -> RoktClient:
    """A client (canary key by default) with a retry policy that never sleeps."""
    options.setdefault("retry", NO_WAIT_RETRY)
    return RoktClient(api_key=api_key, tag_id=tag_id, base_url=base_url, **options)


def emulator_client(emulator: Emulator, **options: Any) -> RoktClient:
    """``make_client`` pointed at an emulator, with its key and tag id."""
    return make_client(
        emulator.url, api_key=emulator.api_key, tag_id=emulator.tag_id, **options
    )


def error_chain(error: BaseException) -> list[BaseException]:
    """The error and everything linked to it: causes, contexts, ``last_error``."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [error]
    while todo:
        item = todo.pop()
        if item is None or any(item is known for known in seen):
            continue
        seen.append(item)
        todo += [item.__cause__, item.__context__, getattr(item, "last_error", None)]
    return seen


@pytest_asyncio.fixture
async def fake_client() -> AsyncIterator[RoktClient]:
    """An open client aimed at a fake https host (for aioresponses)."""
    async with make_client() as client:
        yield client


@pytest.fixture
def canary_key() -> str:
    """The API key every test client uses."""
    return CANARY_KEY
