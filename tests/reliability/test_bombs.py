"""Decompression bombs and oversized bodies from a raw server on 127.0.0.1.

Each ends in a typed error after the client read at most ``CAP`` plus 64 KiB, on
a connection the client closed instead of pooling, and peak RSS stays flat.

What the client read is measured on the server: the bytes the kernel took from
its socket (send buffer ``SNDBUF``, so little hides there) before the client
closed. The bound allows explicitly for the kernel's buffering: the server's send
buffer and the client's default receive buffer (``CLIENT_RCVBUF``). The calls go to
placements/any, the one endpoint whose transport errors surface unwrapped (a
state-changing call would end in ``OutcomeUnknownError`` for some of them); the
body is read by the same code for every endpoint.

Run as ``python -m tests.reliability.test_bombs INFLATED``, this module makes
every hostile call below in a fresh process and prints its peak RSS growth.
"""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Final

import pytest

from rokt_async import (
    NO_RETRY,
    ConnectionLostError,
    ResponseDecodeError,
    RoktError,
    ServerError,
)
from tests.conftest import (
    A_CANCEL,
    A_CONFIRM,
    A_PLACEMENTS,
    A_RELEASE,
    A_RESERVE,
    make_client,
)

from ._hostile import (
    BLOCK,
    CLIENT_RCVBUF,
    HostileServer,
    Reply,
    bomb,
    chunked,
    endless,
    head,
    inflated_ends,
    json_reply,
    pieces,
)

if TYPE_CHECKING:
    from ._figures import Figures

#: ``max_response_bytes`` of every client here: the library's default, 1 MiB.
CAP: Final = 1 << 20
#: What the client may read past the cap (one read or inflate step, and more).
SLACK: Final = 64 * 1024
GIB: Final = 1 << 30
#: Smoke-size bombs inflate to 64 MiB: the same padding units, at the same ratio
#: (about 1030:1), as the 1 GiB ones of --soak; 1/16 as many of them.
SMOKE_INFLATED: Final = 64 << 20
#: Peak RSS the bomb calls may add, measured in a fresh process.
RSS_TARGET: Final = 20 << 20
#: How far the baseline ru_maxrss may sit above RSS (growth it could hide), KiB.
STALE_PEAK_KIB: Final = 2048
CALL_TIMEOUT: Final = 10.0
ROOT: Final = Path(__file__).resolve().parents[2]
MODULE: Final = "tests.reliability.test_bombs"

PLACEMENTS_OK: Final = b'{"result":true}'
#: A placements answer cut short: not JSON on its own.
CUT: Final = b'{"result":'
#: Each bomb inflates to a valid document padded with whitespace: read whole, it
#: would be accepted, so only the cap stands between the client and its size.
ANSWER_ENDS: Final = (b'{"result":true', b"}")
ERROR_ENDS: Final = (b'{"description":"boom"', b"}")


def placements_bomb(encoding: str, inflated: int) -> bytes:
    """A placements answer padded to ``inflated`` bytes and compressed."""
    return bomb(encoding, inflated, *ANSWER_ENDS)


def error_bomb(encoding: str, inflated: int) -> bytes:
    """A Rokt error body padded to ``inflated`` bytes and compressed."""
    return bomb(encoding, inflated, *ERROR_ENDS)


def bomb_reply(encoding: str, data: bytes, *, framing: str, status: int = 200) -> Reply:
    """``data`` (compressed) with its Content-Encoding, framed by a Content-Length
    or as chunks."""
    headers = {"Content-Type": "application/json", "Content-Encoding": encoding}
    if framing == "chunked":
        headers["Transfer-Encoding"] = "chunked"
        return Reply(head(status, headers), lambda: chunked(pieces(data)))
    headers["Content-Length"] = str(len(data))
    return Reply(head(status, headers), data)


