"""``RoktClient.from_env`` reads Event API credentials from ``ROKT_EVENT_*``."""

from __future__ import annotations

import datetime

import pytest
from aioresponses import aioresponses

from rokt_async import (
    BasicCredentials,
    ConfigurationError,
    Event,
    RoktClient,
)
from tests.conftest import FAKE_BASE

VARS = (
    "ROKT_API_KEY",
    "ROKT_TAG_ID",
    "ROKT_EVENT_PUBLIC_KEY",
    "ROKT_EVENT_SECRET_KEY",
    "ROKT_EVENT_APP_ID",
    "ROKT_EVENT_APP_SECRET",
)
NOW = datetime.datetime.now(datetime.UTC)
ONE = [Event(client_event_id="e", event_type="conversion", event_time=NOW)]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("ROKT_BASE_URL", FAKE_BASE)


@pytest.mark.parametrize(
    ("first", "second", "path"),
    [
        ("ROKT_EVENT_PUBLIC_KEY", "ROKT_EVENT_SECRET_KEY", "/v2/events"),
        ("ROKT_EVENT_APP_ID", "ROKT_EVENT_APP_SECRET", "/v1/events"),
    ],
)
async def test_event_keys_alone_make_an_events_only_client(
    monkeypatch: pytest.MonkeyPatch, first: str, second: str, path: str
) -> None:
    monkeypatch.setenv(first, "public-or-app")
    monkeypatch.setenv(second, "secret")
    async with RoktClient.from_env() as rokt:
        with aioresponses() as mocked:
            mocked.post(f"{FAKE_BASE}/auth/oauth2/token", payload={"access_token": "t"})
            mocked.post(f"{FAKE_BASE}{path}", payload={})
            result = await rokt.send_events(ONE, account_id="1")
    assert result.is_complete


def test_half_a_pair_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROKT_EVENT_PUBLIC_KEY", "rpub-x")
    with pytest.raises(ConfigurationError, match="ROKT_EVENT_SECRET_KEY go together"):
        RoktClient.from_env()


def test_without_cart_or_event_keys_the_missing_variable_is_named() -> None:
    with pytest.raises(ConfigurationError, match="ROKT_API_KEY is not set"):
        RoktClient.from_env()


async def test_event_credentials_given_win_over_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """OAuth keys in the environment; Basic given: events go to /v2."""
    monkeypatch.setenv("ROKT_EVENT_APP_ID", "app")
    monkeypatch.setenv("ROKT_EVENT_APP_SECRET", "secret")
    given = BasicCredentials("rpub-given", "rsec-given")
    async with RoktClient.from_env(event_credentials=given) as rokt:
        with aioresponses() as mocked:
            mocked.post(f"{FAKE_BASE}/v2/events", payload={})
            result = await rokt.send_events(ONE, account_id="1")
    assert result.is_complete
