"""Emulator: the server's lifecycle, in a running loop or on a background thread.

``async with Emulator() as emu:`` serves on the caller's event loop. ``with
Emulator() as emu:`` serves from a daemon thread with its own event loop, for
synchronous code and pytest fixtures; every control method (``reset``,
``advance_clock``, ``set_resend``, ``faults``, ``ledger``, ``requests``) is safe to
call from any thread while it serves, and so is every Event API control
(``set_event_credentials``, ``set_token_options``, ``set_refused_event_types``,
``revoke_tokens``; see ``_emulator_events``). An emulator is started once; build
a new one to serve again.
"""

from __future__ import annotations

import asyncio
import ipaddress
import threading
import time
from typing import TYPE_CHECKING, Final, Self

from aiohttp import web

from ._app import App, Settings, TrackingServer
from ._emulator_events import EventControls
from ._event_settings import (
    DEFAULT_EVENT_KEYS,
    DEFAULT_OAUTH_APPS,
    DEFAULT_TOKEN_TTL,
    TOKEN_STANDARD,
    EventSettings,
    event_types,
)
from ._faults import FaultPlan
from ._state import REPLAY

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Mapping
    from types import TracebackType

    from ._app import RecordedRequest
    from ._inventory import CatalogItem
    from ._ledger import Ledger

__all__ = ["Emulator"]

#: Seconds a stopping server waits for requests in flight (a ``delay`` fault...).
_SHUTDOWN_GRACE: Final = 0.5


