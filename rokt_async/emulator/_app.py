"""The HTTP layer: routes, auth and validation, recording, admin endpoints.

It runs on aiohttp's low-level ``web.Server`` (no router, no middlewares, no access
log) and dispatches on the lowercased path, so ``/v1/Cart/reserve`` works too.

Every API request is recorded (endpoint, method, path, headers, body bytes,
connection id, emulator time), then a fault may be picked (see
``_faults``), then it is checked in this order:

1. method: anything but POST → 405 with Rokt's error body.
2. ``rokt-api-key`` missing or not the configured key → 401, no body.
3. ``rokt-tag-id`` not the configured tag id → 403 with Rokt's error body
   (``Forbidden``). Cancel may omit the header; its docs do not list it.
4. ``rokt-session-id`` missing on reserve or release (required there) → 400
   (``MissingHeader``); any string is accepted, UUID or not.
5. ``Content-Type`` other than ``application/json`` → 400
   (``UnsupportedContentType``).
6. a body that is not JSON → 400 (``MalformedJson``); JSON of the wrong shape,
   missing or unknown fields, failed schema checks (``_schema``: empty ids,
   quantity < 1, no items...) → 400 (``ValidationError``).
7. the state machine: 200, or 422 with the reason it refused (see ``_state``).

Error bodies are ``{"description", "errors": [{"code", "message", "value"}]}``.
The Event API paths (``/v1/events``, ``/v2/events``, endpoint ``events``) and the
OAuth token path (``/auth/oauth2/token``, endpoint ``token``) have credentials,
rules and error bodies of their own: see ``_events`` and ``_tokens``. They are
recorded and faulted like the others. Unknown paths get 404 with an error body
and are not recorded.

Paths under ``/_emulator/`` go to the admin endpoints (see ``_admin``).
"""

from __future__ import annotations

import hmac
import threading
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import msgspec
from aiohttp import web

from . import _wire
from ._admin import handle_admin
from ._events import FAULT_BODIES, EventsDesk
from ._faults import BEFORE_EFFECT, UNPROCESSED, answer_after, answer_before
from ._ledger import Ledger
from ._responses import EMPTY_OBJECT, JSON, bad_request, error, not_allowed, ok
from ._schema import PlacementsResponse
from ._state import RefusedError, State

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable, Mapping

    from aiohttp.web_protocol import RequestHandler
    from aiohttp.web_request import BaseRequest

    from ._event_settings import EventSettings
    from ._faults import FaultPlan
    from ._inventory import CatalogItem

