"""Outbox fixtures: the reset emulator, a SQLite file, carts reserved on it."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio

from rokt_async import (
    NO_WAIT_RETRY,
    ConfirmItem,
    ConfirmRequest,
    ReleaseItem,
    ReleaseRequest,
    ReserveItem,
    ReserveRequest,
    RoktClient,
)
from rokt_async.outbox import Outbox, SQLiteStore
from rokt_async.outbox._procrastinate import ProcrastinateStore
from tests.outbox._pg import open_app, pg_app, pg_dsn, pg_server, pg_store

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from rokt_async.emulator import Emulator

__all__ = ["pg_app", "pg_dsn", "pg_server", "pg_store"]  # fixtures, re-exported


@pytest.fixture
def emulator(rokt_emulator: Emulator) -> Emulator:
    """The plugin's session emulator, freshly reset for this test."""
    return rokt_emulator


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "outbox.db")


@pytest_asyncio.fixture
async def sqlite_outbox(db_path: str) -> AsyncIterator[Outbox]:
    """An outbox on a fresh SQLite file, with short backoff for tests."""
    box = Outbox(SQLiteStore(db_path), base_delay=0.02, max_delay=0.1)
    yield box
    await box.close()


@pytest_asyncio.fixture(params=["sqlite", "postgres"])
async def outbox(request: pytest.FixtureRequest, db_path: str) -> AsyncIterator[Outbox]:
    """The same outbox semantics on each store: a fresh SQLite file, or the
    test PostgreSQL server's emptied database (``tests/outbox/_pg.py``)."""
    if request.param == "sqlite":
        box = Outbox(SQLiteStore(db_path), base_delay=0.02, max_delay=0.1)
        yield box
        await box.close()
        return
    app = open_app(request.getfixturevalue("pg_dsn"))  # a sync fixture
    async with app.open_async():
        box = Outbox(ProcrastinateStore(app), base_delay=0.02, max_delay=0.1)
        yield box
        await box.close()


async def drained(outbox: Outbox, limit: float = 20.0) -> None:
    """Wait until nothing is pending or in flight (bounded by ``limit``)."""
    async with asyncio.timeout(limit):
        while True:
            stats = await outbox.stats()
            if stats.pending == 0 and stats.in_flight == 0:
                return
            await asyncio.sleep(0.02)


async def confirms_seen(emulator: Emulator, count: int, limit: float = 10.0) -> None:
    """Wait (bounded by ``limit``) until the emulator has seen ``count`` confirms."""
    async with asyncio.timeout(limit):
        while True:
            if len(emulator.requests("confirm")) >= count:
                return
            await asyncio.sleep(0.01)


def client(emulator: Emulator, **options: object) -> RoktClient:
    options.setdefault("retry", NO_WAIT_RETRY)
    return RoktClient(
        api_key=emulator.api_key,
        tag_id=emulator.tag_id,
        base_url=emulator.url,
        **options,  # type: ignore[arg-type]
    )


async def reserved_confirm(rokt: RoktClient, cart: str, order: str) -> ConfirmRequest:
    """A confirm of a freshly reserved item (safe to resend)."""
    held = await rokt.reserve_cart(
        ReserveRequest(
            cart_id=cart, items=(ReserveItem(cart_item_id="parking", quantity=1),)
        )
    )
    return ConfirmRequest(
        cart_id=cart,
        order_id=order,
        items=tuple(
            ConfirmItem(
                cart_item_id=i.cart_item_id, item_reservation_id=i.item_reservation_id
            )
            for i in held.items
        ),
    )


def quantity_confirm(cart: str, order: str) -> ConfirmRequest:
    """A confirm by quantity alone (not safe to resend after an ambiguous failure)."""
    return ConfirmRequest(
        cart_id=cart,
        order_id=order,
        items=(ConfirmItem(cart_item_id="parking", quantity=1),),
    )


async def reserved_release(rokt: RoktClient, cart: str) -> ReleaseRequest:
    held = await rokt.reserve_cart(
        ReserveRequest(
            cart_id=cart, items=(ReserveItem(cart_item_id="lounge", quantity=1),)
        )
    )
    return ReleaseRequest(
        cart_id=cart,
        items=tuple(
            ReleaseItem(
                cart_item_id=i.cart_item_id, item_reservation_id=i.item_reservation_id
            )
            for i in held.items
        ),
    )
