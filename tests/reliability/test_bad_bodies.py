"""Bad bodies from a raw server on 127.0.0.1, on every endpoint and status.

A fixed corpus first (empty, HTML, truncated, invalid UTF-8, BOM, NaN, deep
nesting...), then Hypothesis drawing status, headers and body bytes. Every call
gives a valid answer or a ``RoktError``, never anything else; error statuses keep
their class (``body=None`` when the body is not Rokt JSON); and no message quotes
more than 200 bytes of the body.
"""

from __future__ import annotations

import asyncio
import gzip
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from rokt_async import (
    NO_RETRY,
    NO_WAIT_RETRY,
    APIError,
    BadRequestError,
    ConfirmResponse,
    ConnectionLostError,
    ErrorBody,
    GatewayTimeoutError,
    OutcomeUnknownError,
    ReleaseResponse,
    RequestTimeoutError,
    ReserveResponse,
    ResponseDecodeError,
    RoktError,
    ServerError,
    UnprocessableEntityError,
)
from tests.conftest import (
    A_CANCEL,
    A_CONFIRM,
    A_PLACEMENTS,
    A_RELEASE,
    A_RESERVE,
    make_client,
)

from ._hostile import HostileServer, Reply, chunked, head, json_reply, pieces

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from rokt_async import RetryPolicy, RoktClient

#: Longest piece of a body an error message may quote.
QUOTE_LIMIT: Final = 200
CALL_TIMEOUT: Final = 5.0
#: Attempts a retried call makes under the test clients' policy (NO_WAIT_RETRY).
ATTEMPTS: Final = 4
STATUSES: Final = (200, 400, 422, 500, 504)
BY_STATUS: Final[dict[int, type[APIError]]] = {
    400: BadRequestError,
    422: UnprocessableEntityError,
    500: ServerError,
    504: GatewayTimeoutError,
}


@dataclass(frozen=True)
class Doc:
    """A valid body to spoil: ``key`` is a known field's name and ``value`` its
    JSON value; ``key + b":" + value`` occurs in ``body`` exactly once."""

    body: bytes
    key: bytes
    value: bytes


@dataclass(frozen=True)
class Endpoint:
    """One operation: how to call it, what its 2xx answer is, a valid 2xx body."""

    name: str
    call: Callable[[RoktClient], Awaitable[object]]
    answer: type | None
    ok: Doc
    #: Attempts a 504 gets before the call gives up (reserve is never resent).
    attempts_on_504: int


ENDPOINTS: Final = (
    Endpoint(
        "reserve",
        lambda c: c.reserve_cart(A_RESERVE, timeout=CALL_TIMEOUT),
        ReserveResponse,
        Doc(
            b'{"cartId":"cart-1","items":[{"cartItemId":"parking",'
            b'"itemReservationId":"r1","quantity":2,"unitPrice":10,"totalPrice":20,'
            b'"currency":"USD","expirationDateTimeUtc":"2026-11-23T10:00:00Z"}]}',
            b'"cartId"',
            b'"cart-1"',
        ),
        1,
    ),
    Endpoint(
        "confirm",
        lambda c: c.confirm_cart(A_CONFIRM, timeout=CALL_TIMEOUT),
        ConfirmResponse,
        Doc(
            b'{"cartId":"cart-1","orderId":"order-1","items":[{"cartItemId":'
            b'"parking","itemReservationId":"res-1","itemConfirmationId":"k1",'
            b'"success":true}]}',
            b'"cartId"',
            b'"cart-1"',
        ),
        ATTEMPTS,
    ),
    Endpoint(
        "release",
        lambda c: c.release_cart(A_RELEASE, timeout=CALL_TIMEOUT),
        ReleaseResponse,
        Doc(
            b'{"cartId":"cart-1","items":[{"cartItemId":"parking",'
            b'"itemReservationId":"res-1","success":true}]}',
            b'"cartId"',
            b'"cart-1"',
        ),
        ATTEMPTS,
    ),
    Endpoint(
        "cancel",
        lambda c: c.cancel_confirmation(A_CANCEL, timeout=CALL_TIMEOUT),
        None,
        Doc(b'{"itemReservationId":"res-1"}', b'"itemReservationId"', b'"res-1"'),
        ATTEMPTS,
    ),
    Endpoint(
        "placements",
        lambda c: c.any_placements(A_PLACEMENTS, timeout=CALL_TIMEOUT),
        bool,
        Doc(b'{"result":true}', b'"result"', b"true"),
        ATTEMPTS,
    ),
)
#: Rokt's error body (the known field spoiled is ``description``).
ERROR_DOC: Final = Doc(
    b'{"description":"cart cart-1 is unknown","errors":[{"code":"CartNotFound",'
    b'"message":"no such cart","value":"cart-1"}]}',
    b'"description"',
    b'"cart cart-1 is unknown"',
)
PROXY_HTML: Final = (
    b"<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1>"
    + b"<p>The upstream server sent an invalid response; request id "
    + b"0123456789abcdef" * 40
    + b".</p></body></html>"
)
INVALID_UTF8: Final = b"\xff\xfe\xc3\x28"


