"""``RoktClient.send_events`` and ``event_sender``: Rokt's Event API.

The credentials pick the generation: ``BasicCredentials`` → ``POST /v2/events``
with ``Authorization: Basic``; ``OAuthCredentials`` → ``POST /v1/events`` with a
Bearer token and one ``Idempotency-Key`` per batch, the same on every attempt.
Batches go through the client's one retry layer and budget.
"""

from __future__ import annotations

import asyncio
import datetime
import functools
from typing import TYPE_CHECKING, Any, Final, TypeVar

from . import _endpoints
from ._credentials import BasicCredentials, OAuthCredentials, basic_auth
from ._errors import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    OutcomeUnknownError,
    RoktError,
)
from ._event_batches import Batch, plan_batches
from ._event_results import EventsResult, FailedBatch, UnprocessedEvent
from ._event_sender import EventSender
from ._headers import Secret
from ._models import _Request
from ._oauth import TokenSource

if TYPE_CHECKING:
    from collections.abc import Coroutine, Iterable

    from ._credentials import EventCredentials
    from ._event_models import Event, EventsAnswer, TokenAnswer

T = TypeVar("T")

__all__ = ["EventCalls", "EventLink", "Sent"]

_FORM: Final = "application/x-www-form-urlencoded"
_TOKEN_BODY: Final = b"grant_type=client_credentials"


class _TokenRequest(_Request, frozen=True):
    """The token request, for errors that name their request (it has no JSON)."""

    grant_type: str = "client_credentials"


_TOKEN_REQUEST: Final = _TokenRequest()


class EventLink:
    """The Event API settings of one client: credentials, headers, URL, token."""

    __slots__ = ("basic", "endpoint", "headers", "oauth", "tokens", "url")

    def __init__(
        self, credentials: EventCredentials, version: str, base_url: str
    ) -> None:
        self.headers = {"Charset": "utf-8", "Rokt-Version": version}
        self.tokens: TokenSource | None = None
        self.oauth: Secret | None = None
        self.basic: Secret | None = None
        if isinstance(credentials, OAuthCredentials):
            self.endpoint = _endpoints.EVENTS_V1
            self.oauth = basic_auth(credentials.app_id, credentials.app_secret)
        elif isinstance(credentials, BasicCredentials):
            self.endpoint = _endpoints.EVENTS_V2
            self.basic = basic_auth(credentials.public_key, credentials.secret_key)
            self.headers["Authorization"] = self.basic
        else:
            raise ConfigurationError(
                "event_credentials must be BasicCredentials or OAuthCredentials,"
                f" not {type(credentials).__name__}"
            )
        self.url = base_url + self.endpoint.path

    def __repr__(self) -> str:
        return f"<EventLink {self.endpoint.path}>"


class Sent:
    """What one batch came to: delivered, refused inside a 200, or an error."""

    __slots__ = ("delivered", "error", "unprocessed")

    def __init__(
        self,
        delivered: int,
        unprocessed: tuple[UnprocessedEvent, ...] = (),
        error: RoktError | None = None,
    ) -> None:
        self.delivered = delivered
        self.unprocessed = unprocessed
        self.error = error


