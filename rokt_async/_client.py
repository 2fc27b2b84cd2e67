"""RoktClient: construction, open/close, views, and the one call path; no HTTP
details (the endpoint methods are in ``_cart_calls``)."""

from __future__ import annotations

import logging
import sys
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Self, TypeVar, Unpack

from . import _codec, _endpoints
from ._cart_calls import CartCalls
from ._config import (
    DEFAULT_BASE_URL,
    DEFAULT_LIMITS,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_RETRY,
    DEFAULT_TIMEOUTS,
    check_base_url,
    check_header_value,
)
from ._credentials import cart_key
from ._errors import (
    ClientClosedError,
    ConfigurationError,
    RequestValidationError,
    UnclosedClientWarning,
)
from ._event_calls import EventCalls, EventLink
from ._event_models import EVENTS_API_VERSION
from ._headers import fixed_headers, session_id_header
from ._options import options_from_env
from ._retry import Retrier, RetryHook
from ._session import new_session
from ._shared import SharedState, State
from ._timing import SYSTEM_TIMING

if TYPE_CHECKING:
    import ssl
    from collections.abc import Coroutine, Iterable, Sequence
    from types import TracebackType

    import aiohttp

    from ._budget import ClientStats
    from ._config import PoolLimits, RetryPolicy, Timeouts
    from ._credentials import EventCredentials
    from ._models import _Request
    from ._options import ClientOptions
    from ._timing import Timing

__all__ = ["RoktClient"]

_log: Final = logging.getLogger("rokt_async")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _CallDefaults:
    """Per-call defaults a view may change: locale, deadline override, policy."""

    locale: str | None
    timeout: float | None
    retry: RetryPolicy


