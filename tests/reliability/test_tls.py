"""TLS over real sockets on 127.0.0.1, with throwaway certificates from trustme.

Verification is aiohttp's default (the system trust store, host names checked);
``RoktClient(ssl=...)`` swaps in a context that trusts a private CA. Closing a
client with idle TLS connections must not wait for the peer's ``close_notify``:
aiohttp 3.14 aborts TLS transports on close unless the deprecated
``ssl_shutdown_timeout`` is set, and asyncio's own graceful shutdown waits up to
30 s for a peer that never answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import pytest
import trustme
from aiohttp import web

from rokt_async import (
    NO_WAIT_RETRY,
    ConfirmResponse,
    ConnectError,
    PoolLimits,
    RoktClient,
)
from tests.conftest import A_CONFIRM, CANARY_KEY, TAG_ID, error_chain
from tests.integration._servers import Recorder, reply
from tests.reliability.conftest import LOOPS

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from tests.reliability._figures import Figures

CONFIRM_OK: Final = (
    b'{"cartId":"cart-1","orderId":"order-1","items":[{"cartItemId":"parking",'
    b'"itemReservationId":"res-1","itemConfirmationId":"k1","success":true}]}'
)
#: OpenSSL's verify codes, as ``ssl.SSLCertVerificationError.verify_code`` has them.
UNABLE_TO_GET_ISSUER_CERT_LOCALLY: Final = 20
IP_ADDRESS_MISMATCH: Final = 64
#: Idle TLS connections the close test holds open.
IDLE_CONNECTIONS: Final = 100
#: Hang guard for closing (not a timing assertion): asyncio's and uvloop's TLS
#: shutdown waits up to 30 s for a peer's close_notify, so a client that shuts its
#: connections down gracefully against a silent peer takes ~30 s. 5 s is far
#: above the few milliseconds an abort takes and far below those 30 s.
CLOSE_GUARD: Final = 5.0
#: Hang guard for opening the idle connections (100 handshakes on 2 cores).
SETUP_GUARD: Final = 30.0

#: uvloop has its own TLS implementation: every test runs on both loops.
pytestmark = [pytest.mark.both_loops, pytest.mark.asyncio(loop_factories=LOOPS)]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    """A private CA the tests trust only where they say so."""
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    """The CA's certificate as a PEM file, for ``cafile=``."""
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def server_context(cert: trustme.LeafCert) -> ssl.SSLContext:
    """A server-side TLS context serving ``cert``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return context


def client(url: str, tls: ssl.SSLContext | None = None) -> RoktClient:
    """A client with the canary key; ``ssl=`` passed only when ``tls`` is given."""
    if tls is None:
        return RoktClient(
            api_key=CANARY_KEY, tag_id=TAG_ID, base_url=url, retry=NO_WAIT_RETRY
        )
    return RoktClient(
        api_key=CANARY_KEY, tag_id=TAG_ID, base_url=url, retry=NO_WAIT_RETRY, ssl=tls
    )


@contextlib.asynccontextmanager
async def tls_server(recorder: Recorder, cert: trustme.LeafCert) -> AsyncIterator[str]:
    """Serve ``recorder`` over TLS on a free loopback port; yields the base URL."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", recorder.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_context(cert))
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"https://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def verify_codes(error: BaseException) -> list[int]:
    """OpenSSL verify codes of every certificate failure linked to ``error``.

    aiohttp's ``ClientConnectorCertificateError`` is an ``ssl.CertificateError``
    too, without a code; the ``ssl`` module's own error carries it.
    """
    codes = (getattr(e, "verify_code", None) for e in error_chain(error))
    return [code for code in codes if isinstance(code, int)]


async def test_untrusted_certificate_is_connect_error_by_default() -> None:
    """With no ssl= argument, a certificate from an unknown CA is a ConnectError
    and the server handles no request."""
    recorder = Recorder(body=CONFIRM_OK)
    unknown_ca = trustme.CA()
    async with (
        tls_server(recorder, unknown_ca.issue_cert("localhost", "127.0.0.1")) as url,
        client(url) as rokt,
    ):
        with pytest.raises(ConnectError) as caught:
            await rokt.confirm_cart(A_CONFIRM)
    assert recorder.seen == []
    assert UNABLE_TO_GET_ISSUER_CERT_LOCALLY in verify_codes(caught.value)


async def test_wrong_host_name_is_connect_error_with_trusted_ca(
    ca: trustme.CA, ca_file: str
) -> None:
    """A trusted certificate issued for another name only is a ConnectError and
    the server handles no request."""
    recorder = Recorder(body=CONFIRM_OK)
    trusting = ssl.create_default_context(cafile=ca_file)
    async with (
        tls_server(recorder, ca.issue_cert("api.rokt.com")) as url,
        client(url, trusting) as rokt,
    ):
        with pytest.raises(ConnectError) as caught:
            await rokt.confirm_cart(A_CONFIRM)
    assert recorder.seen == []
    assert IP_ADDRESS_MISMATCH in verify_codes(caught.value)


async def test_custom_ca_is_trusted_through_the_ssl_argument(
    ca: trustme.CA, ca_file: str
) -> None:
    """A context built with cafile= is used: the call succeeds and the server sees
    the request with its rokt-api-key."""
    recorder = Recorder(body=CONFIRM_OK)
    trusting = ssl.create_default_context(cafile=ca_file)
    async with (
        tls_server(recorder, ca.issue_cert("localhost", "127.0.0.1")) as url,
        client(url, trusting) as rokt,
    ):
        response = await rokt.confirm_cart(A_CONFIRM)
    assert isinstance(response, ConfirmResponse)
    assert response.items[0].item_confirmation_id == "k1"
    (seen,) = recorder.seen
    assert (seen.method, seen.path) == ("POST", "/v1/cart/confirm")
    assert seen.headers["rokt-api-key"] == CANARY_KEY


