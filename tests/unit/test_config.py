"""Config validation: bad values and header values are refused with typed errors."""

from __future__ import annotations

import dataclasses

import pytest

from rokt_async import (
    DEFAULT_RETRY,
    ConfigurationError,
    PoolLimits,
    RetryPolicy,
    RoktClient,
    Timeouts,
)
from tests.conftest import CANARY_KEY, TAG_ID


@pytest.mark.parametrize(
    "bad",
    [
        "k\r\nX-Injected: 1",
        "k\nx",
        "k\rx",
        "k\x00x",
        "k\tx",
        "k\x7fx",
        "ké",
        "",
    ],
)
def test_control_characters_in_api_key_are_refused(bad: str) -> None:
    """CR, LF and other control or non-ASCII characters in a header value fail."""
    with pytest.raises(ConfigurationError) as caught:
        RoktClient(api_key=bad, tag_id=TAG_ID)
    assert bad not in str(caught.value) or bad == ""


@pytest.mark.parametrize("field", ["tag_id", "locale"])
def test_crlf_in_other_header_values_is_refused(field: str) -> None:
    """tag_id and locale are checked like the key."""
    kwargs = {"api_key": CANARY_KEY, "tag_id": TAG_ID, field: "en\r\nX: y"}
    with pytest.raises(ConfigurationError):
        RoktClient(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "url",
    [
        "http://api.rokt.com",
        "ftp://api.rokt.com",
        "api.rokt.com",
        "https://user:pw@api.rokt.com",
        "https://api.rokt.com/?x=1",
        "http://10.0.0.1:8080",
        "https://api.rokt.com/v1/",
        "https://api.rokt.com/V1",
        "http://127.0.0.1:8080/proxy/v2",
    ],
)
def test_unsafe_or_malformed_base_url_is_refused(url: str) -> None:
    """Only https URLs (or http to a loopback host) at the API's root, or a
    proxy's path without the version, are accepted."""
    with pytest.raises(ConfigurationError):
        RoktClient(api_key=CANARY_KEY, tag_id=TAG_ID, base_url=url)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080",
        "http://127.0.0.2:1",
        "http://localhost:9000/",
        "http://[::1]:8080",
        "https://api.stage.rokt.com",
        "https://proxy.example.com/rokt/",
    ],
)
def test_loopback_http_and_https_base_urls_are_accepted(url: str) -> None:
    """Loopback emulators may use http; anything else must be https."""
    client = RoktClient(api_key=CANARY_KEY, tag_id=TAG_ID, base_url=url)
    assert url.rstrip("/") in repr(client)


@pytest.mark.parametrize(
    "build",
    [
        lambda: Timeouts(connect=0),
        lambda: Timeouts(response=-1),
        lambda: Timeouts(response=float("inf")),
        lambda: PoolLimits(connections=0),
        lambda: PoolLimits(keepalive=0),
        lambda: RetryPolicy(max_attempts=0),
        lambda: RetryPolicy(base_delay=-0.1),
        lambda: RetryPolicy(deadlines={"confirm": 0}),
        lambda: RetryPolicy(hedge_placements_after=0),
    ],
)
def test_invalid_config_values_are_refused(build: object) -> None:
    """Config objects validate themselves when built."""
    assert callable(build)
    with pytest.raises(ConfigurationError):
        build()


def test_retry_policy_merges_partial_deadlines_with_defaults() -> None:
    """Overriding one endpoint's deadline keeps the others' defaults."""
    policy = dataclasses.replace(DEFAULT_RETRY, deadlines={"confirm": 3.0})
    assert policy.deadline_for("confirm") == 3.0
    assert policy.deadline_for("placements") == 1.5


def test_default_retry_policy_matches_checkout_defaults() -> None:
    """Defaults: 4 attempts, 100 ms base, 2 s cap and the per-endpoint deadlines."""
    assert (DEFAULT_RETRY.max_attempts, DEFAULT_RETRY.base_delay) == (4, 0.1)
    assert DEFAULT_RETRY.max_delay == 2.0
    assert dict(DEFAULT_RETRY.deadlines) == {
        "placements": 1.5,
        "reserve": 5.0,
        "confirm": 20.0,
        "release": 10.0,
        "cancel": 20.0,
        "events": 10.0,
        "token": 10.0,
    }


def test_from_env_reads_key_tag_and_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    """from_env builds a client from ROKT_API_KEY, ROKT_TAG_ID and ROKT_BASE_URL."""
    monkeypatch.setenv("ROKT_API_KEY", CANARY_KEY)
    monkeypatch.setenv("ROKT_TAG_ID", TAG_ID)
    monkeypatch.setenv("ROKT_BASE_URL", "https://api.stage.rokt.com")
    client = RoktClient.from_env()
    assert "api.stage.rokt.com" in repr(client)
    assert CANARY_KEY not in repr(client)


def test_from_env_without_key_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing ROKT_API_KEY is a ConfigurationError naming the variable."""
    monkeypatch.delenv("ROKT_API_KEY", raising=False)
    monkeypatch.setenv("ROKT_TAG_ID", TAG_ID)
    with pytest.raises(ConfigurationError, match="ROKT_API_KEY"):
        RoktClient.from_env()


@pytest.mark.parametrize("name", ["confrim", "event", ""])
def test_deadline_for_an_endpoint_the_client_lacks_is_refused(name: str) -> None:
    """A misspelt (or not yet existing) endpoint in deadlines is a
    ConfigurationError naming it and the endpoints there are."""
    with pytest.raises(ConfigurationError, match=repr(name)) as caught:
        RetryPolicy(deadlines={name: 1.0})
    assert "cancel, confirm, events, placements, release, reserve, token" in str(
        caught.value
    )


def test_deadline_names_are_the_endpoint_table_names() -> None:
    """Every endpoint has a default deadline, and every deadline an endpoint."""
    from rokt_async import _endpoints
    from rokt_async._config import DEFAULT_DEADLINES

    assert set(DEFAULT_DEADLINES) == {endpoint.name for endpoint in _endpoints.ALL}
