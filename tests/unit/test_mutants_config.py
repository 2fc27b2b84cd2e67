"""Config values refuse what they cannot use, with messages that name the field.

Written for the mutants ``make mutate`` left alive in ``_config.py`` (issue #11):
the other tests check that a bad value is refused, not what the refusal says.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import pytest

from rokt_async import ConfigurationError, PoolLimits, RetryPolicy, Timeouts
from tests.conftest import make_client

if TYPE_CHECKING:
    from collections.abc import Callable


def wrong(value: object) -> Any:
    """A value of the wrong type, as untyped partner code would pass it."""
    return value


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Timeouts(connect=0.0), "Timeouts.connect must be > 0"),
        (lambda: Timeouts(response=math.inf), "Timeouts.response must be > 0"),
        (lambda: PoolLimits(connections=0), "PoolLimits.connections must be >= 1"),
        (lambda: PoolLimits(keepalive=-1.0), "PoolLimits.keepalive must be > 0"),
        (lambda: PoolLimits(dns_ttl=math.nan), "PoolLimits.dns_ttl must be > 0"),
        (lambda: RetryPolicy(max_attempts=0), "RetryPolicy.max_attempts must be >= 1"),
        (lambda: RetryPolicy(base_delay=-0.1), "RetryPolicy delays must be >= 0"),
        (lambda: RetryPolicy(max_delay=-1.0), "RetryPolicy delays must be >= 0"),
        (
            lambda: RetryPolicy(deadlines={"confirm": 0.0}),
            "RetryPolicy.deadlines['confirm'] must be > 0",
        ),
        (
            lambda: RetryPolicy(hedge_placements_after=0.0),
            "RetryPolicy.hedge_placements_after must be > 0",
        ),
    ],
)
def test_config_refusal_names_class_and_field(
    build: Callable[[], object], message: str
) -> None:
    """Each refused value is a ConfigurationError naming its class and field."""
    with pytest.raises(ConfigurationError) as caught:
        build()
    assert str(caught.value) == message


def test_unknown_deadline_names_are_listed_and_the_known_ones_given() -> None:
    """Unknown ``deadlines`` keys are listed, comma-separated, with the real ones."""
    with pytest.raises(ConfigurationError) as caught:
        RetryPolicy(deadlines={"bogus": 1.0, "nope": 2.0})
    assert str(caught.value).startswith(
        "RetryPolicy.deadlines has no endpoint 'bogus', 'nope'; the endpoints are "
    )


def test_one_connection_is_a_usable_pool() -> None:
    """``PoolLimits(connections=1)`` is the smallest pool, and it is accepted."""
    assert PoolLimits(connections=1).connections == 1


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("api.rokt.com", "base_url must be an absolute http(s) URL"),
        ("https://user@api.rokt.com", "base_url must not carry credentials"),
        ("https://:secret@api.rokt.com", "base_url must not carry credentials"),
        ("https://api.rokt.com/?a=1", "base_url must not carry a query or fragment"),
        ("http://api.rokt.com", "base_url must use https (http only for loopback)"),
        (
            "https://api.rokt.com/v1/",
            "base_url must be the API's root (like https://api.rokt.com), without"
            " a /v1 or /v2 path: the client adds each endpoint's full path",
        ),
        (
            "https://api.rokt.com/\x7f",
            "base_url contains a control or non-ASCII character",
        ),
    ],
)
def test_bad_base_url_is_refused_saying_why(url: str, message: str) -> None:
    """Each unusable ``base_url`` is a ConfigurationError with its own reason."""
    with pytest.raises(ConfigurationError) as caught:
        make_client(url)
    assert str(caught.value) == message


def test_base_url_loses_only_its_trailing_slashes() -> None:
    """A trailing ``/`` is dropped from ``base_url``; its path stays."""
    client = make_client("https://proxy.example//rokt//")
    assert repr(client).startswith(
        "<RoktClient base_url='https://proxy.example//rokt' "
    )


@pytest.mark.parametrize(
    ("locale", "message"),
    [(wrong(5), "locale must be a str, not int"), ("", "locale must not be empty")],
)
def test_header_value_refusal_names_the_setting(locale: Any, message: str) -> None:
    """A header value of the wrong type, or empty, is refused naming the setting."""
    with pytest.raises(ConfigurationError) as caught:
        make_client(locale=locale)
    assert str(caught.value) == message