class EventCalls:
    """``send_events`` and ``event_sender`` over the client's one call path."""

    __slots__ = ()

    if TYPE_CHECKING:
        _base_url: str
        _event_link: EventLink | None

        def _call(
            self,
            endpoint: _endpoints.Endpoint[T],
            url: str,
            request: _Request,
            payload: bytes,
            headers: dict[str, str],
            timeout: float | None,
        ) -> Coroutine[Any, Any, T]: ...

        def _clock(self) -> float: ...

    async def send_events(
        self,
        events: Iterable[Event],
        *,
        account_id: str,
        concurrency: int = 4,
        timeout: float | None = None,
    ) -> EventsResult:
        """Send events to Rokt's Event API, in batches of at most 100 events and
        256 KiB, with at most ``concurrency`` batches in flight.

        A failed batch never cancels the others and is reported in the result,
        never raised: check ``result.is_complete`` or call
        ``result.raise_for_failures()``.

        Args:
            events: any number of events; ``client_event_id`` unique among them.
            account_id: your Rokt account id.
            concurrency: batches in flight at most.
            timeout: each batch's deadline (None: ``RetryPolicy.deadlines["events"]``).

        Raises:
            ConfigurationError: the client has no ``event_credentials``.
            RequestValidationError: an event breaks a rule (named by index);
                nothing was sent.
        """
        link = self._link()
        if concurrency < 1:
            raise ConfigurationError("concurrency must be >= 1")
        if timeout is not None and not timeout > 0:
            raise ConfigurationError("timeout must be > 0")
        batches = plan_batches(events, account_id, _utc_now())
        gate = asyncio.Semaphore(concurrency)

        async def one(batch: Batch) -> Sent:
            async with gate:
                return await self._send_batch(link, batch, timeout)

        sent = await asyncio.gather(*(one(batch) for batch in batches))
        return _result(batches, sent)

    def event_sender(
        self,
        *,
        account_id: str,
        max_queue: int = 10_000,
        flush_interval: float = 1.0,
        close_timeout: float = 10.0,
        concurrency: int = 4,
    ) -> EventSender:
        """A background sender: ``add(event)`` queues without waiting on Rokt.

        Use it as ``async with rokt.event_sender(account_id=...) as sender:``.
        Batches go out when 100 events are queued or every ``flush_interval``
        seconds; leaving the block flushes within ``close_timeout`` and keeps
        what could not be delivered on ``sender.undelivered``.

        Raises:
            ConfigurationError: no ``event_credentials``, or a bad setting.
        """
        self._link()
        return EventSender(
            lambda batch: self._send_batch(self._link(), batch, None),
            account_id=account_id,
            max_queue=max_queue,
            flush_interval=flush_interval,
            close_timeout=close_timeout,
            concurrency=concurrency,
        )

    def _link(self) -> EventLink:
        link = self._event_link
        if link is None:
            raise ConfigurationError(
                "this client has no event_credentials: pass"
                " RoktClient(event_credentials=BasicCredentials(public_key,"
                " secret_key)) or OAuthCredentials(app_id, app_secret) to send events"
            )
        return link

    async def _send_batch(
        self, link: EventLink, batch: Batch, timeout: float | None
    ) -> Sent:
        """One batch through the retry layer; its failure returned, not raised."""
        count = len(batch.wire)
        try:
            if link.oauth is None:
                answer = await self._post_batch(
                    link, batch, dict(link.headers), timeout
                )
            else:
                answer = await self._post_with_token(link, batch, timeout)
        except RoktError as exc:
            if link.oauth is not None and _is_conflict(exc):
                return Sent(count)  # this key was delivered before: a success
            return Sent(0, error=exc)  # (/v2 documents no 409: not ours to excuse)
        unprocessed = _unprocessed(answer)
        return Sent(count - len(unprocessed), unprocessed)

    async def _post_with_token(
        self, link: EventLink, batch: Batch, timeout: float | None
    ) -> EventsAnswer:
        """``/v1``: a Bearer token; after a 401, one new token and one resend
        with the same Idempotency-Key, then the batch fails."""
        tokens = self._tokens(link)
        headers = dict(link.headers)
        headers["Idempotency-Key"] = batch.idempotency_key
        token = await tokens.get()
        headers["Authorization"] = Secret(f"Bearer {token}")
        try:
            return await self._post_batch(link, batch, headers, timeout)
        except AuthenticationError:
            tokens.drop(token)
        token = await tokens.get()
        headers["Authorization"] = Secret(f"Bearer {token}")
        return await self._post_batch(link, batch, headers, timeout)

    def _post_batch(
        self,
        link: EventLink,
        batch: Batch,
        headers: dict[str, str],
        timeout: float | None,
    ) -> Coroutine[Any, Any, EventsAnswer]:
        return self._call(
            link.endpoint, link.url, batch.request(), batch.payload, headers, timeout
        )

    def _tokens(self, link: EventLink) -> TokenSource:
        tokens = link.tokens
        if tokens is None:
            if link.oauth is None:
                raise ConfigurationError("Bearer tokens need OAuthCredentials")
            tokens = link.tokens = TokenSource(
                functools.partial(self._fetch_token, link.oauth), self._clock
            )
        return tokens

    async def _fetch_token(self, basic: Secret) -> TokenAnswer:
        """``POST /auth/oauth2/token``: retried as any safe call; a 400 or 401 is
        ``AuthenticationError`` (the app id or secret was refused), never retried."""
        headers: dict[str, str] = {"Authorization": basic, "Content-Type": _FORM}
        endpoint = _endpoints.TOKEN
        try:
            return await self._call(
                endpoint,
                self._base_url + endpoint.path,
                _TOKEN_REQUEST,
                _TOKEN_BODY,
                headers,
                None,
            )
        except BadRequestError as exc:
            raise AuthenticationError(
                exc.status, exc.body, exc.request_id, path=exc.path
            ) from None


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _is_conflict(exc: RoktError) -> bool:
    """A 409, or a call that ended in one after an ambiguous attempt (a 504
    after Rokt took the batch, then the resend's 409)."""
    if isinstance(exc, OutcomeUnknownError):
        return isinstance(exc.last_error, ConflictError)
    return isinstance(exc, ConflictError)


def _unprocessed(answer: EventsAnswer) -> tuple[UnprocessedEvent, ...]:
    data = answer.data
    if data is None or not data.unprocessed_records:
        return ()
    return tuple(
        UnprocessedEvent(
            client_event_id=item.record.client_event_id if item.record else "",
            code=item.error.code if item.error else "",
            message=item.error.message if item.error else "",
        )
        for item in data.unprocessed_records
    )


def _result(batches: list[Batch], sent: list[Sent]) -> EventsResult:
    delivered = 0
    unprocessed: list[UnprocessedEvent] = []
    failed: list[FailedBatch] = []
    for batch, outcome in zip(batches, sent, strict=True):
        delivered += outcome.delivered
        unprocessed.extend(outcome.unprocessed)
        if outcome.error is not None:
            failed.append(FailedBatch(outcome.error, batch.client_event_ids))
    return EventsResult(
        delivered=delivered,
        unprocessed=tuple(unprocessed),
        failed=tuple(failed),
        batches=len(batches),
    )
