"""``ClientOptions``: RoktClient's keyword arguments as a type, and reading them
from the environment for ``RoktClient.from_env``."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, TypedDict

from ._credentials import BasicCredentials, OAuthCredentials
from ._errors import ConfigurationError

if TYPE_CHECKING:
    import ssl
    from collections.abc import Iterable, Sequence

    import aiohttp

    from ._config import PoolLimits, RetryPolicy, Timeouts
    from ._credentials import EventCredentials
    from ._retry import RetryHook
    from ._timing import Timing


class ClientOptions(TypedDict, total=False):
    """Every keyword ``RoktClient`` takes; ``from_env(**overrides)`` is checked
    against it, so a misspelt keyword is a type error, not a surprise."""

    api_key: str | None
    tag_id: str | None
    base_url: str
    locale: str | None
    timeouts: Timeouts
    retry: RetryPolicy
    limits: PoolLimits
    session: aiohttp.ClientSession | None
    trace_configs: Sequence[aiohttp.TraceConfig]
    on_retry: Iterable[RetryHook]
    max_response_bytes: int
    ssl: ssl.SSLContext | None
    timing: Timing
    event_credentials: EventCredentials | None
    event_api_version: str


def options_from_env(overrides: ClientOptions) -> dict[str, Any]:
    """``RoktClient`` keywords from ``ROKT_*`` variables, ``overrides`` on top."""
    env: dict[str, Any] = {}
    if "event_credentials" not in overrides:
        credentials = _event_credentials_from_env()
        if credentials is not None:
            env["event_credentials"] = credentials
    events_only = bool(
        env.get("event_credentials") or overrides.get("event_credentials")
    )
    for name, var in (("api_key", "ROKT_API_KEY"), ("tag_id", "ROKT_TAG_ID")):
        if name not in overrides:
            value = os.environ.get(var)
            if value:
                env[name] = value
            elif not events_only:
                raise ConfigurationError(f"{var} is not set")
    base_url = os.environ.get("ROKT_BASE_URL")
    if base_url and "base_url" not in overrides:
        env["base_url"] = base_url
    return {**env, **overrides}


def _event_credentials_from_env() -> EventCredentials | None:
    """Basic or OAuth event credentials from ``ROKT_EVENT_*``, or None."""
    pairs = (
        ("ROKT_EVENT_PUBLIC_KEY", "ROKT_EVENT_SECRET_KEY", BasicCredentials),
        ("ROKT_EVENT_APP_ID", "ROKT_EVENT_APP_SECRET", OAuthCredentials),
    )
    for first, second, kind in pairs:
        one, two = os.environ.get(first), os.environ.get(second)
        if one and two:
            return kind(one, two)
        if one or two:
            raise ConfigurationError(f"{first} and {second} go together; one is unset")
    return None
