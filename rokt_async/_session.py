"""Builds the pooled aiohttp ClientSession from config and records who owns it."""

from __future__ import annotations

import platform
from typing import TYPE_CHECKING, Final

import aiohttp

from ._version import __version__

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ._config import PoolLimits, Timeouts

USER_AGENT: Final = (
    f"rokt-async/{__version__} aiohttp/{aiohttp.__version__} "
    f"Python/{platform.python_version()}"
)


def client_timeout(
    timeouts: Timeouts, remaining: float | None
) -> aiohttp.ClientTimeout:
    """One attempt's aiohttp timeout: connect + read at most, never past the deadline.

    One timer per attempt: aiohttp's ``sock_read`` would re-arm a second timer on
    every chunk received, which costs more than the whole msgspec decode.
    """
    cap = timeouts.attempt_limit
    total = cap if remaining is None else min(cap, remaining)
    return aiohttp.ClientTimeout(total=total, connect=timeouts.connect)


def new_session(
    *,
    timeouts: Timeouts,
    limits: PoolLimits,
    headers: Mapping[str, str],
    trace_configs: Sequence[aiohttp.TraceConfig],
) -> aiohttp.ClientSession:
    """A session over one TCPConnector sized for a single host (Rokt).

    Must run inside the event loop that will use the session.
    """
    connector = aiohttp.TCPConnector(
        limit=limits.connections,
        limit_per_host=limits.connections,
        keepalive_timeout=limits.keepalive,
        use_dns_cache=True,
        ttl_dns_cache=int(limits.dns_ttl),
    )
    return aiohttp.ClientSession(
        connector=connector,
        connector_owner=True,
        cookie_jar=aiohttp.DummyCookieJar(),
        timeout=client_timeout(timeouts, None),
        headers=dict(headers),
        trace_configs=list(trace_configs) or None,
        raise_for_status=False,
        auto_decompress=True,
    )
