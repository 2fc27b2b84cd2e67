"""The background sender: ``add`` never waits, every event is accounted for."""

from __future__ import annotations

import asyncio
import datetime
import socket
from typing import Any

import pytest
from aioresponses import aioresponses

from rokt_async import (
    NO_WAIT_RETRY,
    BasicCredentials,
    ClientStateError,
    ConfigurationError,
    Event,
    EventQueueFullError,
    RequestValidationError,
    RoktClient,
)
from tests.conftest import FAKE_BASE

V2 = f"{FAKE_BASE}/v2/events"
BASIC = BasicCredentials(public_key="rpub-test", secret_key="rsec-test")
ACCEPTED: dict[str, Any] = {"data": {"unprocessedRecords": []}}


def event(n: int, when: datetime.datetime | None = None) -> Event:
    return Event(
        client_event_id=f"e-{n}",
        event_type="conversion",
        event_time=when or datetime.datetime.now(datetime.UTC),
    )


def client(base_url: str = FAKE_BASE, **options: Any) -> RoktClient:
    options.setdefault("retry", NO_WAIT_RETRY)
    return RoktClient(base_url=base_url, event_credentials=BASIC, **options)


def closed_port() -> str:
    """A loopback URL nothing listens on: every connect is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def test_add_queues_and_flush_delivers_everything_added() -> None:
    async with client() as rokt:
        with aioresponses() as mocked:
            mocked.post(V2, payload=ACCEPTED, repeat=True)
            async with rokt.event_sender(account_id="1", flush_interval=60) as sender:
                for n in range(250):
                    sender.add(event(n))
                await sender.flush()
                stats = sender.stats
    assert (stats.added, stats.delivered, stats.queued) == (250, 250, 0)
    assert stats.batches_sent == 3  # two full batches sent by add, the rest by flush
    assert (stats.undelivered, stats.dropped) == (0, 0)


async def test_a_full_batch_goes_out_without_a_flush() -> None:
    async with client() as rokt:
        with aioresponses() as mocked:
            mocked.post(V2, payload=ACCEPTED, repeat=True)
            async with rokt.event_sender(account_id="1", flush_interval=60) as sender:
                for n in range(100):
                    sender.add(event(n))
                for _ in range(20):
                    if sender.stats.delivered == 100:
                        break
                    await asyncio.sleep(0)
                assert sender.stats.delivered == 100


async def test_the_flush_interval_sends_a_partial_batch() -> None:
    async with client() as rokt:
        with aioresponses() as mocked:
            mocked.post(V2, payload=ACCEPTED, repeat=True)
            async with rokt.event_sender(account_id="1", flush_interval=0.01) as sender:
                sender.add(event(1))
                for _ in range(200):
                    if sender.stats.delivered:
                        break
                    await asyncio.sleep(0.01)
                assert sender.stats.delivered == 1


async def test_a_full_queue_raises_and_adds_nothing() -> None:
    async with client(closed_port()) as rokt:
        sender = rokt.event_sender(account_id="1", max_queue=3, flush_interval=60)
        async with sender:
            for n in range(3):
                sender.add(event(n))
            with pytest.raises(EventQueueFullError, match="3 events not yet delivered"):
                sender.add(event(3))
            assert sender.stats.added == 3
    assert len(sender.undelivered) == 3


async def test_close_with_rokt_down_keeps_every_event_undelivered() -> None:
    async with (
        client(closed_port()) as rokt,
        rokt.event_sender(account_id="1", flush_interval=60) as sender,
    ):
        for n in range(150):
            sender.add(event(n))
    stats = sender.stats
    ids = sorted(e.client_event_id for e in sender.undelivered)
    assert ids == sorted(f"e-{n}" for n in range(150))
    assert (stats.added, stats.delivered, stats.undelivered, stats.queued) == (
        150,
        0,
        150,
        0,
    )
    assert stats.failed == 150


async def test_close_timeout_cancels_what_is_still_in_flight() -> None:
    async def never(*_: Any, **__: Any) -> None:
        await asyncio.sleep(3600)

    async with client() as rokt:
        with aioresponses() as mocked:
            mocked.post(V2, callback=never, repeat=True)
            sender = rokt.event_sender(
                account_id="1", flush_interval=60, close_timeout=0.05
            )
            async with sender:
                sender.add(event(1))
            undelivered = await sender.close()  # closed already: the same answer
    assert [e.client_event_id for e in undelivered] == ["e-1"]
    stats = sender.stats
    assert (stats.added, stats.delivered, stats.undelivered, stats.queued) == (
        1,
        0,
        1,
        0,
    )


async def test_cancelling_the_owner_still_accounts_for_every_event() -> None:
    started = asyncio.Event()
    holder: dict[str, Any] = {}

    async def owner(rokt: RoktClient) -> None:
        async with rokt.event_sender(account_id="1", flush_interval=60) as sender:
            holder["sender"] = sender
            for n in range(120):
                sender.add(event(n))
            started.set()
            await asyncio.sleep(3600)

    async with client(closed_port(), retry=NO_WAIT_RETRY) as rokt:
        task = asyncio.create_task(owner(rokt))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    stats = holder["sender"].stats
    assert stats.added == 120
    assert stats.queued == 0
    assert stats.delivered + stats.unprocessed + stats.undelivered == 120


async def test_add_outside_the_block_and_bad_events_are_refused() -> None:
    async with client() as rokt:
        sender = rokt.event_sender(account_id="1")
        with pytest.raises(ClientStateError, match="is new"):
            sender.add(event(1))
        async with sender:
            future = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)
            with pytest.raises(RequestValidationError, match="5 minutes ahead"):
                sender.add(event(2, future))
            with pytest.raises(RequestValidationError, match="must be an Event"):
                sender.add({"clientEventId": "x"})  # type: ignore[arg-type]
        with pytest.raises(ClientStateError, match="is closed"):
            sender.add(event(3))
        assert sender.stats.added == 0


@pytest.mark.parametrize(
    "options",
    [
        {"max_queue": 0},
        {"concurrency": 0},
        {"flush_interval": 0},
        {"close_timeout": -1},
        {"account_id": ""},
    ],
)
async def test_bad_sender_settings_are_refused(options: dict[str, Any]) -> None:
    async with client() as rokt:
        settings: dict[str, Any] = {"account_id": "1", **options}
        with pytest.raises((ConfigurationError, RequestValidationError)):
            rokt.event_sender(**settings)