class Emulator(EventControls):
    """A stateful local Rokt Transactions API with fault injection.

    Args:
        host: address to bind; loopback by default.
        port: port to bind; 0 picks a free one (read it back from ``url``).
        api_key: the only ``rokt-api-key`` accepted.
        tag_id: the only ``rokt-tag-id`` accepted.
        reservation_ttl: seconds a reservation lives.
        seed: seeds identifiers and random faults: the same seed, the same run.
        default_stock: stock of an item not in ``catalog``, made on first use.
        default_unit_price: its unit price.
        currency: currency of items that do not name one.
        catalog: seeded items by ``cartItemId``.
        placements_result: force placements/any to answer this; None means
            "true when anything is in stock".
        clock: seconds since the epoch; ``time.time`` by default. Emulator time is
            this plus every ``advance_clock``.
        keepalive_timeout: seconds the server keeps an idle connection open.
        max_recorded: requests kept for ``requests()``; the oldest go first.
        resend: how a resent cart/confirm is answered: ``"replay"`` (the first
            confirmation), ``"reject"`` (failed as ``AlreadyConfirmed``) or
            ``"duplicate"`` (quantity-only items bought again); see ``_state``.
            ``reset()`` comes back to it.
        event_keys: Basic ``public -> secret`` key pairs ``/v2/events`` accepts.
        oauth_apps: ``app_id -> app_secret`` pairs ``/auth/oauth2/token`` accepts.
        token_ttl: seconds of emulator time a token lives (``advance_clock``
            expires it).
        token_response: how a token is answered: ``"standard"``
            (``access_token``, ``token_type``, ``expires_in``), ``"docs"`` (only
            ``Access_token``, as the docs' sample) or ``"no_expiry"`` (no
            ``expires_in``); see ``_event_settings``.
        refused_event_types: ``eventType`` values answered as unprocessed
            records inside a 200, and not applied.

    Raises:
        ValueError: an argument is out of range.
        TypeError: ``refused_event_types`` is a single string.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str = "test-key",
        tag_id: str = "test-tag",
        reservation_ttl: float = 600.0,
        seed: int = 0,
        default_stock: int = 1_000_000,
        default_unit_price: float = 10.0,
        currency: str = "USD",
        catalog: Mapping[str, CatalogItem] | None = None,
        placements_result: bool | None = None,
        clock: Callable[[], float] | None = None,
        keepalive_timeout: float = 75.0,
        max_recorded: int = 100_000,
        resend: str = REPLAY,
        event_keys: Mapping[str, str] = DEFAULT_EVENT_KEYS,
        oauth_apps: Mapping[str, str] = DEFAULT_OAUTH_APPS,
        token_ttl: float = DEFAULT_TOKEN_TTL,
        token_response: str = TOKEN_STANDARD,
        refused_event_types: Collection[str] = (),
    ) -> None:
        if not api_key or not tag_id:
            raise ValueError("api_key and tag_id must not be empty")
        if not reservation_ttl > 0 or not keepalive_timeout > 0:
            raise ValueError("reservation_ttl and keepalive_timeout must be > 0")
        if default_stock < 0 or max_recorded < 0:
            raise ValueError("default_stock and max_recorded must be >= 0")
        self._host = host
        self._port = port
        self._keepalive_timeout = keepalive_timeout
        self.faults: Final = FaultPlan(seed)
        settings = Settings(
            api_key=api_key,
            tag_id=tag_id,
            reservation_ttl=reservation_ttl,
            seed=seed,
            default_stock=default_stock,
            default_unit_price=default_unit_price,
            currency=currency,
            catalog=dict(catalog or {}),
            placements_result=placements_result,
            max_recorded=max_recorded,
            resend=resend,
            events=EventSettings(
                event_keys=event_keys,
                oauth_apps=oauth_apps,
                token_ttl=token_ttl,
                token_response=token_response,
                refused_event_types=event_types(refused_event_types),
            ),
        )
        self._app = App(settings, clock or time.time, self.faults)
        self._runner: web.ServerRunner | None = None
        self._url: str | None = None
        self._started = False
        self._thread: threading.Thread | None = None
        self._thread_loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        where = self._url or "not serving"
        return f"<Emulator {where} tag_id={self._app.settings.tag_id!r}>"

    # --- what tests read and drive ------------------------------------------------

    @property
    def url(self) -> str:
        """``http://host:port`` while serving.

        Raises:
            RuntimeError: the emulator is not serving.
        """
        if self._url is None:
            raise RuntimeError(
                "the emulator is not serving; use `with` or `async with`"
            )
        return self._url

    @property
    def is_serving(self) -> bool:
        """True between start and stop."""
        return self._url is not None

    @property
    def api_key(self) -> str:
        """The API key the emulator accepts (for building a client)."""
        return self._app.settings.api_key

    @property
    def tag_id(self) -> str:
        """The tag id the emulator accepts."""
        return self._app.settings.tag_id

    @property
    def peak_connections(self) -> int:
        """Most client connections open at the same time since start or reset."""
        return self._app.peak_connections

    @property
    def resend(self) -> str:
        """How a resent cart/confirm is answered now; one of ``RESEND_MODES``."""
        return self._app.resend

    def set_resend(self, mode: str) -> None:
        """Answer resent confirms by ``mode`` from now on, keeping all state.

        ``reset()`` restores the mode the emulator was built with.

        Raises:
            ValueError: ``mode`` is not one of ``RESEND_MODES``.
        """
        self._app.set_resend(mode)

    def now(self) -> float:
        """Emulator time in seconds since the epoch (clock + advances)."""
        return self._app.now()

    def advance_clock(self, seconds: float) -> None:
        """Move emulator time forward: reservations expire without sleeping.

        Raises:
            ValueError: ``seconds`` is negative or not finite.
        """
        self._app.advance(seconds)

    def reset(self) -> None:
        """Back to the start: state, ledger, recorded requests, faults, clock offset,
        tokens, idempotency keys and event counts.

        The resend mode and the Event API settings go back to those given to the
        constructor.
        """
        self._app.reset()

    def requests(self, endpoint: str | None = None) -> list[RecordedRequest]:
        """Recorded API requests, oldest first; one endpoint's, or all (None, "*")."""
        return self._app.requests(endpoint)

    def ledger(self) -> Ledger:
        """A snapshot of side effects, stock and connection counts."""
        return self._app.ledger()

    def reservation_status(self, item_reservation_id: str) -> str | None:
        """``held``, ``confirmed``, ``released``, ``expired``, ``cancelled`` or None."""
        return self._app.reservation_status(item_reservation_id)

    # --- async lifecycle ------------------------------------------------------------

    async def start(self) -> None:
        """Bind and serve on the running loop.

        Raises:
            RuntimeError: the emulator was started before.
            OSError: the address could not be bound.
        """
        if self._started:
            raise RuntimeError("an Emulator is started once; create a new one")
        self._started = True
        server = TrackingServer(
            self._app,
            asyncio.get_running_loop(),
            keepalive_timeout=self._keepalive_timeout,
            access_log=None,
            handler_cancellation=True,
        )
        runner = web.ServerRunner(server, shutdown_timeout=_SHUTDOWN_GRACE)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self._host, self._port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        host, port = runner.addresses[0][:2]
        self._url = f"http://{_url_host(host)}:{port}"

    async def stop(self) -> None:
        """Stop serving and close every connection. Idempotent."""
        runner, self._runner = self._runner, None
        self._url = None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # --- background thread ----------------------------------------------------------

    def __enter__(self) -> Self:
        if self._started:
            raise RuntimeError("an Emulator is started once; create a new one")
        loop = asyncio.new_event_loop()
        thread = threading.Thread(
            target=_run_loop, args=(loop,), name="rokt-emulator", daemon=True
        )
        thread.start()
        self._thread, self._thread_loop = thread, loop
        try:
            asyncio.run_coroutine_threadsafe(self.start(), loop).result()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop a background-thread emulator and wait for its thread. Idempotent."""
        thread, loop = self._thread, self._thread_loop
        self._thread = self._thread_loop = None
        if thread is None or loop is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self.stop(), loop).result()
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()


def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Run ``loop`` until stopped, then cancel what is left and close it."""
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def _url_host(host: str) -> str:
    try:
        return f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:
        return host
