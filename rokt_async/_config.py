"""Frozen config values: Timeouts, PoolLimits, RetryPolicy and their DEFAULT_* values.

Durations are float seconds. Change a value with ``dataclasses.replace``.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from ._errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_DEADLINES",
    "DEFAULT_LIMITS",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_RETRY",
    "DEFAULT_TIMEOUTS",
    "NO_RETRY",
    "NO_WAIT_RETRY",
    "STAGING_BASE_URL",
    "PoolLimits",
    "RetryPolicy",
    "Timeouts",
    "check_base_url",
    "check_header_value",
]

DEFAULT_BASE_URL: Final = "https://api.rokt.com"
STAGING_BASE_URL: Final = "https://api.stage.rokt.com"
DEFAULT_MAX_RESPONSE_BYTES: Final = 1 << 20  # 1 MiB, counted while reading

#: Overall per-call deadline by endpoint, waits included. placements/any fails fast:
#: a slow answer should mean "no upsell", never a stalled checkout. Its keys are the
#: names of the client's endpoints (``_endpoints.ALL``; a test holds them together).
DEFAULT_DEADLINES: Final[Mapping[str, float]] = MappingProxyType(
    {
        "placements": 1.5,
        "reserve": 5.0,
        "confirm": 20.0,
        "release": 10.0,
        "cancel": 20.0,
        "events": 10.0,
        "token": 10.0,
    }
)


def _positive(owner: object, name: str, value: float) -> None:
    if not (value > 0 and math.isfinite(value)):
        raise ConfigurationError(f"{type(owner).__name__}.{name} must be > 0")


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeouts:
    """Per-attempt limits below the call's deadline.

    An attempt lasts at most ``connect + response`` seconds, and never past the call's
    deadline (``RetryPolicy.deadlines`` or the per-call ``timeout=``).

    Args:
        connect: waiting for a pooled connection plus TCP/TLS connect.
        response: once connected, the time to send the request and receive the
            whole answer (one timer, not a gap between reads: Rokt's bodies are
            small, so this is mostly the server's think time).
    """

    connect: float = 3.0
    response: float = 10.0

    def __post_init__(self) -> None:
        _positive(self, "connect", self.connect)
        _positive(self, "response", self.response)

    @property
    def attempt_limit(self) -> float:
        """The longest one attempt may take: ``connect + response``."""
        return self.connect + self.response


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolLimits:
    """Connection pool shape. Rokt is one host, so every connection may go to it.

    Args:
        connections: open connections at most (also the per-host limit).
        keepalive: seconds an idle connection is kept; below Rokt's 5 s idle cut-off
            so we close first and never reuse a connection the server dropped.
        dns_ttl: seconds a DNS answer is cached.
    """

    connections: int = 100
    keepalive: float = 4.0
    dns_ttl: float = 60.0

    def __post_init__(self) -> None:
        if self.connections < 1:
            raise ConfigurationError("PoolLimits.connections must be >= 1")
        _positive(self, "keepalive", self.keepalive)
        _positive(self, "dns_ttl", self.dns_ttl)


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """When to try again. Attempts and a per-endpoint deadline bound every call.

    Args:
        max_attempts: attempts per call, the first included.
        base_delay: first backoff step before full jitter; doubles each retry.
        max_delay: cap on one backoff sleep (and on an honoured ``Retry-After``).
        deadlines: overall deadline per endpoint, waits included.
        retry_reserve_when_ambiguous: retry reserve after a 504/reset/read timeout;
            off by default because a duplicate reserve holds stock until it expires.
        retry_quantity_confirm_when_ambiguous: retry a confirm with an item that
            has no ``item_reservation_id`` after a 504/reset/read timeout; off by
            default because Rokt documents nothing that recognises such a resend,
            so it could buy the items twice. Confirms whose every item names its
            reservation are always resent (a reservation is confirmed at most once).
        hedge_placements_after: if set, placements/any sends a second attempt after
            this many seconds without an answer; the first answer wins.
    """

    max_attempts: int = 4
    base_delay: float = 0.1
    max_delay: float = 2.0
    deadlines: Mapping[str, float] = field(default_factory=lambda: DEFAULT_DEADLINES)
    retry_reserve_when_ambiguous: bool = False
    retry_quantity_confirm_when_ambiguous: bool = False
    hedge_placements_after: float | None = None

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ConfigurationError("RetryPolicy.max_attempts must be >= 1")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ConfigurationError("RetryPolicy delays must be >= 0")
        unknown = sorted(set(self.deadlines) - set(DEFAULT_DEADLINES))
        if unknown:
            names = ", ".join(map(repr, unknown))
            raise ConfigurationError(
                f"RetryPolicy.deadlines has no endpoint {names};"
                f" the endpoints are {', '.join(sorted(DEFAULT_DEADLINES))}"
            )
        merged = dict(DEFAULT_DEADLINES)
        merged.update(self.deadlines)
        for name, value in merged.items():
            _positive(self, f"deadlines[{name!r}]", value)
        object.__setattr__(self, "deadlines", MappingProxyType(merged))
        if self.hedge_placements_after is not None:
            _positive(self, "hedge_placements_after", self.hedge_placements_after)

    def deadline_for(self, endpoint: str) -> float:
        """The overall deadline of one call to ``endpoint``."""
        return self.deadlines[endpoint]


DEFAULT_TIMEOUTS: Final = Timeouts()
DEFAULT_LIMITS: Final = PoolLimits()
DEFAULT_RETRY: Final = RetryPolicy()
#: Retries with no waits: for tests, so they run fast and never sleep.
NO_WAIT_RETRY: Final = replace(DEFAULT_RETRY, base_delay=0.0, max_delay=0.0)
#: One attempt per call.
NO_RETRY: Final = replace(DEFAULT_RETRY, max_attempts=1)

_LOOPBACK_NAMES: Final = frozenset({"localhost", "localhost.localdomain"})
_VERSION_SUFFIXES: Final = ("/v1", "/v2")


def is_loopback_host(host: str) -> bool:
    """True for localhost and any 127.0.0.0/8 or ::1 address."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(url: str) -> str:
    """Return ``url`` without a trailing slash; https unless the host is loopback."""
    parts = urlsplit(url)
    host = parts.hostname
    if not host or parts.scheme not in ("http", "https"):
        raise ConfigurationError("base_url must be an absolute http(s) URL")
    if parts.username or parts.password:
        raise ConfigurationError("base_url must not carry credentials")
    if parts.query or parts.fragment:
        raise ConfigurationError("base_url must not carry a query or fragment")
    if parts.scheme == "http" and not is_loopback_host(host):
        raise ConfigurationError("base_url must use https (http only for loopback)")
    if parts.path.rstrip("/").lower().endswith(_VERSION_SUFFIXES):
        raise ConfigurationError(
            "base_url must be the API's root (like https://api.rokt.com), without"
            " a /v1 or /v2 path: the client adds each endpoint's full path"
        )
    check_header_value("base_url", url, ConfigurationError)
    return url.rstrip("/")


def check_header_value(
    name: str, value: str, error: type[ConfigurationError] | type[ValueError]
) -> str:
    """Refuse CR, LF and other control characters; the value is never echoed."""
    if not isinstance(value, str):
        raise error(f"{name} must be a str, not {type(value).__name__}")
    if not value:
        raise error(f"{name} must not be empty")
    if not value.isprintable() or not value.isascii():
        raise error(f"{name} contains a control or non-ASCII character")
    return value
