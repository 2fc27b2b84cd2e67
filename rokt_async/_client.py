"""RoktClient: open/close and the endpoint methods; no HTTP details."""

from __future__ import annotations

import logging
import os
import sys
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Self, TypeVar, Unpack

from . import _codec, _endpoints
from ._config import (
    DEFAULT_BASE_URL,
    DEFAULT_LIMITS,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_RETRY,
    DEFAULT_TIMEOUTS,
    check_base_url,
    check_header_value,
)
from ._errors import (
    ClientClosedError,
    ConfigurationError,
    RequestValidationError,
    RoktError,
    UnclosedClientWarning,
)
from ._headers import Secret, fixed_headers, session_id_header
from ._many import ResultHook, run_bounded
from ._pool import Pool, State
from ._retry import Retrier, RetryHook
from ._session import new_session

if TYPE_CHECKING:
    import ssl
    from collections.abc import Coroutine, Iterable, Sequence
    from types import TracebackType

    import aiohttp

    from ._budget import ClientStats
    from ._config import PoolLimits, RetryPolicy, Timeouts
    from ._models import (
        CancelRequest,
        ConfirmRequest,
        ConfirmResponse,
        PlacementsRequest,
        ReleaseRequest,
        ReleaseResponse,
        ReserveRequest,
        ReserveResponse,
        _Request,
    )
    from ._options import ClientOptions

__all__ = ["RoktClient"]

_log: Final = logging.getLogger("rokt_async")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _CallDefaults:
    """Per-call defaults a view may change: locale, deadline override, policy."""

    locale: str | None
    timeout: float | None
    retry: RetryPolicy


