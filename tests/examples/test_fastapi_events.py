"""examples/fastapi_events.py served by uvicorn on 127.0.0.1 against the emulator."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from examples import fastapi_events
from tests.examples.test_fastapi_checkout import included_block, served

if TYPE_CHECKING:
    from collections.abc import Iterator

    import httpx

    from rokt_async.emulator import Emulator

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "fastapi_events.py"
INCLUDE = "<!-- include: examples/fastapi_events.py -->"


@pytest.fixture
def purchases(
    rokt_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> Iterator[httpx.Client]:
    """The example under real uvicorn (its own thread), events-only from ``ROKT_*``."""
    for name in ("ROKT_API_KEY", "ROKT_TAG_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ROKT_EVENT_PUBLIC_KEY", "rpub-test")
    monkeypatch.setenv("ROKT_EVENT_SECRET_KEY", "rsec-test")
    monkeypatch.setenv("ROKT_ACCOUNT_ID", "12345")
    monkeypatch.setenv("ROKT_BASE_URL", rokt_emulator.url)
    with served(fastapi_events.app) as http:
        yield http


def test_purchases_are_queued_at_once_and_delivered_in_the_background(
    purchases: httpx.Client, rokt_emulator: Emulator
) -> None:
    for n in range(120):
        answer = purchases.post(
            "/purchases", json={"order_id": f"order-{n}", "email": f"{n}@example.com"}
        )
        assert answer.status_code == 202, answer.text
    deadline = time.monotonic() + 10.0
    while rokt_emulator.ledger().events_applied < 120 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert rokt_emulator.ledger().events_applied == 120
    assert rokt_emulator.ledger().event_duplicates == ()
    stats = purchases.get("/events/stats").json()
    assert stats == {
        "added": 120,
        "queued": 0,
        "delivered": 120,
        "unprocessed": 0,
        "undelivered": 0,
    }
    (first, *_) = rokt_emulator.requests("events")
    sent = first.body.decode()
    assert '"objectData":[{"name":"email","value":"0@example.com"}' in sent
    assert '{"name":"conversiontype","value":"purchase"}' in sent


def test_an_event_rokt_would_refuse_is_a_400_from_the_handler(
    purchases: httpx.Client,
) -> None:
    answer = purchases.post("/purchases", json={"order_id": "x" * 37, "email": "e"})
    assert answer.status_code == 400
    assert "client_event_id is 37 characters" in answer.json()["detail"]


def test_readme_shows_the_events_example_verbatim() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert included_block(readme, INCLUDE) == EXAMPLE.read_text(encoding="utf-8")
