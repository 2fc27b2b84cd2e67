"""The Event API desk: ``/v1/events``, ``/v2/events`` and the token endpoint, with
the tokens, idempotency keys and event counts they share.

``POST /v1/events`` and ``POST /v2/events`` are checked in this order; every
refusal is ``{"data": {"code", "message"}}``:

1. method: anything but POST → 405 (``MethodNotAllowed``).
2. credentials → else 401 (``UnauthorizedError``). v1: ``Authorization: Bearer
   <token>`` that this emulator's token endpoint issued, not expired on its
   clock and not revoked. v2: ``Authorization: Basic base64(public:secret)``
   naming a pair of ``event_keys``.
3. ``Content-Type: application/json``, ``Rokt-Version`` (absent, empty or
   ``2020-05-21``) and ``Charset`` (absent or ``utf-8``) → else 400
   (``RequestValidationError``); see ``_event_rules``.
4. v1 only: ``Idempotency-Key`` present and non-empty → else 400
   (``RequestValidationError``); a key accepted within the last 3 hours of
   emulator time → 409 (``Conflict``, "idempotency key already used"), checked
   before the body. Older keys are forgotten, so reuse is accepted again.
   v2 ignores the header.
5. the body: size, UTF-8, JSON, schema and ``eventTime`` rules → 400
   (``RequestBodyReadError``, ``RequestJsonUnmarshalError`` or
   ``RequestValidationError``, naming the field); nothing of a refused batch
   is applied.
6. 200 ``{"data": {"unprocessedRecords": [...]}}``. Events whose ``eventType``
   is refused (``refused_event_types``), or every event under the
   ``unprocessed`` fault, come back as records (``{"error": {"code":
   "ValidationError", "message"}, "record": <the event as received>}``) and
   are not applied; every other event is applied: counted once more under its
   ``clientEventId`` (a v2 resend applies again: at-least-once). A v1 key is
   remembered only when its batch is answered 200 (or applied and the answer
   then lost to a fault).

Only refusals echo nothing the client sent; records echo the event itself.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import TYPE_CHECKING, Final

from aiohttp import web

from ._event_rules import (
    UNAUTHORIZED,
    VALIDATION,
    Refusal,
    check_headers,
    decode_batch,
)
from ._event_schema import (
    ENCODER,
    ErrorData,
    EventsData,
    EventsError,
    EventsResponse,
    RecordError,
    UnprocessedRecord,
)
from ._event_settings import event_types
from ._ledger import EventTally
from ._tokens import (
    TokenStore,
    answer_token,
    basic_credentials,
    oauth_error,
    secret_matches,
)

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

    import msgspec
    from aiohttp.web_request import BaseRequest

    from ._event_schema import EventsRequest
    from ._event_settings import EventSettings
    from ._faults import ErrorAnswer

__all__ = [
    "CONFLICT",
    "FAULT_BODIES",
    "IDEMPOTENCY_WINDOW",
    "EventsDesk",
    "events_error",
    "events_fault_body",
    "token_fault_body",
]

#: Seconds of emulator time a v1 ``Idempotency-Key`` is remembered.
IDEMPOTENCY_WINDOW: Final = 3 * 3600.0
CONFLICT: Final = "Conflict"
#: Record error of the ``unprocessed`` fault: the docs' sample.
_FAULT_RECORD: Final = RecordError(code="ValidationError", message="Invalid content")
_REFUSED_RECORD: Final = RecordError(
    code="ValidationError", message="eventType is not accepted"
)
#: Event API codes of the 5xx a fault answers (the errors page's names).
_FAULT_CODES: Final[Mapping[int, str]] = {
    500: "InternalServerError",
    503: "ServiceUnavailableError",
    504: "GatewayTimeoutError",
}


def events_error(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    """``status`` with ``{"data": {"code", "message"}}``."""
    body = ENCODER.encode(EventsError(data=ErrorData(code=code, message=message)))
    return web.Response(
        status=status, body=body, content_type="application/json", headers=headers
    )


def events_fault_body(status: int, description: str, code: str) -> web.Response:
    """A fault's 5xx on the events endpoint, in the Event API's error shape."""
    return events_error(status, _FAULT_CODES.get(status, code), description)


def token_fault_body(status: int, description: str, code: str) -> web.Response:
    """A fault's 5xx on the token endpoint, in OAuth 2.0's error shape."""
    return oauth_error(
        status, "temporarily_unavailable" if status == 503 else "server_error"
    )


#: How each Event API endpoint's fault answers are shaped (not Rokt's way).
FAULT_BODIES: Final[Mapping[str, ErrorAnswer]] = {
    "events": events_fault_body,
    "token": token_fault_body,
}


def _refused(refusal: Refusal) -> web.Response:
    return events_error(refusal.status, refusal.code, refusal.message)


def _bearer(header: str | None) -> str | None:
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


class EventsDesk:
    """Settings, tokens, idempotency keys and counts of the Event API.

    Safe to use from any thread: everything sits behind one lock.
    """

    def __init__(self, settings: EventSettings, seed: int) -> None:
        self._initial = settings
        self._settings = settings
        self._lock = threading.Lock()
        self._tokens = TokenStore(seed)
        self._keys: dict[str, float] = {}
        self._counts: dict[str, int] = {}
        self._unprocessed = self._batches = self._conflicts = 0
        self._token_requests = self._tokens_issued = 0

    # --- controls ---------------------------------------------------------------

    @property
    def settings(self) -> EventSettings:
        """The configuration now."""
        return self._settings

    def configure(
        self,
        *,
        event_keys: Mapping[str, str] | None = None,
        oauth_apps: Mapping[str, str] | None = None,
        token_ttl: float | None = None,
        token_response: str | None = None,
        refused_event_types: Collection[str] | None = None,
    ) -> EventSettings:
        """Change what is given (None keeps it); tokens already issued keep their
        expiry. Returns the new settings.

        Raises:
            ValueError: a value is out of range; nothing changes then.
        """
        with self._lock:
            now = self._settings
            self._settings = replace(
                now,
                event_keys=now.event_keys if event_keys is None else event_keys,
                oauth_apps=now.oauth_apps if oauth_apps is None else oauth_apps,
                token_ttl=now.token_ttl if token_ttl is None else token_ttl,
                token_response=now.token_response
                if token_response is None
                else token_response,
                refused_event_types=now.refused_event_types
                if refused_event_types is None
                else event_types(refused_event_types),
            )
            return self._settings

    def revoke_tokens(self) -> int:
        """Make every token issued so far invalid; returns how many there were."""
        with self._lock:
            return self._tokens.revoke()

    def reset(self) -> None:
        """The constructed settings, no tokens, no keys, no counts."""
        with self._lock:
            self._settings = self._initial
            self._tokens.reset()
            self._keys.clear()
            self._counts = {}
            self._unprocessed = self._batches = self._conflicts = 0
            self._token_requests = self._tokens_issued = 0

    def count_token_request(self) -> None:
        """Count one token request as it arrives, faulted or not."""
        with self._lock:
            self._token_requests += 1

    def tally(self) -> EventTally:
        """A snapshot of the counts."""
        with self._lock:
            return EventTally(
                event_counts=dict(self._counts),
                events_unprocessed=self._unprocessed,
                event_batches=self._batches,
                idempotency_conflicts=self._conflicts,
                token_requests=self._token_requests,
                tokens_issued=self._tokens_issued,
            )

    # --- handlers ---------------------------------------------------------------

    def answer_token(
        self, request: BaseRequest, body: bytes, now: float
    ) -> web.Response:
        """Answer ``POST /auth/oauth2/token`` (see ``_tokens``)."""
        with self._lock:
            response, issued = answer_token(
                self._settings, self._tokens, request, body, now
            )
            self._tokens_issued += issued
        return response

    def answer_events(
        self,
        request: BaseRequest,
        body: bytes,
        now: float,
        *,
        version: int,
        all_unprocessed: bool = False,
    ) -> web.Response:
        """Answer ``POST /v{version}/events`` (see the module docstring)."""
        if request.method != "POST":
            return events_error(405, "MethodNotAllowed", "use POST", {"Allow": "POST"})
        headers = request.headers
        refused = self._unauthorized(version, headers.get("Authorization"), now)
        if refused is not None:
            return refused
        refusal = check_headers(headers, request.content_type)
        if refusal is not None:
            return _refused(refusal)
        key = headers.get("Idempotency-Key", "") if version == 1 else None
        if key == "":
            return events_error(400, VALIDATION, "Idempotency-Key header is required")
        if key is not None and self._conflicts_with(key, now):
            return self._conflict()
        decoded = decode_batch(body, now)
        if isinstance(decoded, Refusal):
            return _refused(decoded)
        return self._apply(*decoded, key, now, all_unprocessed)

    def _unauthorized(
        self, version: int, authorization: str | None, now: float
    ) -> web.Response | None:
        """401 unless the request carries this version's credentials."""
        if version == 1:
            token = _bearer(authorization)
            with self._lock:
                if token is not None and self._tokens.is_live(token, now):
                    return None
            message = "missing, unknown or expired bearer token"
        elif secret_matches(
            self._settings.event_keys, basic_credentials(authorization)
        ):
            return None
        else:
            message = "missing or unknown Basic key pair"
        return events_error(401, UNAUTHORIZED, message)

    def _apply(
        self,
        batch: EventsRequest,
        raws: tuple[msgspec.Raw, ...],
        key: str | None,
        now: float,
        all_unprocessed: bool,
    ) -> web.Response:
        """Take a valid batch: count what is applied, answer what is not."""
        refused_types = self._settings.refused_event_types
        records: list[UnprocessedRecord] = []
        with self._lock:
            if key is not None and self._seen(key, now):
                self._conflicts += 1
                return self._conflict()
            counts = self._counts
            for event, raw in zip(batch.events, raws, strict=True):
                if all_unprocessed or event.event_type in refused_types:
                    error = _FAULT_RECORD if all_unprocessed else _REFUSED_RECORD
                    records.append(UnprocessedRecord(error=error, record=raw))
                    continue
                counts[event.client_event_id] = counts.get(event.client_event_id, 0) + 1
            self._unprocessed += len(records)
            self._batches += 1
            if key is not None:
                self._keys.pop(key, None)  # a reused, forgotten key moves last
                self._keys[key] = now
        data = EventsData(unprocessed_records=tuple(records))
        return web.Response(
            status=200,
            body=ENCODER.encode(EventsResponse(data=data)),
            content_type="application/json",
        )

    def _conflicts_with(self, key: str, now: float) -> bool:
        with self._lock:
            seen = self._seen(key, now)
            self._conflicts += seen
            return seen

    def _seen(self, key: str, now: float) -> bool:
        """True when ``key`` was accepted less than the window ago; forgets older
        keys first (they sit at the front: keys are stored in arrival order)."""
        keys = self._keys
        while keys:
            oldest, at = next(iter(keys.items()))
            if now - at < IDEMPOTENCY_WINDOW:
                break
            del keys[oldest]
        accepted_at = keys.get(key)
        return accepted_at is not None and now - accepted_at < IDEMPOTENCY_WINDOW

    @staticmethod
    def _conflict() -> web.Response:
        return events_error(409, CONFLICT, "idempotency key already used")