class RoktClient:
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

    Raises:
        ConfigurationError: an argument is unusable (bad URL, control characters in
            a header value, empty key or tag id).
    """

    __slots__ = (
        "__weakref__",
        "_base_url",
        "_defaults",
        "_headers",
        "_is_view",
        "_limits",
        "_max_bytes",
        "_pool",
        "_retrier",
        "_sent_headers",
        "_ssl",
        "_tag_id",
        "_timeouts",
        "_trace_configs",
        "_urls",
    )

    def __init__(
        self,
        *,
        api_key: str,
        tag_id: str,
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
    ) -> None:
        key = Secret(check_header_value("api_key", api_key, ConfigurationError))
        self._tag_id = check_header_value("tag_id", tag_id, ConfigurationError)
        if locale is not None:
            check_header_value("locale", locale, ConfigurationError)
        if max_response_bytes < 1:
            raise ConfigurationError("max_response_bytes must be >= 1")
        self._base_url = check_base_url(base_url)
        self._urls = {e.name: self._base_url + e.path for e in _endpoints.ALL}
        self._headers = fixed_headers(key, self._tag_id)
        # Headers each call adds itself: none when they are the defaults of the
        # session the client builds, all of them on a session passed in.
        self._sent_headers = {} if session is None else dict(self._headers)
        self._timeouts = timeouts
        self._max_bytes = max_response_bytes
        self._defaults = _CallDefaults(locale=locale, timeout=None, retry=retry)
        self._pool = Pool(session, _caller_outside_this_module())
        self._retrier = Retrier(
            stats=self._pool.stats,
            budget=self._pool.budget,
            hooks=tuple(on_retry),
            timeouts=timeouts,
            max_bytes=max_response_bytes,
        )
        self._limits = limits
        self._ssl = ssl
        self._trace_configs = tuple(trace_configs)
        self._is_view = False

    # --- construction helpers -------------------------------------------------

    @classmethod
    def from_env(cls, **overrides: Unpack[ClientOptions]) -> RoktClient:
        """Build a client from ``ROKT_API_KEY``, ``ROKT_TAG_ID`` and ``ROKT_BASE_URL``.

        Keyword arguments are the constructor's (type-checked: a misspelt one is
        an error), passed through, and win over the environment.

        Raises:
            ConfigurationError: ``ROKT_API_KEY`` or ``ROKT_TAG_ID`` is not set.
        """
        env: dict[str, Any] = {}
        for name, var in (("api_key", "ROKT_API_KEY"), ("tag_id", "ROKT_TAG_ID")):
            if name not in overrides:
                value = os.environ.get(var)
                if not value:
                    raise ConfigurationError(f"{var} is not set")
                env[name] = value
        base_url = os.environ.get("ROKT_BASE_URL")
        if base_url and "base_url" not in overrides:
            env["base_url"] = base_url
        return cls(**{**env, **overrides})

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
        """Open the pool on the running loop. ``async with client`` calls this.

        Raises:
            ClientClosedError: the client was opened before; clients are not reopened.
        """
        pool = self._pool
        if self._is_view:
            raise ClientClosedError("a with_options() view is opened by its client")
        if pool.state is not State.UNOPENED:
            raise ClientClosedError(
                f"RoktClient is {pool.state.value}; create a new client instead"
            )
        session = pool.session
        if session is None:
            session = new_session(
                timeouts=self._timeouts,
                limits=self._limits,
                headers=self._headers,
                trace_configs=self._trace_configs,
                ssl=self._ssl,
            )
        pool.mark_open(session)

    async def close(self) -> None:
        """Close the pool if this client built it. Idempotent; no-op on a view."""
        if self._is_view:
            return
        pool = self._pool
        session, pool.session = pool.session, None
        pool.state = State.CLOSED
        if session is not None and pool.owns_session and not session.closed:
            await session.close()

    @property
    def is_closed(self) -> bool:
        """True once the client was closed."""
        return self._pool.state is State.CLOSED

    @property
    def stats(self) -> ClientStats:
        """A snapshot of the client-wide counters (calls, attempts, retries...)."""
        return self._pool.stats.snapshot(self._pool.budget)

    def __repr__(self) -> str:
        view = " view" if self._is_view else ""
        return (
            f"<RoktClient{view} base_url={self._base_url!r} tag_id={self._tag_id!r}"
            f" state={self._pool.state.value}>"
        )

    def __del__(self, _warn: Any = warnings.warn) -> None:
        pool = getattr(self, "_pool", None)
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

    # --- endpoints ----------------------------------------------------------------

    async def reserve_cart(
        self,
        request: ReserveRequest,
        *,
        session_id: str | None = None,
        locale: str | None = None,
        timeout: float | None = None,
    ) -> ReserveResponse:
        """Hold stock and lock prices until the reservation expires.

        Not retried after an ambiguous failure unless the policy allows it: a
        duplicate reserve holds stock until it expires.

        Raises:
            APIError: Rokt refused (see ``.status`` and ``.body.errors``).
            TransportError: no usable answer.
            ResponseDecodeError: a 2xx whose body is not a reserve answer.
        """
        return await self._post(
            _endpoints.RESERVE, request, session_id, locale, timeout
        )

    async def confirm_cart(
        self,
        request: ConfirmRequest,
        *,
        session_id: str | None = None,
        locale: str | None = None,
        timeout: float | None = None,
    ) -> ConfirmResponse:
        """Confirm a completed purchase. Retries resend byte-identical bodies.

        A 200 can carry failed items: check ``response.failed_items``.

        Raises:
            APIError: Rokt refused (see ``.status`` and ``.body.errors``).
            OutcomeUnknownError: retries ran out after an ambiguous failure; send the
                same request again to reconcile.
            TransportError: no usable answer.
            ResponseDecodeError: a 2xx whose body is not a confirm answer.
        """
        return await self._post(
            _endpoints.CONFIRM, request, session_id, locale, timeout
        )

    async def release_cart(
        self,
        request: ReleaseRequest,
        *,
        session_id: str | None = None,
        locale: str | None = None,
        timeout: float | None = None,
    ) -> ReleaseResponse:
        """Give reserved items back before their reservation expires.

        Raises:
            APIError: Rokt refused (see ``.status`` and ``.body.errors``).
            OutcomeUnknownError: retries ran out after an ambiguous failure.
            TransportError: no usable answer.
            ResponseDecodeError: a 2xx whose body is not a release answer.
        """
        return await self._post(
            _endpoints.RELEASE, request, session_id, locale, timeout
        )

    async def cancel_confirmation(
        self,
        request: CancelRequest,
        *,
        session_id: str | None = None,
        locale: str | None = None,
        timeout: float | None = None,
    ) -> None:
        """Cancel one confirmed item; returns when Rokt accepted the cancellation.

        Raises:
            APIError: Rokt refused (see ``.status`` and ``.body.errors``).
            OutcomeUnknownError: retries ran out after an ambiguous failure.
            TransportError: no usable answer.
        """
        await self._post(_endpoints.CANCEL, request, session_id, locale, timeout)

    async def any_placements(
        self,
        request: PlacementsRequest,
        *,
        session_id: str | None = None,
        locale: str | None = None,
        timeout: float | None = None,
    ) -> bool:
        """True when Rokt has any placement worth showing for this page and locale.

        Its deadline is short by default (1.5 s): treat any error as "no upsell".

        Raises:
            APIError: Rokt refused (see ``.status`` and ``.body.errors``).
            TransportError: no usable answer.
            ResponseDecodeError: a 2xx whose body is not a placements answer.
        """
        response = await self._post(
            _endpoints.PLACEMENTS, request, session_id, locale, timeout
        )
        return bool(response.result)

    # --- bounded fan-out ------------------------------------------------------------

    async def confirm_many(
        self,
        requests: Iterable[ConfirmRequest | tuple[ConfirmRequest, str]],
        *,
        concurrency: int = 64,
        timeout: float | None = None,
        on_result: ResultHook[ConfirmResponse] | None = None,
    ) -> list[ConfirmResponse | RoktError]:
        """Confirm many carts with at most ``concurrency`` calls in flight.

        Args:
            requests: confirms, or ``(confirm, session_id)`` pairs to send each one
                with its shopper's ``rokt-session-id``.
            concurrency: calls in flight at most.
            timeout: each call's deadline (None: the policy's).
            on_result: called as ``on_result(index, outcome)`` the moment each
                call ends, so what finished is known even if the fan-out is
                cancelled part-way. An exception it raises cancels the rest.

        Returns:
            One entry per request, in input order: the response, or the ``RoktError``
            that request ended in. One failure never cancels the others; cancelling
            the caller cancels every call still running.
        """
        return await run_bounded(
            lambda request, sid: self.confirm_cart(
                request, session_id=sid, timeout=timeout
            ),
            requests,
            concurrency,
            on_result,
        )

    async def release_many(
        self,
        requests: Iterable[ReleaseRequest | tuple[ReleaseRequest, str]],
        *,
        concurrency: int = 64,
        timeout: float | None = None,
        on_result: ResultHook[ReleaseResponse] | None = None,
    ) -> list[ReleaseResponse | RoktError]:
        """Release many carts with at most ``concurrency`` calls in flight.

        Takes the same arguments as ``confirm_many``.

        Returns:
            One entry per request, in input order: the response or its ``RoktError``.
        """
        return await run_bounded(
            lambda request, sid: self.release_cart(
                request, session_id=sid, timeout=timeout
            ),
            requests,
            concurrency,
            on_result,
        )

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
        session = self._pool.session_for_call()
        defaults = self._defaults
        headers = {
            **self._sent_headers,  # empty unless the session was passed in
            "rokt-session-id": session_id_header(session_id),
        }
        locale = locale or defaults.locale
        if locale is not None:
            headers["Accept-Language"] = check_header_value(
                "locale", locale, RequestValidationError
            )
        if timeout is None:
            timeout = defaults.timeout
        elif not timeout > 0:
            raise RequestValidationError("timeout must be > 0")
        # Encoded once: every attempt sends these same bytes.
        payload = _codec.ENCODER.encode(request)
        return self._retrier.call(
            session,
            endpoint,
            self._urls[endpoint.name],
            request,
            payload,
            headers,
            defaults.retry,
            timeout,
        )


def _caller_outside_this_module() -> str:
    """``file:line`` of the code that created the client (skipping ``from_env``)."""
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_code.co_filename == __file__:
        frame = frame.f_back
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"
