"""Secrets stay secret and header values cannot inject: canary runs, Hypothesis.

A canary API key goes through every way a call can end over a real socket on
127.0.0.1, with DEBUG logging everywhere and asyncio's debug mode on; nothing a
user can see (log records, reprs, messages, exception chains, formatted
tracebacks) may show it. Control characters in any header value a user gives are
refused with a typed error that does not echo the value, before anything is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import rokt_async
from rokt_async import (
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConfigurationError,
    ConnectError,
    ConnectionLostError,
    GatewayTimeoutError,
    OutcomeUnknownError,
    RateLimitError,
    RedirectError,
    RequestTimeoutError,
    RequestValidationError,
    ResponseDecodeError,
    RetryEvent,
    RoktClient,
    RoktError,
    ServerError,
    Timeouts,
)
from tests.conftest import (
    A_CANCEL,
    A_CONFIRM,
    A_PLACEMENTS,
    A_RELEASE,
    A_RESERVE,
    CANARY_KEY,
    error_chain,
    make_client,
)
from tests.integration._servers import Recorder, read_request, recording_server
from tests.reliability.conftest import LOOPS

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator

    from aiohttp import web

    from tests.reliability._figures import Figures

#: A second canary: Rokt's ``errors[].value`` may echo customer data, so it may sit
#: in ``error.body`` but never in a message, a repr or a log line.
VALUE_CANARY: Final = "cv-VALUE-CANARY-42d1"
ROKT_ERROR: Final = (
    b'{"description":"Bad Request","errors":[{"code":"InvalidValue",'
    b'"message":"cartId is not valid","value":"' + VALUE_CANARY.encode() + b'"}]}'
)
GOOD_ANSWERS: Final = {
    "reserve": (
        b'{"cartId":"cart-1","items":[{"cartItemId":"parking","itemReservationId":'
        b'"r1","quantity":2,"unitPrice":10,"totalPrice":20,"currency":"USD",'
        b'"expirationDateTimeUtc":"2026-11-23T10:00:00Z"}]}'
    ),
    "confirm": (
        b'{"cartId":"cart-1","orderId":"order-1","items":[{"cartItemId":"parking",'
        b'"itemReservationId":"res-1","itemConfirmationId":"k1","success":true}]}'
    ),
    "release": b'{"cartId":"cart-1","items":[]}',
    "cancel": b"",
    "placements": b'{"result":true}',
}
SMALL_CAP: Final = 8192  # max_response_bytes of the canary client
#: Per-call deadline of the canary run; the "slow" mode holds a request longer.
CALL_TIMEOUT: Final = 0.3
SLOW_HOLD: Final = 1.5
#: Hang guard of the canary run (not a timing assertion; it takes ~1.5 s). It is
#: in the loop because pytest-timeout cannot interrupt a test running on uvloop.
RUN_GUARD: Final = 30.0
PACKAGE_DIR: Final = str(Path(rokt_async.__file__).parent)


def answer(
    status: int, body: bytes, *, content_type: str = "application/json", extra: str = ""
) -> bytes:
    """A complete HTTP/1.1 response."""
    head = (
        f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n{extra}\r\n"
    )
    return head.encode() + body


def _reset(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    linger_zero = b"\x01\x00\x00\x00\x00\x00\x00\x00"  # close -> RST
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger_zero)
    writer.transport.abort()


@dataclass
class Scripted:
    """A raw HTTP server whose answer is picked by the first path segment, so
    ``base_url=http://127.0.0.1:PORT/<mode>`` selects how every call ends."""

    release: asyncio.Event = field(default_factory=asyncio.Event)
    seen: list[bytes] = field(default_factory=list)

    async def handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while True:
                request = await read_request(reader)
                self.seen.append(request)
                if not await self._answer(request, writer):
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()

    async def _answer(self, request: bytes, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; False when the connection must end."""
        path = request.split(b" ", 2)[1].decode()
        mode, endpoint = path.split("/")[1], path.rsplit("/", 1)[-1]
        name = {"any": "placements"}.get(endpoint, endpoint)
        canned = {
            "ok": answer(200, GOOD_ANSWERS[name]),
            "401": answer(401, b""),
            "400": answer(400, ROKT_ERROR),
            "500": answer(500, ROKT_ERROR),
            "502": answer(502, b"<html>Bad Gateway</html>", content_type="text/html"),
            "503": answer(503, ROKT_ERROR, extra="Retry-After: 0\r\n"),
            "504": answer(504, ROKT_ERROR),
            "429": answer(429, ROKT_ERROR, extra="Retry-After: 0\r\n"),
            "302": answer(302, b"", extra="Location: http://127.0.0.1:9/x\r\n"),
            "notjson": answer(200, b"<html>not json</html>"),
            "shape": answer(200, b'{"cartId":5,"items":"no"}'),
            "empty": answer(200, b""),
        }
        if mode in canned:
            writer.write(canned[mode])
            await writer.drain()
            return True
        if mode == "reset":
            _reset(writer)
        elif mode == "garbage":
            writer.write(b"NOT-HTTP garbage\r\n\r\n")
        elif mode == "truncate":
            writer.write(answer(200, GOOD_ANSWERS["confirm"])[:-10])
        elif mode == "big":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n{")
        elif mode == "slow":
            # Held past every call's deadline, then dropped unanswered. Bounded, so
            # that an attempt sent with no time left (which aiohttp then runs with
            # no timeout at all: see test_pool) still ends.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.release.wait(), SLOW_HOLD)
        return False


#: How each endpoint is called in the canary run.
CALLS: Final[dict[str, Callable[[RoktClient], Awaitable[object]]]] = {
    "reserve": lambda c: c.reserve_cart(A_RESERVE, timeout=CALL_TIMEOUT),
    "confirm": lambda c: c.confirm_cart(A_CONFIRM, timeout=CALL_TIMEOUT),
    "release": lambda c: c.release_cart(A_RELEASE, timeout=CALL_TIMEOUT),
    "cancel": lambda c: c.cancel_confirmation(A_CANCEL, timeout=CALL_TIMEOUT),
    "placements": lambda c: c.any_placements(A_PLACEMENTS, timeout=CALL_TIMEOUT),
}
MODES: Final = (
    "ok",
    "401",
    "400",
    "500",
    "502",
    "503",
    "504",
    "429",
    "302",
    "notjson",
    "shape",
    "empty",
    "reset",
    "garbage",
    "truncate",
    "big",
    "slow",
)


#: Every failure the canary run must provoke (found in the errors or their chains).
PROVOKED: Final = (
    AuthenticationError,
    BadRequestError,
    ServerError,
    GatewayTimeoutError,
    RateLimitError,
    RedirectError,
    OutcomeUnknownError,
    ConnectError,
    ConnectionLostError,
    RequestTimeoutError,
    ResponseDecodeError,
    RequestValidationError,
    ClientClosedError,
    ConfigurationError,
)


async def _outcome(call: Awaitable[object]) -> object:
    try:
        return await call
    except RoktError as exc:
        return exc


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _tracebacks(error: BaseException) -> Iterator[traceback.TracebackException]:
    """Every TracebackException (locals captured) linked to ``error``."""
    todo = [
        traceback.TracebackException.from_exception(e, capture_locals=True)
        for e in error_chain(error)
    ]
    seen: set[int] = set()
    while todo:
        tbe = todo.pop()
        if id(tbe) in seen:
            continue
        seen.add(id(tbe))
        yield tbe
        todo += [t for t in (tbe.__cause__, tbe.__context__) if t is not None]


def _area(filename: str) -> str:
    if filename.startswith(PACKAGE_DIR):
        return "rokt_async"
    for area in ("aiohttp", "asyncio", "multidict", "yarl"):
        if f"/{area}/" in filename:
            return area
    return "tests" if "/tests/" in filename else "other"


def locals_leaks(error: BaseException, secret: str) -> set[str]:
    """``area:function:local`` of every captured local whose repr shows ``secret``."""
    found: set[str] = set()
    for tbe in _tracebacks(error):
        for frame in tbe.stack:
            for name, text in (frame.locals or {}).items():
                if secret in text:
                    found.add(f"{_area(frame.filename)}:{frame.name}:{name}")
    return found


def messages(error: BaseException) -> list[str]:
    """What a user reads of ``error``: reprs, messages and formatted tracebacks of
    it and of everything linked to it."""
    texts = ["".join(traceback.format_exception(error))]
    for linked in error_chain(error):
        texts += [repr(linked), str(linked)]
        texts.append("".join(traceback.format_exception(linked)))
    return texts


def attributes(error: BaseException) -> list[str]:
    """The reprs of the attributes of ``error`` and everything linked to it."""
    return [repr(vars(linked)) for linked in error_chain(error)]


async def _canary_run(
    base: str, events: list[RetryEvent], texts: list[str], ok_outcomes: list[object]
) -> list[object]:
    """Every mode on every endpoint, then refused, closed and misused clients."""
    outcomes: list[object] = []
    quick = Timeouts(connect=1.0, response=1.0)
    for mode in MODES:
        rokt = make_client(
            f"{base}/{mode}",
            timeouts=quick,
            max_response_bytes=SMALL_CAP,
            on_retry=[events.append],
        )
        async with rokt:
            texts += [repr(rokt), str(rokt), repr(rokt.with_options(locale="en"))]
            answered = await asyncio.gather(
                *(_outcome(call(rokt)) for call in CALLS.values())
            )
            outcomes += answered
            if mode == "ok":
                ok_outcomes += answered
            outcomes.append(await _outcome(rokt.confirm_cart(A_CONFIRM, timeout=-1)))
            texts.append(repr(rokt.stats))
        outcomes.append(await _outcome(CALLS["confirm"](rokt)))  # closed
    refused = make_client(f"http://127.0.0.1:{_free_port()}", timeouts=quick)
    async with refused:
        for call in CALLS.values():
            outcomes.append(await _outcome(call(refused)))
    try:
        make_client(base).with_options(timeout=-1)
    except ConfigurationError as exc:
        outcomes.append(exc)
    return outcomes


@pytest.mark.both_loops
@pytest.mark.asyncio(loop_factories=LOOPS)
async def test_canary_key_never_shows_in_logs_reprs_or_errors_any_outcome(
    caplog: pytest.LogCaptureFixture, figures: Figures, request: pytest.FixtureRequest
) -> None:
    """Through successes and every failure we can provoke, with DEBUG logging and
    asyncio debug mode on, the API key appears in no log record, repr, message,
    exception chain or formatted traceback (locals included, in our frames)."""
    for name in (None, "rokt_async", "aiohttp", "asyncio"):
        caplog.set_level(logging.DEBUG, logger=name)
    loop = asyncio.get_running_loop()
    loop.set_debug(True)
    scripted = Scripted()
    server = await asyncio.start_server(scripted.handle, "127.0.0.1", 0)
    base = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    events: list[RetryEvent] = []
    outcomes: list[object] = []
    ok_outcomes: list[object] = []
    texts: list[str] = []
    try:
        async with asyncio.timeout(RUN_GUARD):  # hang guard only, see RUN_GUARD
            outcomes += await _canary_run(base, events, texts, ok_outcomes)
    finally:
        scripted.release.set()
        server.close()
        await server.wait_closed()
        loop.set_debug(False)

    errors = [o for o in outcomes if isinstance(o, RoktError)]
    linked = [x for e in errors for x in error_chain(e)]
    missing = [
        c.__name__ for c in PROVOKED if not any(isinstance(x, c) for x in linked)
    ]
    assert missing == []  # every failure we set out to provoke did happen
    assert [o for o in ok_outcomes if isinstance(o, RoktError)] == []
    assert scripted.seen  # the scripted server really was called

    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    records = [formatter.format(record) for record in caplog.records]
    texts += [t for e in errors for t in messages(e)]
    texts += [repr(o) for o in outcomes] + [repr(e) for e in events]
    fields = [t for e in errors for t in attributes(e)]
    assert [t for t in records if CANARY_KEY in t] == []
    assert [t for t in texts + fields if CANARY_KEY in t] == []
    # errors[].value may sit in error.body (fields), never in messages or logs
    assert [t for t in records + texts if VALUE_CANARY in t] == []
    ours = {leak for e in errors for leak in locals_leaks(e, CANARY_KEY)}
    assert {leak for leak in ours if leak.startswith("rokt_async:")} == set()

    loop_name = request.node.callspec.id if hasattr(request.node, "callspec") else "?"
    test = f"test_secrets canary ({loop_name})"
    figures.record(test, "log records checked", len(records), "0 with canary", met=True)
    figures.record(test, "errors checked", len(errors), "0 with canary", met=True)
    figures.record(
        test,
        "locals showing canary (not ours)",
        ", ".join(sorted(ours)) or "none",
        "report only",
        met=True,
    )


# --- header injection -------------------------------------------------------------

#: C0 controls (NUL, CR, LF, TAB...), DEL and C1 controls.
CONTROLS: Final = [chr(c) for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))]
PRINTABLE: Final = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=12
)


@st.composite
def injected(draw: st.DrawFn) -> str:
    """A header value carrying the canary and at least one control character."""
    left = draw(PRINTABLE)
    controls = draw(st.lists(st.sampled_from(CONTROLS), min_size=1, max_size=3))
    right = draw(PRINTABLE)
    middle = draw(PRINTABLE)
    value = left + controls[0] + middle + "".join(controls[1:]) + right
    return draw(st.sampled_from([CANARY_KEY + value, value + CANARY_KEY]))


@dataclass
class PathRecorder(Recorder):
    """A Recorder answering each endpoint with a body of its own shape."""

    async def handle(self, request: web.Request) -> web.Response:
        endpoint = request.path.rsplit("/", 1)[-1]
        self.body = GOOD_ANSWERS[{"any": "placements"}.get(endpoint, endpoint)]
        return await super().handle(request)


class Harness:
    """A recording server and an open client on one private event loop, so sync
    Hypothesis tests can make real calls; nothing is shared with pytest-asyncio."""

    def __init__(self) -> None:
        self.runner = asyncio.Runner()
        self.recorder = PathRecorder()
        self._server = recording_server(self.recorder)
        self.url = self.runner.run(self._server.__aenter__())
        self.client = make_client(self.url)
        self.runner.run(self.client.open())

    def run(self, call: Awaitable[Any]) -> Any:
        """Run one call to completion on the harness's loop."""

        async def wrapped() -> Any:
            return await call

        return self.runner.run(wrapped())

    def close(self) -> None:
        try:
            self.runner.run(self.client.close())
            self.runner.run(self._server.__aexit__(None, None, None))
        finally:
            self.runner.close()


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    """The module's recording server and open client."""
    harness = Harness()
    try:
        yield harness
    finally:
        harness.close()


#: Cases across every header target together, in make test and under --soak
#: alike: all of them run in about two seconds.
TOTAL_CASES: Final = 1000


def _not_echoed(error: BaseException, value: str) -> None:
    texts = [str(error), repr(error), "".join(traceback.format_exception(error))]
    assert [t for t in texts if CANARY_KEY in t or value in t] == []
    assert [t for t in texts if repr(value)[1:-1] in t] == []


CONSTRUCTION: Final[dict[str, Callable[[str, str], RoktClient]]] = {
    "api_key": lambda url, v: make_client(url, api_key=v),
    "tag_id": lambda url, v: make_client(url, tag_id=v),
    "locale": lambda url, v: make_client(url, locale=v),
}
PER_CALL: Final[dict[str, Callable[[RoktClient, str | None, str | None], Any]]] = {
    "reserve_cart": lambda c, s, lo: c.reserve_cart(A_RESERVE, session_id=s, locale=lo),
    "confirm_cart": lambda c, s, lo: c.confirm_cart(A_CONFIRM, session_id=s, locale=lo),
    "release_cart": lambda c, s, lo: c.release_cart(A_RELEASE, session_id=s, locale=lo),
    "cancel_confirmation": lambda c, s, lo: c.cancel_confirmation(
        A_CANCEL, session_id=s, locale=lo
    ),
    "any_placements": lambda c, s, lo: c.any_placements(
        A_PLACEMENTS, session_id=s, locale=lo
    ),
}
HEADER_TARGETS: Final = len(CONSTRUCTION) + 1 + 2 * len(PER_CALL)
#: Each target's share of the cases; deadline off (the first call opens sockets).
PER_TARGET: Final = settings(
    max_examples=-(-TOTAL_CASES // HEADER_TARGETS),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
RECEIVED_AS: Final = {
    "api_key": "rokt-api-key",
    "tag_id": "rokt-tag-id",
    "locale": "Accept-Language",
}


@pytest.mark.parametrize("argument", sorted(CONSTRUCTION))
def test_control_character_at_construction_is_configuration_error(
    argument: str, harness: Harness
) -> None:
    """A control character in api_key, tag_id or locale is a ConfigurationError
    that does not echo the value, and nothing reaches the server."""
    build = CONSTRUCTION[argument]

    @PER_TARGET
    @given(value=injected())
    @example(value=CANARY_KEY + "\r\nX-Injected: 1")
    @example(value=CANARY_KEY + "\x00")
    def check(value: str) -> None:
        with pytest.raises(ConfigurationError) as caught:
            build(harness.url, value)
        _not_echoed(caught.value, value)

    harness.recorder.seen.clear()
    check()
    assert harness.recorder.seen == []
    # control: the same argument without control characters is sent as given
    clean = f"clean-{argument}"
    with_clean = build(harness.url, clean)

    async def one_call() -> None:
        async with with_clean:
            await with_clean.any_placements(A_PLACEMENTS)

    harness.run(one_call())
    (seen,) = harness.recorder.seen
    assert seen.headers[RECEIVED_AS[argument]] == clean


def test_control_character_in_with_options_locale_is_configuration_error(
    harness: Harness,
) -> None:
    """A control character in with_options(locale=) is a ConfigurationError that
    does not echo the value, and nothing reaches the server."""

    @PER_TARGET
    @given(value=injected())
    @example(value=CANARY_KEY + "\r\nX-Injected: 1")
    def check(value: str) -> None:
        with pytest.raises(ConfigurationError) as caught:
            harness.client.with_options(locale=value)
        _not_echoed(caught.value, value)

    harness.recorder.seen.clear()
    check()
    assert harness.recorder.seen == []
    harness.run(
        harness.client.with_options(locale="en-AU").any_placements(A_PLACEMENTS)
    )
    (seen,) = harness.recorder.seen
    assert seen.headers["Accept-Language"] == "en-AU"


@pytest.mark.parametrize("header", ["session_id", "locale"])
@pytest.mark.parametrize("method", sorted(PER_CALL))
def test_control_character_per_call_is_request_validation_error(
    method: str, header: str, harness: Harness
) -> None:
    """A control character in a per-call session_id or locale is a
    RequestValidationError that does not echo the value, and nothing is sent."""
    call = PER_CALL[method]

    def send(value: str) -> Any:
        if header == "session_id":
            return call(harness.client, value, None)
        return call(harness.client, None, value)

    @PER_TARGET
    @given(value=injected())
    @example(value=CANARY_KEY + "\r\nX-Injected: 1")
    @example(value=CANARY_KEY + "\n\x00\x7f\x85")
    def check(value: str) -> None:
        with pytest.raises(RequestValidationError) as caught:
            harness.run(send(value))
        _not_echoed(caught.value, value)

    harness.recorder.seen.clear()
    check()
    assert harness.recorder.seen == []
    # control: a clean value goes out in its header
    harness.run(send("clean-value"))
    (seen,) = harness.recorder.seen
    name = "rokt-session-id" if header == "session_id" else "Accept-Language"
    assert seen.headers[name] == "clean-value"