# --- a peer that never answers the TLS shutdown ---------------------------------------


class _ServerTLS:
    """Server side of one TLS connection, run by hand over a plain TCP stream.

    Driving ``ssl.SSLObject`` ourselves means the server decides when TLS stops:
    after its answer it never decrypts another byte, so the client's close_notify
    is neither read nor answered while the TCP connection stays open.
    """

    def __init__(
        self,
        context: ssl.SSLContext,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        self._reader = reader
        self._writer = writer

    async def _flush(self) -> None:
        data = self._outgoing.read()
        if data:
            self._writer.write(data)
            await self._writer.drain()

    async def _feed(self) -> None:
        data = await self._reader.read(65536)
        if not data:
            raise ConnectionResetError("the client went away mid-exchange")
        self._incoming.write(data)

    async def handshake(self) -> None:
        while True:
            try:
                self._tls.do_handshake()
            except ssl.SSLWantReadError:
                await self._flush()
                await self._feed()
            else:
                await self._flush()
                return

    async def _read(self) -> bytes:
        while True:
            try:
                data = self._tls.read(65536)
            except ssl.SSLWantReadError:
                await self._flush()
                await self._feed()
            else:
                await self._flush()
                return data

    async def read_request(self) -> bytes:
        """One HTTP/1.1 request with a Content-Length body; returns its head."""
        buffer = b""
        while b"\r\n\r\n" not in buffer:
            buffer += await self._read()
        head, _, body = buffer.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(body) < length:
            body += await self._read()
        return head

    async def send(self, data: bytes) -> None:
        self._tls.write(data)
        await self._flush()


@dataclass
class SilentCloser:
    """Answers one request per TLS connection, once ``hold`` requests are in, then
    never speaks TLS again: bytes that arrive later are dropped undecrypted."""

    context: ssl.SSLContext
    hold: int
    api_keys: list[str] = field(default_factory=list)
    ended: int = 0
    all_in: asyncio.Event = field(default_factory=asyncio.Event)
    all_ended: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        tls = _ServerTLS(self.context, reader, writer)
        try:
            await tls.handshake()
            head = await tls.read_request()
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"rokt-api-key":
                    self.api_keys.append(value.strip().decode())
            if len(self.api_keys) >= self.hold:
                self.all_in.set()
            await self.all_in.wait()
            await tls.send(reply(200, CONFIRM_OK))
            # From here the TCP connection stays open and nothing is decrypted:
            # the client's close_notify is swallowed, never answered.
            with contextlib.suppress(OSError):
                while await reader.read(65536):
                    pass
            self.ended += 1
            if self.ended >= self.hold:
                self.all_ended.set()
        finally:
            writer.transport.abort()


async def test_close_with_idle_tls_connections_is_prompt_against_silent_peer(
    ca: trustme.CA, ca_file: str, figures: Figures, request: pytest.FixtureRequest
) -> None:
    """Closing a client with 100 idle TLS connections to a peer that never sends
    close_notify returns promptly and ends every TCP connection."""
    server_cert = ca.issue_cert("localhost", "127.0.0.1")
    silent = SilentCloser(server_context(server_cert), hold=IDLE_CONNECTIONS)
    server = await asyncio.start_server(silent.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    trusting = ssl.create_default_context(cafile=ca_file)
    rokt = RoktClient(
        api_key=CANARY_KEY,
        tag_id=TAG_ID,
        base_url=f"https://127.0.0.1:{port}",
        retry=NO_WAIT_RETRY,
        limits=PoolLimits(connections=IDLE_CONNECTIONS, keepalive=60.0),
        ssl=trusting,
    )
    try:
        async with rokt:
            # Every answer waits until all 100 requests are in, so each call holds
            # its own connection; all 100 then go back to the pool, idle.
            async with asyncio.timeout(SETUP_GUARD):  # hang guard only
                answers = await asyncio.gather(
                    *(rokt.confirm_cart(A_CONFIRM) for _ in range(IDLE_CONNECTIONS))
                )
            assert all(isinstance(a, ConfirmResponse) for a in answers)
            assert silent.api_keys == [CANARY_KEY] * IDLE_CONNECTIONS
            started = time.perf_counter()
            async with asyncio.timeout(CLOSE_GUARD):  # hang guard, see CLOSE_GUARD
                await rokt.close()
            closed_in = time.perf_counter() - started
            async with asyncio.timeout(CLOSE_GUARD):  # hang guard, see CLOSE_GUARD
                await silent.all_ended.wait()
            all_ended_in = time.perf_counter() - started
    finally:
        server.close()
        await server.wait_closed()
    assert rokt.is_closed
    assert silent.ended == IDLE_CONNECTIONS
    loop = request.node.callspec.id if hasattr(request.node, "callspec") else "?"
    test = f"test_tls close ({loop})"
    figures.record(
        test,
        f"close() with {IDLE_CONNECTIONS} idle TLS conns",
        f"{closed_in * 1000:.1f} ms",
        f"< {CLOSE_GUARD:.0f} s guard (30 s = graceful)",
        met=closed_in < CLOSE_GUARD,
    )
    figures.record(
        test,
        "until the peer saw every TCP close",
        f"{all_ended_in * 1000:.1f} ms",
        f"< {CLOSE_GUARD:.0f} s guard",
        met=all_ended_in < CLOSE_GUARD,
    )