#: A 200 whose chunks never end within 1 GiB.
ENDLESS_STREAM: Final = Reply(
    head(200, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}),
    lambda: chunked(endless(CUT, GIB), last=False),
)
#: A 200 declaring a 1 GiB body, which it then streams.
DECLARED_GIB: Final = Reply(
    head(200, {"Content-Type": "application/json", "Content-Length": str(GIB)}),
    lambda: endless(CUT, GIB),
)
#: A 200 declaring ``CUT`` as its body, followed by up to 1 GiB more.
SURPLUS: Final = Reply(
    head(200, {"Content-Type": "application/json", "Content-Length": str(len(CUT))}),
    lambda: endless(CUT, GIB, b"a" * BLOCK),
)


def hostile_replies(inflated: int) -> list[tuple[Reply, type[RoktError]]]:
    """Every hostile reply of this module and the error it must end in."""
    cases: list[tuple[Reply, type[RoktError]]] = [
        (
            bomb_reply(encoding, placements_bomb(encoding, inflated), framing=framing),
            error,
        )
        for encoding in ("gzip", "deflate")
        for framing, error in (
            ("length", ResponseDecodeError),
            ("chunked", ResponseDecodeError),
        )
    ]
    cases += [
        (ENDLESS_STREAM, ResponseDecodeError),
        (DECLARED_GIB, ResponseDecodeError),
        (SURPLUS, ConnectionLostError),
        (
            bomb_reply(
                "gzip", error_bomb("gzip", inflated), framing="length", status=500
            ),
            ServerError,
        ),
    ]
    return cases


@pytest.fixture(scope="session")
def inflated(pytestconfig: pytest.Config) -> int:
    """What each bomb inflates to: 64 MiB in smoke runs, 1 GiB under --soak."""
    return GIB if pytestconfig.getoption("--soak") else SMOKE_INFLATED


@pytest.fixture(scope="session")
def bombs(inflated: int) -> dict[tuple[str, int], bytes]:
    """The bombs by (encoding, status), built once: each is checked to be less
    than ``CAP`` on the wire and to inflate, checksums and all, to its document
    padded to more than ``inflated`` bytes."""
    built = {
        ("gzip", 200): placements_bomb("gzip", inflated),
        ("deflate", 200): placements_bomb("deflate", inflated),
        ("gzip", 500): error_bomb("gzip", inflated),
    }
    for (encoding, status), data in built.items():
        prefix, suffix = ANSWER_ENDS if status == 200 else ERROR_ENDS
        size, first, last = inflated_ends(data, encoding)
        assert len(data) < CAP
        assert size == len(prefix) + inflated + len(suffix)
        assert (first[: len(prefix)], last[-len(suffix) :]) == (prefix, suffix)
    return built


async def call_then_follow_up(reply: Reply) -> tuple[RoktError, HostileServer]:
    """Send placements/any to a server answering ``reply`` once, wait until the
    client has closed that connection, then check a second call succeeds."""
    async with (
        HostileServer([reply], default=json_reply(200, PLACEMENTS_OK)) as server,
        make_client(server.url, retry=NO_RETRY, max_response_bytes=CAP) as client,
    ):
        with pytest.raises(RoktError) as caught:
            await client.any_placements(A_PLACEMENTS, timeout=CALL_TIMEOUT)
        # Closed by the client, not pooled: the server sees it go (or times out).
        await asyncio.wait_for(server.connections[0].done.wait(), CALL_TIMEOUT)
        assert await client.any_placements(A_PLACEMENTS, timeout=CALL_TIMEOUT)
    return caught.value, server


def check_cut_short(
    server: HostileServer,
    figures: Figures,
    test: str,
    *,
    read_limit: int = CAP,
    endless_reply: bool,
) -> None:
    """The hostile connection: the client read at most ``read_limit`` + SLACK of
    it (with the kernel's buffers allowed for) and closed it; the next call came
    on a new connection."""
    first = server.connections[0]
    bound = read_limit + SLACK + first.sndbuf + CLIENT_RCVBUF
    limit = "cap" if read_limit == CAP else f"{read_limit:,}"
    figures.record(
        test,
        "bytes sent before the client closed",
        f"{first.sent:,}",
        f"<= {bound:,} ({limit} + 64 KiB + kernel buffers)",
        met=first.sent <= bound,
    )
    assert first.closed_by_client
    assert first.sent <= bound
    if endless_reply:
        assert first.replies_completed == 0
    assert [len(connection.requests) for connection in server.connections] == [1, 1]


