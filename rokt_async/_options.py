"""``ClientOptions``: RoktClient's keyword arguments as a type, for ``from_env``."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:
    import ssl
    from collections.abc import Iterable, Sequence

    import aiohttp

    from ._config import PoolLimits, RetryPolicy, Timeouts
    from ._retry import RetryHook


class ClientOptions(TypedDict, total=False):
    """Every keyword ``RoktClient`` takes; ``from_env(**overrides)`` is checked
    against it, so a misspelt keyword is a type error, not a surprise."""

    api_key: str
    tag_id: str
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