class RoktClient(CartCalls, EventCalls):
    """Async client for Rokt's Transactions API. One per process, opened once.

    Creating it needs no event loop; ``async with client:`` opens one pooled aiohttp
    session (or adopts the one passed as ``session``, which it never closes).

    Args:
        api_key: the partner's Rokt API key (sent as ``rokt-api-key``; never shown).
        tag_id: the partner's Rokt tag id (``rokt-tag-id``).
        base_url: ``https://api.rokt.com`` by default; http only for loopback hosts.
        locale: default ``Accept-Language`` (``en-US`` or ``en``), per call overridable.
        timeouts: per-attempt connect and read limits.
        retry: attempts, backoff and per-endpoint deadlines.
        limits: connection pool shape.
        session: an aiohttp session to use instead of building one; not closed by us.
        trace_configs: aiohttp TraceConfigs, passed straight through.
        on_retry: callables receiving a ``RetryEvent`` before each retry sleeps.
        max_response_bytes: largest answer body read, counted after decompression.
        ssl: the TLS context for the client's own session, e.g. one that trusts a
            private CA (``ssl.create_default_context(cafile=...)``). None keeps
            aiohttp's default: certificates and host names verified against the
            system's trust store.
        event_credentials: ``BasicCredentials`` (``/v2/events``) or
            ``OAuthCredentials`` (``/v1/events``) for ``send_events``; a client
            given these alone, without api_key and tag_id, sends events only.
        event_api_version: the Event API's ``Rokt-Version`` header.
        timing: the clock, sleep and jitter retries use; the system's by default.
            ``rokt_async.testing.FakeTiming`` makes retries instant and
            deterministic in tests.

    Raises:
        ConfigurationError: an argument is unusable (bad URL, control characters in
            a header value, empty key or tag id).
    """

    __slots__ = (
        "__weakref__",
        "_base_url",
        "_defaults",
        "_event_link",
        "_headers",
        "_is_view",
        "_limits",
        "_max_bytes",
        "_retrier",
        "_sent_headers",
        "_shared",
        "_ssl",
        "_tag_id",
        "_timeouts",
        "_timing",
        "_trace_configs",
        "_urls",
    )

    def __init__(
        self,
        *,
        api_key: str | None = None,
        tag_id: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        locale: str | None = None,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        retry: RetryPolicy = DEFAULT_RETRY,
        limits: PoolLimits = DEFAULT_LIMITS,
        session: aiohttp.ClientSession | None = None,
        trace_configs: Sequence[aiohttp.TraceConfig] = (),
        on_retry: Iterable[RetryHook] = (),
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        ssl: ssl.SSLContext | None = None,
        timing: Timing = SYSTEM_TIMING,
        event_credentials: EventCredentials | None = None,
        event_api_version: str = EVENTS_API_VERSION,
    ) -> None:
        key = cart_key(api_key, tag_id, event_credentials)
        self._tag_id = tag_id
        if locale is not None:
            check_header_value("locale", locale, ConfigurationError)
        if max_response_bytes < 1:
            raise ConfigurationError("max_response_bytes must be >= 1")
        self._base_url = check_base_url(base_url)
        self._urls = (
            {}
            if key is None
            else {e.name: self._base_url + e.path for e in _endpoints.CART}
        )
        self._event_link = (
            None
            if event_credentials is None
            else EventLink(
                event_credentials,
                check_header_value(
                    "event_api_version", event_api_version, ConfigurationError
                ),
                self._base_url,
            )
        )
        self._timing = timing
        self._headers = fixed_headers(key, self._tag_id)
        # Headers each call adds itself: none when they are the defaults of the
        # session the client builds, all of them on a session passed in.
        self._sent_headers = {} if session is None else dict(self._headers)
        self._timeouts = timeouts
        self._max_bytes = max_response_bytes
        self._defaults = _CallDefaults(locale=locale, timeout=None, retry=retry)
        self._shared = SharedState(session, _caller_outside_this_module())
        self._retrier = Retrier(
            stats=self._shared.stats,
            budget=self._shared.budget,
            hooks=tuple(on_retry),
            timeouts=timeouts,
            max_bytes=max_response_bytes,
            timing=timing,
        )
        self._limits = limits
        self._ssl = ssl
        self._trace_configs = tuple(trace_configs)
        self._is_view = False

    # --- construction helpers -------------------------------------------------

    @classmethod
    def from_env(cls, **overrides: Unpack[ClientOptions]) -> RoktClient:
        """Build a client from the environment: ``ROKT_API_KEY``, ``ROKT_TAG_ID``,
        ``ROKT_BASE_URL``, and Event API credentials from ``ROKT_EVENT_PUBLIC_KEY``
        with ``ROKT_EVENT_SECRET_KEY`` (Basic) or ``ROKT_EVENT_APP_ID`` with
        ``ROKT_EVENT_APP_SECRET`` (OAuth).

        Keyword arguments are the constructor's (type-checked: a misspelt one is
        an error), passed through, and win over the environment. With event
        credentials and neither ``ROKT_API_KEY`` nor ``ROKT_TAG_ID``, the client
        sends events only.

        Raises:
            ConfigurationError: ``ROKT_API_KEY`` or ``ROKT_TAG_ID`` is not set (and
                no event credentials are), or half an event key pair is set.
        """
        return cls(**options_from_env(overrides))

    def with_options(
        self,
        *,
        timeout: float | None = None,
        locale: str | None = None,
        retry: RetryPolicy | None = None,
    ) -> RoktClient:
        """A light view that shares this client's pool with other per-call defaults.

        ``timeout`` replaces every endpoint's deadline for calls through the view.
        The view neither opens nor closes the pool: the client it came from does.
        """
        if locale is not None:
            check_header_value("locale", locale, ConfigurationError)
        if timeout is not None and not timeout > 0:
            raise ConfigurationError("timeout must be > 0")
        view = object.__new__(RoktClient)
        for name in RoktClient.__slots__:
            if name != "__weakref__" and hasattr(self, name):
                object.__setattr__(view, name, getattr(self, name))
        current = self._defaults
        view._defaults = _CallDefaults(
            locale=current.locale if locale is None else locale,
            timeout=current.timeout if timeout is None else timeout,
            retry=current.retry if retry is None else retry,
        )
        view._is_view = True
        return view

    # --- lifecycle --------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def open(self) -> None:
        """Open the connection pool on the running loop (``async with`` does this).

        Raises:
            ClientClosedError: the client was opened before; clients are not reopened.
        """
        shared = self._shared
        if self._is_view:
            raise ClientClosedError("a with_options() view is opened by its client")
        if shared.state is not State.UNOPENED:
            raise ClientClosedError(
                f"RoktClient is {shared.state.value}; create a new client instead"
            )
        session = shared.session
        if session is None:
            session = new_session(
                timeouts=self._timeouts,
                limits=self._limits,
                headers=self._headers,
                trace_configs=self._trace_configs,
                ssl=self._ssl,
            )
        shared.mark_open(session)

    async def close(self) -> None:
        """Close the pool if this client built it. Idempotent; no-op on a view."""
        if self._is_view:
            return
        shared = self._shared
        session, shared.session = shared.session, None
        shared.state = State.CLOSED
        link = self._event_link
        if link is not None and link.tokens is not None:
            link.tokens.close()  # a token request still in flight
        if session is not None and shared.owns_session and not session.closed:
            await session.close()

    @property
    def is_closed(self) -> bool:
        """True once the client was closed."""
        return self._shared.state is State.CLOSED

    @property
    def retry_policy(self) -> RetryPolicy:
        """The retry policy calls through this client (or view) use."""
        return self._defaults.retry

    @property
    def stats(self) -> ClientStats:
        """A snapshot of the client-wide counters (calls, attempts, retries...)."""
        return self._shared.stats.snapshot(self._shared.budget)

    def __repr__(self) -> str:
        view = " view" if self._is_view else ""
        return (
            f"<RoktClient{view} base_url={self._base_url!r} tag_id={self._tag_id!r}"
            f" state={self._shared.state.value}>"
        )

    def __del__(self, _warn: Any = warnings.warn) -> None:
        pool = getattr(self, "_shared", None)
        if (
            pool is None
            or getattr(self, "_is_view", True)
            or pool.state is not State.OPEN
            or not pool.owns_session
        ):
            return
        # A RuntimeWarning, shown by default (a ResourceWarning is hidden unless
        # Python runs with -X dev); aiohttp's anonymous warnings about the same
        # session are pre-empted by closing its sockets here, without awaiting.
        _warn(
            f"RoktClient created at {pool.created_at} was never closed; use"
            " `async with client:` or `await client.close()`",
            UnclosedClientWarning,
            stacklevel=1,
        )
        pool.abandon()

    # --- the one path behind every endpoint ---------------------------------------

    def _post(
        self,
        endpoint: _endpoints.Endpoint[T],
        request: _Request,
        session_id: str | None,
        locale: str | None,
        timeout: float | None,
    ) -> Coroutine[Any, Any, T]:
        """Check and encode a call, then hand back the retrier's coroutine for it.

        Checks run when the endpoint method is awaited, before anything is sent.
        """
        session = self._shared.session_for_call()
        defaults = self._defaults
        headers = {
            **self._sent_headers,  # empty unless the session was passed in
            "rokt-session-id": session_id_header(session_id),
        }
        if locale is None:
            locale = defaults.locale
        if locale is not None:
            headers["Accept-Language"] = check_header_value(
                "locale", locale, RequestValidationError
            )
        if timeout is None:
            timeout = defaults.timeout
        elif not timeout > 0:
            raise RequestValidationError("timeout must be > 0")
        try:
            url = self._urls[endpoint.name]
        except KeyError:
            raise ConfigurationError(
                f"{endpoint.name} needs api_key and tag_id; this client was built"
                " for events only (event_credentials without them)"
            ) from None
        # Encoded once: every attempt sends these same bytes.
        payload = _codec.ENCODER.encode(request)
        return self._retrier.call(
            session, endpoint, url, request, payload, headers, defaults.retry, timeout
        )

    def _call(
        self,
        endpoint: _endpoints.Endpoint[T],
        url: str,
        request: _Request,
        payload: bytes,
        headers: dict[str, str],
        timeout: float | None,
    ) -> Coroutine[Any, Any, T]:
        """An encoded call with its own headers (the Event API's) through the
        same retry layer, budget and counters as every endpoint."""
        session = self._shared.session_for_call()
        defaults = self._defaults
        if self._sent_headers:  # a session passed in: its headers, ours on top
            headers = {**self._sent_headers, **headers}
        return self._retrier.call(
            session,
            endpoint,
            url,
            request,
            payload,
            headers,
            defaults.retry,
            defaults.timeout if timeout is None else timeout,
        )

    def _clock(self) -> float:
        return self._timing.clock()


def _caller_outside_this_module() -> str:
    """``file:line`` of the code that created the client (skipping ``from_env``)."""
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_code.co_filename == __file__:
        frame = frame.f_back
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"