def _with_member(member: bytes) -> Callable[[Doc], bytes]:
    """The document with ``member`` added as its first member."""
    return lambda doc: b"{" + member + b"," + doc.body[1:]


def _known_replaced(value: bytes) -> Callable[[Doc], bytes]:
    """The document with its known field's value replaced by ``value``."""
    return lambda doc: doc.body.replace(
        doc.key + b":" + doc.value, doc.key + b":" + value
    )


@dataclass(frozen=True)
class BadBody:
    """One corpus entry: how it spoils a document, and whether the result is
    still a document of the right shape (``decodes``)."""

    name: str
    build: Callable[[Doc], bytes]
    decodes: bool
    content_type: str = "application/json"


CORPUS: Final = (
    BadBody("empty", lambda doc: b"", decodes=False),
    BadBody("html", lambda doc: PROXY_HTML, decodes=False, content_type="text/html"),
    BadBody("truncated", lambda doc: doc.body[: len(doc.body) // 2], decodes=False),
    BadBody(
        "invalid-utf8-known-field",
        _known_replaced(b'"' + INVALID_UTF8 + b'"'),
        decodes=False,
    ),
    # Skipped unknown fields are not checked for UTF-8: the document still decodes.
    BadBody(
        "invalid-utf8-unknown-field",
        _with_member(b'"zzNote":"' + INVALID_UTF8 + b'"'),
        decodes=True,
    ),
    BadBody("utf8-bom", lambda doc: b"\xef\xbb\xbf" + doc.body, decodes=False),
    BadBody("trailing-garbage", lambda doc: doc.body + b"}garbage", decodes=False),
    BadBody(
        "duplicate-keys",
        lambda doc: _with_member(doc.key + b":" + doc.value)(doc),
        decodes=True,
    ),
    BadBody("nan", _with_member(b'"zzRatio":NaN'), decodes=False),
    BadBody(
        "huge-integer", _with_member(b'"zzCount":' + b"1" + b"0" * 400), decodes=True
    ),
    BadBody(
        "deep-nesting",
        _with_member(b'"zzTree":' + b"[" * 100_000 + b"]" * 100_000),
        decodes=False,
    ),
    BadBody("json-array", lambda doc: b"[" + doc.body + b"]", decodes=False),
    BadBody("null", lambda doc: b"null", decodes=False),
    BadBody(
        "wrong-content-type",
        lambda doc: doc.body,
        decodes=True,
        content_type="text/html; charset=utf-8",
    ),
)


def longest_quote(message: str, body: bytes) -> int:
    """Length of the longest run of ``message``'s bytes that also occurs in
    ``body`` (the most of the body the message quotes)."""
    text = message.encode()
    longest = 0
    for start in range(len(text)):
        length = longest + 1
        while start + length <= len(text) and text[start : start + length] in body:
            longest = length
            length += 1
    return longest


def check_messages(error: RoktError, body: bytes) -> None:
    """Neither the error's message nor its last attempt's quotes more than
    ``QUOTE_LIMIT`` bytes of ``body``."""
    errors = [error]
    if isinstance(error, OutcomeUnknownError):
        errors.append(error.last_error)
    for each in errors:
        quoted = longest_quote(str(each), body)
        assert quoted <= QUOTE_LIMIT, f"{type(each).__name__} quotes {quoted} bytes"


def check_answer(endpoint: Endpoint, answer: object) -> None:
    """``answer`` is what ``endpoint`` returns for a 2xx."""
    if endpoint.answer is None:
        assert answer is None
    else:
        assert isinstance(answer, endpoint.answer)


async def outcome(
    reply: Reply, endpoint: Endpoint, retry: RetryPolicy | None = None
) -> tuple[object, HostileServer]:
    """What one call to ``endpoint`` gives (its answer, or the exception it
    raised) against a server sending ``reply`` to every request."""
    async with (
        HostileServer(default=reply) as server,
        make_client(server.url, retry=retry or NO_WAIT_RETRY) as client,
    ):
        try:
            async with asyncio.timeout(CALL_TIMEOUT * ATTEMPTS + 5):
                return await endpoint.call(client), server
        except Exception as exc:  # noqa: BLE001 - what escaped is the point
            return exc, server


def corpus_reply(status: int, body: bytes, content_type: str) -> Reply:
    """``body`` with the given status and Content-Type, and a right Content-Length."""
    headers = {"Content-Type": content_type, "Content-Length": str(len(body))}
    return Reply(head(status, headers), body)


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("bad", CORPUS, ids=[bad.name for bad in CORPUS])
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e.name for e in ENDPOINTS])
async def test_bad_body_is_an_answer_or_typed_error_per_status(
    endpoint: Endpoint, bad: BadBody, status: int
) -> None:
    """Each corpus body gives the endpoint's answer (a 200 that still decodes;
    any 200 on cancel) or a RoktError: ResponseDecodeError for a 200, the status's
    class for an error status (a 504 retried, then GatewayTimeoutError or
    OutcomeUnknownError), with ``body=None`` unless it is still Rokt JSON."""
    body = bad.build(endpoint.ok if status == 200 else ERROR_DOC)
    result, server = await outcome(
        corpus_reply(status, body, bad.content_type), endpoint
    )
    if not isinstance(result, RoktError):
        assert not isinstance(result, BaseException), repr(result)
    if status == 200:
        if endpoint.answer is None or bad.decodes:
            check_answer(endpoint, result)
        else:
            assert isinstance(result, ResponseDecodeError), repr(result)
            assert result.status == 200
            check_messages(result, body)
        assert len(server.requests) == 1
        return
    assert isinstance(result, RoktError), repr(result)
    check_messages(result, body)
    last = result.last_error if isinstance(result, OutcomeUnknownError) else result
    assert type(last) is BY_STATUS[status]
    assert isinstance(last, APIError)
    assert last.status == status
    if bad.decodes:
        assert isinstance(last.body, ErrorBody)
        assert last.body.errors[0].code == "CartNotFound"
    else:
        assert last.body is None
    if status == 504:
        stays_504 = endpoint.name == "placements"
        assert isinstance(
            result, GatewayTimeoutError if stays_504 else OutcomeUnknownError
        )
        assert len(server.requests) == result.attempts == endpoint.attempts_on_504
    else:
        assert result is last
        assert len(server.requests) == 1


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e.name for e in ENDPOINTS])
async def test_no_content_is_an_answer_only_where_none_is_documented(
    endpoint: Endpoint,
) -> None:
    """A 204 is None from cancel (no body documented) and a ResponseDecodeError
    saying the body is empty from every endpoint that expects one."""
    result, _ = await outcome(Reply(head(204, {})), endpoint)
    if endpoint.answer is None:
        assert result is None
    else:
        assert isinstance(result, ResponseDecodeError), repr(result)
        assert (result.status, str(result)) == (204, "HTTP 204 with an empty body")