__all__ = ["App", "RecordedRequest", "Settings", "TrackingServer"]


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One API request as the emulator received it.

    Attributes:
        endpoint: ``reserve``, ``confirm``, ``release``, ``cancel``,
            ``placements``, ``events`` or ``token``.
        method: the HTTP method.
        path: the path as sent (any case).
        raw_headers: the header lines as received, as bytes pairs.
        body: the body bytes as received.
        connection_id: which client connection carried it, counting from 1.
        time: emulator clock time (seconds since the epoch) on arrival.
    """

    endpoint: str
    method: str
    path: str
    raw_headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    connection_id: int
    time: float

    @property
    def headers(self) -> dict[str, str]:
        """Header names lowercased; the last value wins for repeated names."""
        return {
            name.decode("utf-8", "surrogateescape").lower(): value.decode(
                "utf-8", "surrogateescape"
            )
            for name, value in self.raw_headers
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """What an emulator is configured with; see ``Emulator`` for each field."""

    api_key: str
    tag_id: str
    reservation_ttl: float
    seed: int
    default_stock: int
    default_unit_price: float
    currency: str
    catalog: Mapping[str, CatalogItem]
    placements_result: bool | None
    max_recorded: int
    resend: str
    events: EventSettings


@dataclass(frozen=True, slots=True)
class _Route:
    name: str
    decoder: msgspec.json.Decoder[Any]
    tag_required: bool = True
    session_required: bool = False


_ROUTES: Final[Mapping[str, _Route]] = {
    "/v1/cart/reserve": _Route("reserve", _wire.RESERVE, session_required=True),
    "/v1/cart/confirm": _Route("confirm", _wire.CONFIRM),
    "/v1/cart/release": _Route("release", _wire.RELEASE, session_required=True),
    "/v1/confirmation/cancel": _Route("cancel", _wire.CANCEL, tag_required=False),
    "/v1/placements/any": _Route("placements", _wire.PLACEMENTS),
}
#: The Event API's paths: endpoint name and version (0 for the token endpoint).
_EVENT_PATHS: Final[Mapping[str, tuple[str, int]]] = {
    "/v1/events": ("events", 1),
    "/v2/events": ("events", 2),
    "/auth/oauth2/token": ("token", 0),
}


class App:
    """State, records, faults and the request handler of one emulator.

    Every method may be called from any thread: state and records sit behind one
    lock, and the fault plan has its own.
    """

    def __init__(
        self, settings: Settings, clock: Callable[[], float], faults: FaultPlan
    ) -> None:
        self.settings = settings
        self.faults = faults
        self.events: Final = EventsDesk(settings.events, settings.seed)
        self._clock = clock
        self._key = settings.api_key.encode()
        self._lock = threading.Lock()
        self._offset = 0.0
        self._state = self._new_state()
        self._records: deque[RecordedRequest] = deque(maxlen=settings.max_recorded)
        self._request_count = 0
        self._connections: dict[RequestHandler, int] = {}
        self._connection_seq = 0
        self._peak = 0

    # --- thread-safe controls -------------------------------------------------------

    def now(self) -> float:
        """Emulator time: the clock plus every ``advance``."""
        return self._clock() + self._offset

    def advance(self, seconds: float) -> float:
        """Move emulator time forward; returns the new time.

        Raises:
            ValueError: ``seconds`` is negative or not finite.
        """
        if not 0 <= seconds < float("inf"):
            raise ValueError("advance takes a finite number of seconds >= 0")
        with self._lock:
            self._offset += seconds
            return self.now()

    @property
    def resend(self) -> str:
        """The resend mode now (see ``_state``)."""
        with self._lock:
            return self._state.resend

    def set_resend(self, mode: str) -> None:
        """Answer resent confirms by ``mode`` from now on; the state stays.

        Raises:
            ValueError: ``mode`` is not one of ``RESEND_MODES``.
        """
        with self._lock:
            self._state.resend = mode

    def reset(self) -> None:
        """Fresh state, no records, no faults, clock offset 0; peak = open now.

        The resend mode and the Event API settings go back to the constructed
        ones; tokens, idempotency keys and event counts are forgotten.
        """
        with self._lock:
            self._offset = 0.0
            self._state = self._new_state()
            self._records.clear()
            self._request_count = 0
            self._peak = len(self._connections)
        self.faults.reset()
        self.events.reset()

    def ledger(self) -> Ledger:
        """A snapshot of effects, replays, stock and connection counts."""
        tally = self.events.tally()
        with self._lock:
            state = self._state
            return Ledger.build(
                effects=dict(state.effects),
                replays=dict(state.replays),
                stock=state.stock(self.now()),
                peak_connections=self._peak,
                requests=self._request_count,
                events=tally,
            )

    def requests(self, endpoint: str | None = None) -> list[RecordedRequest]:
        """Recorded requests, oldest first; all endpoints when ``endpoint`` is None."""
        with self._lock:
            if endpoint is None or endpoint == "*":
                return list(self._records)
            return [r for r in self._records if r.endpoint == endpoint]

    def reservation_status(self, item_reservation_id: str) -> str | None:
        """A reservation's status now (``held``, ``confirmed``...), None if unknown."""
        with self._lock:
            return self._state.status(item_reservation_id, self.now())

    @property
    def peak_connections(self) -> int:
        """Most client connections open at once since start or reset."""
        return self._peak

    def connection_opened(self, handler: RequestHandler) -> None:
        """Count a new client connection and give it an id."""
        with self._lock:
            self._connection_seq += 1
            self._connections[handler] = self._connection_seq
            self._peak = max(self._peak, len(self._connections))

    def connection_closed(self, handler: RequestHandler) -> None:
        """Forget a closed client connection."""
        with self._lock:
            self._connections.pop(handler, None)

    # --- the handler ----------------------------------------------------------------

    async def handle(self, request: BaseRequest) -> web.StreamResponse:
        """Answer one HTTP request (aiohttp's low-level handler)."""
        path = request.path.lower()
        route = _ROUTES.get(path)
        name, version = (route.name, 0) if route else _EVENT_PATHS.get(path, ("", 0))
        if not name:
            return await handle_admin(self, request)
        body = await request.read()
        now = self.now()
        record = RecordedRequest(
            name,
            request.method,
            request.path,
            request.raw_headers,
            body,
            self._connections.get(request.protocol, 0),
            now,
        )
        with self._lock:
            self._records.append(record)
            self._request_count += 1
        if name == "token":
            self.events.count_token_request()
        fault = self.faults.pick(name)
        errors = FAULT_BODIES.get(name)
        if fault is not None and fault.kind in BEFORE_EFFECT:
            return await answer_before(fault, request, errors)
        unprocessed = fault is not None and fault.kind == UNPROCESSED
        if route is not None:
            response = self._answer(route, request, body)
        elif name == "token":
            response = self.events.answer_token(request, body, now)
        else:
            response = self.events.answer_events(
                request, body, now, version=version, all_unprocessed=unprocessed
            )
        if fault is None or unprocessed:
            return response
        return await answer_after(fault, request, response, errors)

    def _answer(self, route: _Route, request: BaseRequest, body: bytes) -> web.Response:
        if request.method != "POST":
            return not_allowed("POST", request.method)
        refused = self._check_headers(route, request.headers)
        if refused is not None:
            return refused
        if request.content_type != JSON:
            return bad_request(
                "UnsupportedContentType",
                "Content-Type must be application/json",
                request.content_type,
            )
        try:
            decoded = route.decoder.decode(body)
        except msgspec.ValidationError as exc:
            return bad_request("ValidationError", str(exc))
        except msgspec.DecodeError as exc:
            return bad_request("MalformedJson", str(exc))
        with self._lock:
            try:
                return ok(self._apply(route.name, decoded, self.now()))
            except RefusedError as exc:
                body = _wire.error_body("Unprocessable Entity", exc.errors)
                return web.Response(status=422, body=body, content_type=JSON)

    def _check_headers(self, route: _Route, headers: Any) -> web.Response | None:
        key = headers.get("rokt-api-key")
        if key is None or not hmac.compare_digest(
            key.encode("utf-8", "surrogateescape"), self._key
        ):
            return web.Response(status=401)
        tag = headers.get("rokt-tag-id")
        if tag != self.settings.tag_id and (route.tag_required or tag is not None):
            return error(
                403,
                "Forbidden",
                "Forbidden",
                "rokt-tag-id is not allowed for this API key",
                tag,
            )
        if route.session_required and not headers.get("rokt-session-id"):
            return bad_request(
                "MissingHeader", "rokt-session-id is required", "rokt-session-id"
            )
        return None

    def _apply(self, endpoint: str, request: Any, now: float) -> bytes:
        state = self._state
        if endpoint == "confirm":
            return _wire.ENCODER.encode(state.confirm(request, now))
        if endpoint == "reserve":
            return _wire.ENCODER.encode(state.reserve(request, now))
        if endpoint == "release":
            return _wire.ENCODER.encode(state.release(request, now))
        if endpoint == "cancel":
            state.cancel(request, now)
            return EMPTY_OBJECT
        if endpoint == "placements":
            forced = self.settings.placements_result
            result = state.any_in_stock(now) if forced is None else forced
            return _wire.ENCODER.encode(PlacementsResponse(result=result))
        raise ValueError(f"no state operation for {endpoint!r}")

    def _new_state(self) -> State:
        s = self.settings
        return State(
            catalog=s.catalog,
            default_stock=s.default_stock,
            default_unit_price=s.default_unit_price,
            currency=s.currency,
            reservation_ttl=s.reservation_ttl,
            seed=s.seed,
            resend=s.resend,
        )


class TrackingServer(web.Server):
    """aiohttp's low-level server, telling the app when connections open and close."""

    def __init__(
        self, app: App, loop: asyncio.AbstractEventLoop, **kwargs: Any
    ) -> None:
        super().__init__(app.handle, loop=loop, **kwargs)
        self._app = app

    def connection_made(
        self, handler: RequestHandler, transport: asyncio.Transport
    ) -> None:
        """Register the connection, then count it."""
        super().connection_made(handler, transport)
        self._app.connection_opened(handler)

    def connection_lost(
        self, handler: RequestHandler, exc: BaseException | None = None
    ) -> None:
        """Unregister the connection, then stop counting it."""
        super().connection_lost(handler, exc)
        self._app.connection_closed(handler)
