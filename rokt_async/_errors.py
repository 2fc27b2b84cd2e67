"""The exception tree and the one status -> class table.

```
RoktError                                   root; never raised itself
├── ConfigurationError (ValueError)         bad client arguments, CR/LF in header values
├── RequestValidationError (ValueError)     refused before sending
├── ClientStateError (RuntimeError)         the client cannot be used from here
│   ├── ClientClosedError                   used before open or after close; reopen
│   ├── EventLoopMismatchError              used from a loop it was not opened on
│   └── ForkedProcessError                  used in a child process after fork
├── TransportError                          no usable HTTP answer
│   ├── ConnectError                        nothing reached Rokt (refused, DNS, pool)
│   ├── RequestTimeoutError (TimeoutError)  deadline passed; outcome unknown
│   └── ConnectionLostError                 reset or disconnect mid-exchange
├── OutcomeUnknownError                     retries ran out after an ambiguous failure
├── ResponseDecodeError                     2xx whose body is empty/malformed/oversized
└── APIError                                non-2xx answer: .status .body .request_id
    ├── RedirectError 3xx (never followed)
    ├── BadRequestError 400 · AuthenticationError 401 · PermissionDeniedError 403
    ├── NotFoundError 404 · ConflictError 409 · UnprocessableEntityError 422
    ├── RateLimitError 429
    └── ServerError 5xx
        └── GatewayTimeoutError 504
```
Messages never carry headers, the API key or ``errors[].value``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, TypeAlias

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ._models import (
        CancelRequest,
        ConfirmRequest,
        ErrorBody,
        ReleaseRequest,
        ReserveRequest,
    )

    #: A request ``OutcomeUnknownError`` may carry (placements never ends in one).
    Request: TypeAlias = (
        ReserveRequest | ConfirmRequest | ReleaseRequest | CancelRequest
    )

__all__ = [
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ClientStateError",
    "ConfigurationError",
    "ConflictError",
    "ConnectError",
    "ConnectionLostError",
    "EventLoopMismatchError",
    "EventQueueFullError",
    "ForkedProcessError",
    "GatewayTimeoutError",
    "NotFoundError",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "RateLimitError",
    "RedirectError",
    "RequestTimeoutError",
    "RequestValidationError",
    "ResponseDecodeError",
    "RoktError",
    "ServerError",
    "TransportError",
    "UnclosedClientWarning",
    "UnprocessableEntityError",
    "error_class",
]


#: Longest piece of an answer an error message quotes: Rokt's ``description``,
#: aiohttp's parser message or msgspec's can carry what the peer sent.
QUOTE_LIMIT: Final = 200


def clip(text: str) -> str:
    """``text`` cut to ``QUOTE_LIMIT`` characters (marked with ``...``)."""
    return text if len(text) <= QUOTE_LIMIT else text[: QUOTE_LIMIT - 3] + "..."


class RoktError(Exception):
    """Root of every error this library raises; never raised itself.

    Whether a failure is retried is decided in one place, by what it means for
    a resend (``rokt_async._retry.classify``), not by a flag on the class.
    """

    #: How many attempts the call made before this error surfaced.
    attempts: int = 1


class ConfigurationError(RoktError, ValueError):
    """The client was given an unusable argument (bad URL, CR/LF in a header...)."""


class RequestValidationError(RoktError, ValueError):
    """A request Rokt would refuse was caught before anything was sent."""


class ClientStateError(RoktError, RuntimeError):
    """The client cannot serve a call from where it was called."""


class ClientClosedError(ClientStateError):
    """The client is not open: used before ``async with``, after close, or reopened."""


class EventLoopMismatchError(ClientStateError):
    """The client was used from an event loop other than the one it opened on."""


class ForkedProcessError(ClientStateError):
    """The client was opened in a parent process and used in a forked child."""


class EventQueueFullError(RoktError):
    """The background event sender holds ``max_queue`` events not yet delivered;
    the event was not added (nothing is dropped silently)."""


class TransportError(RoktError):
    """No usable HTTP answer arrived."""


class ConnectError(TransportError):
    """Nothing reached Rokt: refused, DNS, TLS handshake or pool wait failed."""


class RequestTimeoutError(TransportError, TimeoutError):
    """No complete answer before the deadline; the outcome is unknown."""


class ConnectionLostError(TransportError):
    """The connection broke mid-exchange; the outcome is unknown."""


class ResponseDecodeError(RoktError):
    """A 2xx answer whose body is empty, malformed, oversized or of the wrong shape."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class OutcomeUnknownError(RoktError):
    """A state-changing call gave up after an ambiguous failure: Rokt may or may
    not have acted.

    ``resend_is_safe`` says whether sending the same request again can act at most
    once: true where every item names its reservation (a reservation is confirmed
    or released at most once) and for cancel; false for reserve and for a confirm
    with quantity-only items, which the client did not resend and which could buy
    twice if you do. The message says why the call stopped.
    """

    def __init__(
        self,
        message: str,
        *,
        endpoint: str,
        identifiers: Mapping[str, str],
        attempts: int,
        last_error: RoktError,
        resend_is_safe: bool,
        request: Request | None = None,
        session_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.identifiers = dict(identifiers)
        self.attempts = attempts
        self.last_error = last_error
        self.resend_is_safe = resend_is_safe
        #: The frozen request that was sent: ``await rokt.confirm_cart(err.request)``
        #: resends the same bytes' worth of request (when ``resend_is_safe``).
        self.request = request
        #: The ``rokt-session-id`` every attempt carried: pass it again with
        #: ``session_id=`` so the resend is tracked as the same session.
        self.session_id = session_id

    @property
    def last_status(self) -> int | None:
        """HTTP status of the last attempt, or None if it got no answer."""
        last = self.last_error
        return last.status if isinstance(last, APIError) else None


class APIError(RoktError):
    """Rokt (or a proxy in front of it) answered with a non-2xx status.

    The message carries what Rokt said: its ``description`` and each error's
    ``code`` and ``message`` (never ``value``, which can echo customer data), the
    method and path that were refused, the request id when there is one, and a
    hint for 401, 403 and 404. Each piece is cut to 200 characters.
    """

    def __init__(
        self,
        status: int,
        body: ErrorBody | None,
        request_id: str | None = None,
        *,
        retry_after: float | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(_describe(status, body, request_id, path))
        self.status = status
        self.body = body
        self.request_id = request_id
        self.retry_after = retry_after
        self.path = path


#: What to check first, by status; names the setting, never its value.
_HINTS: Final[Mapping[int, str]] = {
    401: "check api_key: Rokt did not accept it",
    403: "check tag_id: this api_key may not act for it",
    404: "no such endpoint: check base_url (the host's root, without /v1)",
}
#: The same for the Event API and its token endpoint.
_EVENT_HINTS: Final[Mapping[int, str]] = {
    401: "check event_credentials: Rokt did not accept them",
    403: "check account_id: these event_credentials may not act for it",
    404: "no such endpoint: check base_url (the host's root, without /v1)",
}
_EVENT_PATHS: Final = ("/events", "/oauth2/token")
_MOST_DETAILS: Final = 5


def _describe(
    status: int, body: ErrorBody | None, request_id: str | None, path: str | None
) -> str:
    where = f"POST {path} -> " if path else ""
    reason = body.description if body is not None and body.description else None
    text = f"{where}HTTP {status}: {clip(reason) if reason else 'no Rokt error body'}"
    if body is not None and body.errors:
        details = [
            clip(f"{e.code}: {e.message}" if e.message else e.code)
            for e in body.errors[:_MOST_DETAILS]
        ]
        more = len(body.errors) - _MOST_DETAILS
        if more > 0:
            details.append(f"{more} more")
        text += f" [{'; '.join(details)}]"
    hints = _EVENT_HINTS if path and path.endswith(_EVENT_PATHS) else _HINTS
    hint = hints.get(status)
    if hint is not None:
        text += f"; {hint}"
    if request_id:
        text += f" (request id {clip(request_id)})"
    return text


class RedirectError(APIError):
    """A 3xx answer; redirects are never followed because they would leak the key."""


class BadRequestError(APIError):
    """400: Rokt refused the request as malformed."""


class AuthenticationError(APIError):
    """401: the API key is missing or unknown."""


class PermissionDeniedError(APIError):
    """403: the key may not act for this tag id."""


class NotFoundError(APIError):
    """404: no such endpoint (check ``base_url``)."""


class ConflictError(APIError):
    """409: the request conflicts with what Rokt already holds."""


class UnprocessableEntityError(APIError):
    """422: well-formed but impossible (e.g. a cart that never existed)."""


class RateLimitError(APIError):
    """429: throttled; the request was refused, not performed."""


class ServerError(APIError):
    """5xx: Rokt or a proxy failed."""


class GatewayTimeoutError(ServerError):
    """504: the gateway gave up waiting; the upstream may still have acted."""


class UnclosedClientWarning(RuntimeWarning):
    """A ``RoktClient`` was garbage-collected while open; names where it was made.

    A ``RuntimeWarning``, so Python shows it by default (``ResourceWarning`` is
    hidden unless Python runs with ``-X dev``).
    """


_BY_STATUS: Final[Mapping[int, type[APIError]]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
    504: GatewayTimeoutError,
}


def error_class(status: int) -> type[APIError]:
    """The exception class for a non-2xx status."""
    found = _BY_STATUS.get(status)
    if found is not None:
        return found
    if status >= 500:
        return ServerError
    if 300 <= status < 400:
        return RedirectError
    return APIError