@pytest.mark.parametrize("status", STATUSES[1:])
async def test_long_description_is_quoted_at_most_200_bytes(status: int) -> None:
    """An error body whose description runs to 1,000 bytes keeps its class and
    parsed body, and the error message quotes at most 200 bytes of it."""
    description = b"cart cart-1 is unknown " + b"x" * 1000
    body = ERROR_DOC.body.replace(ERROR_DOC.value, b'"' + description + b'"')
    endpoint = ENDPOINTS[-1]  # placements: the status's class, unwrapped
    result, _ = await outcome(json_reply(status, body), endpoint, retry=NO_RETRY)
    assert type(result) is BY_STATUS[status]
    assert isinstance(result, APIError)
    assert result.body is not None
    assert result.body.description == description.decode()
    check_messages(result, body)


GARBLED: Final = {
    "status-line": Reply(b"NOT-HTTP " + b"garbled " * 400 + b"\r\n\r\n", close=True),
    "after-the-body": Reply(
        head(200, {"Content-Type": "application/json", "Content-Length": "15"})
        + b'{"result":true}'
        + b"garbled " * 400,
        close=True,
    ),
}


@pytest.mark.parametrize("where", GARBLED)
async def test_garbled_reply_is_connection_lost_quoting_at_most_200_bytes(
    where: str,
) -> None:
    """A reply that is not HTTP (a garbled status line, or garbage where the next
    response would start) is a ConnectionLostError whose message quotes at most
    200 bytes of what the peer sent."""
    reply = GARBLED[where]
    result, _ = await outcome(reply, ENDPOINTS[-1], retry=NO_RETRY)
    assert isinstance(result, ConnectionLostError), repr(result)
    check_messages(result, reply.head)


# --- Hypothesis: status x headers x body ----------------------------------------------