@pytest.mark.parametrize("framing", ["length", "chunked"])
@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_bomb_is_refused_at_the_cap_counted_inflated(
    encoding: str,
    framing: str,
    bombs: dict[tuple[str, int], bytes],
    figures: Figures,
    request: pytest.FixtureRequest,
) -> None:
    """A 200 bomb (a valid answer padded ~1030:1) is a ResponseDecodeError saying
    the body is larger than the cap, because the cap counts inflated bytes,
    whatever the Content-Length; the client closes that connection."""
    reply = bomb_reply(encoding, bombs[encoding, 200], framing=framing)
    error, server = await call_then_follow_up(reply)
    assert isinstance(error, ResponseDecodeError)
    assert (error.status, str(error)) == (
        200,
        f"HTTP 200 body is larger than {CAP} bytes",
    )
    check_cut_short(server, figures, request.node.name, endless_reply=False)


async def test_bomb_on_an_error_status_keeps_its_class_without_a_body(
    bombs: dict[tuple[str, int], bytes],
    figures: Figures,
    request: pytest.FixtureRequest,
) -> None:
    """A gzip bomb on a 500 (a Rokt error body padded ~1030:1) is a ServerError
    with no parsed body: the status classifies it, and the body is dropped at the
    cap instead of being read whole."""
    reply = bomb_reply("gzip", bombs["gzip", 500], framing="length", status=500)
    error, server = await call_then_follow_up(reply)
    assert isinstance(error, ServerError)
    assert (error.status, error.body) == (500, None)
    check_cut_short(server, figures, request.node.name, endless_reply=False)


async def test_endless_stream_is_refused_at_the_cap_chunked(
    figures: Figures, request: pytest.FixtureRequest
) -> None:
    """A chunked 200 that would run to 1 GiB is a ResponseDecodeError once it
    passes the cap: a body of unknown length is counted as it arrives."""
    error, server = await call_then_follow_up(ENDLESS_STREAM)
    assert isinstance(error, ResponseDecodeError)
    assert str(error) == f"HTTP 200 body is larger than {CAP} bytes"
    check_cut_short(server, figures, request.node.name, endless_reply=True)


async def test_declared_gibibyte_is_refused_unread(
    figures: Figures, request: pytest.FixtureRequest
) -> None:
    """A 200 declaring a 1 GiB Content-Length is a ResponseDecodeError before any
    of it is read: the declared length alone is past the cap."""
    error, server = await call_then_follow_up(DECLARED_GIB)
    assert isinstance(error, ResponseDecodeError)
    assert str(error) == f"HTTP 200 body is larger than {CAP} bytes"
    check_cut_short(
        server, figures, request.node.name, read_limit=0, endless_reply=True
    )


async def test_surplus_past_content_length_is_connection_lost_unread(
    figures: Figures, request: pytest.FixtureRequest
) -> None:
    """A 200 whose 10-byte declared body is followed by a stream of up to 1 GiB is
    a ConnectionLostError: the bytes after the body arrive with it and read as a
    second, malformed response nobody asked for, so the exchange fails and the
    connection is dropped; the surplus is never read."""
    error, server = await call_then_follow_up(SURPLUS)
    assert isinstance(error, ConnectionLostError)
    check_cut_short(
        server, figures, request.node.name, read_limit=0, endless_reply=True
    )


