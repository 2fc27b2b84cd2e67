"""The session the client builds, read through aiohttp's public properties, and
the one timer each attempt gets.

Written for the mutants ``make mutate`` left alive in ``_session.py`` (issue #11).
Keep-alive, DNS cache lifetime and the TLS context have no public reader in
aiohttp; the reliability suite covers them over real sockets.
"""

from __future__ import annotations

import math

import aiohttp

from rokt_async import PoolLimits, Timeouts
from rokt_async._session import client_timeout, new_session

TIMEOUTS = Timeouts(connect=1.5, response=4.0)


def test_attempt_timer_is_connect_plus_response_never_rounded() -> None:
    """An attempt with time to spare gets one total timer of connect + response,
    the connect limit, and no rounding up to the next second."""
    assert client_timeout(TIMEOUTS, None) == aiohttp.ClientTimeout(
        total=5.5, connect=1.5, ceil_threshold=math.inf
    )


def test_attempt_timer_stops_at_the_deadline() -> None:
    """With less time left than connect + response, the timer is the time left."""
    assert client_timeout(TIMEOUTS, 0.25) == aiohttp.ClientTimeout(
        total=0.25, connect=1.5, ceil_threshold=math.inf
    )


async def test_session_is_shaped_by_the_pool_limits_and_timeouts() -> None:
    """The built session holds ``connections`` connections (all to one host),
    caches DNS, owns its connector, keeps no cookies, inflates compressed answers
    and carries the client's headers and attempt timer."""
    session = new_session(
        timeouts=TIMEOUTS,
        limits=PoolLimits(connections=7),
        headers={"rokt-tag-id": "t"},
        trace_configs=(),
    )
    try:
        connector = session.connector
        assert isinstance(connector, aiohttp.TCPConnector)
        assert (connector.limit, connector.limit_per_host) == (7, 7)
        assert connector.use_dns_cache is True
        assert session.connector_owner is True
        assert isinstance(session.cookie_jar, aiohttp.DummyCookieJar)
        assert session.auto_decompress is True
        assert dict(session.headers) == {"rokt-tag-id": "t"}
        assert session.timeout == client_timeout(TIMEOUTS, None)
    finally:
        await session.close()