CONTENT_TYPES: Final = (
    None,
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=latin-1",
    "text/html",
    "text/plain",
    "application/octet-stream",
    "application/problem+json",
    "nonsense",
)
#: Framings that deliver the body as it was sent.
WHOLE: Final = (
    "length",  # Content-Length right
    "none",  # no length: the body ends when the server closes
    "chunked",  # Transfer-Encoding: chunked, framed
)
#: Framings that cut, pad or garble the body or the message.
BROKEN: Final = (
    "length-short",  # Content-Length smaller than the body
    "length-long",  # Content-Length larger than the body (then the server closes)
    "length-junk",  # a Content-Length that is not a number
    "chunked-unframed",  # Transfer-Encoding: chunked, raw bytes
    "chunked-and-length",  # both headers
    "transfer-gzip",  # Transfer-Encoding: gzip
)
#: Whole framings two times in three, so that most bodies reach the decoder.
FRAMINGS: Final = (
    st.sampled_from(WHOLE) | st.sampled_from(WHOLE) | st.sampled_from(BROKEN)
)
#: No Content-Encoding half the time; gzip or deflate (mostly really compressed)
#: a quarter; identity or one the client cannot or need not decode the rest.
ENCODINGS: Final = (
    st.none()
    | st.none()
    | st.sampled_from(("gzip", "deflate"))
    | st.sampled_from(("identity", "br", "zstd", "x-unknown"))
)
#: The statuses Rokt and its proxies send, and any other.
STATUS_CODES: Final = st.sampled_from(
    (200, 201, 202, 204, 301, 304, 400, 401, 403, 404, 409, 422, 429, 500, 502, 503)
) | st.integers(100, 599)


@dataclass(frozen=True)
class Drawn:
    """One reply Hypothesis drew, and the endpoint it answers."""

    endpoint: Endpoint
    status: int
    content_type: str | None
    encoding: str | None
    compressed: bool
    framing: str
    body: bytes

    def reply(self) -> Reply:
        """The reply as bytes on the wire; the server closes after it."""
        body = self.body
        if self.compressed and self.encoding == "gzip":
            body = gzip.compress(body, mtime=0)
        elif self.compressed and self.encoding == "deflate":
            body = zlib.compress(body)
        headers = [("Connection", "close")]
        if self.content_type is not None:
            headers.append(("Content-Type", self.content_type))
        if self.encoding is not None:
            headers.append(("Content-Encoding", self.encoding))
        framing = self.framing
        parts = [body]
        if framing.startswith("length"):
            length = {
                "length": str(len(body)),
                "length-short": str(len(body) // 2),
                "length-long": str(len(body) + 10),
                "length-junk": "12abc",
            }[framing]
            headers.append(("Content-Length", length))
        elif framing.startswith("chunked"):
            headers.append(("Transfer-Encoding", "chunked"))
            if framing == "chunked-and-length":
                headers.append(("Content-Length", str(len(body))))
            if framing != "chunked-unframed":
                parts = list(chunked(pieces(body, 7)))
        elif framing == "transfer-gzip":
            headers.append(("Transfer-Encoding", "gzip"))
        return Reply(head(self.status, headers), b"".join(parts), close=True)


@st.composite
def drawn_replies(draw: st.DrawFn) -> Drawn:
    """An endpoint, a status, headers, and a body: random bytes, a corpus entry
    spoiling the document that status carries, or that document itself."""
    endpoint = draw(st.sampled_from(ENDPOINTS))
    status = draw(STATUS_CODES)
    doc = endpoint.ok if 200 <= status < 300 else ERROR_DOC
    body = draw(
        st.binary(max_size=600)
        | st.sampled_from(CORPUS).map(lambda bad: bad.build(doc))
        | st.just(doc.body)
    )
    return Drawn(
        endpoint=endpoint,
        status=status,
        content_type=draw(st.sampled_from(CONTENT_TYPES)),
        encoding=draw(ENCODINGS),
        compressed=draw(st.sampled_from((True, True, True, False))),
        framing=draw(FRAMINGS),
        body=body,
    )


async def drawn_outcome(drawn: Drawn) -> object:
    """One call against a fresh server and client answering what was drawn."""
    result, server = await outcome(drawn.reply(), drawn.endpoint, retry=NO_RETRY)
    assert len(server.requests) == 1
    return result


def test_drawn_replies_give_an_answer_or_a_typed_error(
    size: Callable[[int, int], int],
) -> None:
    """Whatever status, headers and body the server sends (and then closes), each
    call gives the endpoint's answer for a 2xx or a RoktError, and never waits
    for bytes that cannot come (no timeout)."""
    # 60 in make test: one run in five on a busy 2-core machine drew a reply that
    # kept a call waiting until its attempt timer (RequestTimeoutError), not yet
    # reproduced; print_blob gives the next failure's example to replay.
    examples = size(60, 1000)

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(drawn=drawn_replies())
    def one(drawn: Drawn) -> None:
        result = runner.run(drawn_outcome(drawn))
        event(type(result).__name__)  # shown by --hypothesis-show-statistics
        if isinstance(result, BaseException):
            assert isinstance(result, RoktError), repr(result)
            assert not isinstance(result, RequestTimeoutError), repr(result)
        else:
            assert 200 <= drawn.status < 300
            check_answer(drawn.endpoint, result)

    with asyncio.Runner() as runner:
        one()
