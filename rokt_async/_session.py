"""Builds the pooled aiohttp ClientSession from config and records who owns it."""

from __future__ import annotations

import functools
import math
import platform
from typing import TYPE_CHECKING, Final, cast

import aiohttp
from aiohttp.client_proto import ResponseHandler

from ._version import __version__

if TYPE_CHECKING:
    import asyncio
    import ssl
    from collections.abc import Mapping, Sequence

    from ._config import PoolLimits, Timeouts

USER_AGENT: Final = (
    f"rokt-async/{__version__} aiohttp/{aiohttp.__version__} "
    f"Python/{platform.python_version()}"
)


#: Bytes asyncio's plain-socket transport asks ``recv()`` for. Its default, 256 KiB,
#: is allocated on every read and then shrunk to the few KiB a Rokt answer holds;
#: under connection churn (resets, retries) that fragments the C heap and RSS
#: creeps. TLS transports read into a buffer of their own and are left as they are.
READ_SIZE: Final = 16 * 1024


class _SizedReadsHandler(ResponseHandler):
    """aiohttp's response protocol, asking the transport for ``READ_SIZE`` reads."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        # asyncio's selector transports read ``self.max_size`` bytes per recv();
        # uvloop's and TLS transports have no such attribute.
        if isinstance(getattr(transport, "max_size", None), int):
            transport.max_size = READ_SIZE  # type: ignore[attr-defined]


#: The shortest attempt timer handed to aiohttp, in seconds.
_SHORTEST: Final = 0.001


def client_timeout(
    timeouts: Timeouts, remaining: float | None
) -> aiohttp.ClientTimeout:
    """One attempt's aiohttp timeout: connect + read at most, never past the deadline.

    One timer per attempt: aiohttp's ``sock_read`` would re-arm a second timer on
    every chunk received, which costs more than the whole msgspec decode.
    """
    cap = timeouts.attempt_limit
    # aiohttp reads a total of 0 or less as "no limit at all": never hand it one.
    total = cap if remaining is None else max(min(cap, remaining), _SHORTEST)
    # aiohttp rounds timers of 5 s and more up to the next whole second of the
    # loop's clock (``ceil_threshold``), which let an attempt run up to 1 s past
    # the call's deadline: never round.
    return aiohttp.ClientTimeout(
        total=total, connect=timeouts.connect, ceil_threshold=math.inf
    )


def new_session(
    *,
    timeouts: Timeouts,
    limits: PoolLimits,
    headers: Mapping[str, str],
    trace_configs: Sequence[aiohttp.TraceConfig],
    ssl: ssl.SSLContext | None = None,
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
        ssl=True if ssl is None else ssl,  # True: aiohttp's verifying default
    )
    # aiohttp builds each connection's protocol with ``_factory``; when a release
    # drops it, connections keep asyncio's default read size and work the same.
    factory = getattr(connector, "_factory", None)
    if isinstance(factory, functools.partial) and factory.func is ResponseHandler:
        connector._factory = cast(
            "functools.partial[ResponseHandler]",
            functools.partial(_SizedReadsHandler, *factory.args, **factory.keywords),
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