async def test_accept_encoding_is_identity_on_every_endpoint() -> None:
    """Every endpoint asks for an uncompressed answer: the server receives
    ``Accept-Encoding: identity`` on each request."""
    answers = [
        b'{"cartId":"cart-1","items":[]}',
        b'{"cartId":"cart-1","orderId":"order-1","items":[]}',
        b'{"cartId":"cart-1","items":[]}',
        b"",
        PLACEMENTS_OK,
    ]
    replies = [json_reply(200, answer) for answer in answers]
    async with (
        HostileServer(replies, default=json_reply(404, b"")) as server,
        make_client(server.url, retry=NO_RETRY) as client,
    ):
        await client.reserve_cart(A_RESERVE)
        await client.confirm_cart(A_CONFIRM)
        await client.release_cart(A_RELEASE)
        await client.cancel_confirmation(A_CANCEL)
        await client.any_placements(A_PLACEMENTS)
    paths = [seen.head.split(b" ")[1] for seen in server.requests]
    assert paths == [
        b"/v1/cart/reserve",
        b"/v1/cart/confirm",
        b"/v1/cart/release",
        b"/v1/confirmation/cancel",
        b"/v1/placements/any",
    ]
    assert [seen.headers.get("accept-encoding") for seen in server.requests] == [
        "identity"
    ] * 5


def test_hostile_bodies_grow_peak_rss_by_under_20_mib(
    inflated: int, figures: Figures, request: pytest.FixtureRequest
) -> None:
    """Every hostile reply above, sent to one client in a fresh process, raises
    that process's peak RSS by less than 20 MiB and ends in its typed error."""
    # Through sh, which forks: a process exec'd straight from this one would start
    # with ru_maxrss at pytest's own peak (Linux carries the old peak across exec,
    # and clear_refs does not reset that one), hiding any growth below it.
    forking_shell = ["/bin/sh", "-c", '"$0" "$@"; exit $?']
    done = subprocess.run(  # noqa: S603 - this interpreter, this module
        [*forking_shell, sys.executable, "-m", MODULE, str(inflated)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    growth = int(report["growth_kib"]) * 1024
    figures.record(
        request.node.name,
        f"peak RSS growth, {len(report['errors'])} hostile calls"
        f" ({inflated >> 20} MiB bombs)",
        f"{growth / (1 << 20):.2f} MiB",
        "< 20 MiB",
        met=growth < RSS_TARGET,
    )
    assert growth < RSS_TARGET
    expected = [error.__name__ for _, error in hostile_replies(SMOKE_INFLATED)]
    assert report["errors"] == expected


async def _rss_growth(inflated: int) -> dict[str, object]:
    """Make every hostile call once; peak RSS growth and the errors raised."""
    cases = hostile_replies(inflated)  # built before the baseline is taken
    replies = [json_reply(200, PLACEMENTS_OK)] + [reply for reply, _ in cases]
    errors: list[str] = []
    async with (
        HostileServer(replies, default=json_reply(200, PLACEMENTS_OK)) as server,
        make_client(server.url, retry=NO_RETRY, max_response_bytes=CAP) as client,
    ):
        assert await client.any_placements(A_PLACEMENTS)  # warm the pool and codecs
        _reset_peak()  # building the bombs peaked above where RSS is now
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if before > _rss_kib() + STALE_PEAK_KIB:
            raise SystemExit(f"ru_maxrss {before} KiB is an older peak, not now's")
        for _ in cases:
            try:
                await client.any_placements(A_PLACEMENTS, timeout=CALL_TIMEOUT)
            except RoktError as exc:
                errors.append(type(exc).__name__)
            else:
                errors.append("no error")
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"growth_kib": after - before, "errors": errors}  # Linux: KiB


def _reset_peak() -> None:
    """Bring this process's peak RSS down to its RSS now (Linux ``clear_refs``)."""
    Path("/proc/self/clear_refs").write_text("5")


def _rss_kib() -> int:
    """This process's resident set size now (``VmRSS``), in KiB."""
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0])


if __name__ == "__main__":
    sys.stdout.write(json.dumps(asyncio.run(_rss_growth(int(sys.argv[1])))) + "\n")
