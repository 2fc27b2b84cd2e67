"""Hostile HTTP peers on 127.0.0.1: bombs, endless bodies, whatever a test scripts.

The server counts every byte of its replies that the kernel accepted, on sockets
with a small send buffer, so what it managed to send is close to what the client
read: past the client's reads there is room only for the server's send buffer
(``Connection.sndbuf``, as the kernel reports it) and what sits unread in the
client's receive buffer when it closes (at most ``CLIENT_RCVBUF`` while the
client is not reading).
"""

from __future__ import annotations

import asyncio
import functools
import socket
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping
    from typing import Any

#: Send buffer asked of the kernel for every accepted connection (Linux doubles it).
SNDBUF: Final = 4096
#: Bytes the server hands ``send()`` at a time.
BLOCK: Final = 16 * 1024
#: Longest a connection is served before the server gives up on it, in seconds.
CONNECTION_LIMIT: Final = 30.0


def _default_receive_buffer() -> int:
    """A new TCP socket's receive buffer (Linux ``tcp_rmem`` default): what a
    client's kernel can hold unread before autotuning grows it."""
    try:
        return int(Path("/proc/sys/net/ipv4/tcp_rmem").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 128 * 1024


#: Bytes a client's kernel may hold unread when it closes (`_default_receive_buffer`).
CLIENT_RCVBUF: Final = _default_receive_buffer()

#: Padding bytes one deflate unit inflates to (`padding_unit`).
UNIT: Final = 16 << 20
#: What bombs are padded with: JSON whitespace, so a padded document stays valid.
FILL: Final = b" "
_MIB: Final = 1 << 20
#: zlib (RFC 1950) header: deflate, 32 KiB window, best compression.
_ZLIB_HEADER: Final = b"\x78\xda"
#: gzip (RFC 1952) header: deflate, no name or time, best compression, Unix.
_GZIP_HEADER: Final = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
#: A final, empty deflate block with fixed codes: the stream's end.
_LAST_BLOCK: Final = b"\x03\x00"


def _deflated(blocks: Iterable[bytes]) -> bytes:
    """Raw deflate of ``blocks`` ending in a full flush, which resets the
    compressor and aligns the output to a byte: pieces built this way can be
    concatenated into one valid stream."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    out = [compressor.compress(block) for block in blocks]
    out.append(compressor.flush(zlib.Z_FULL_FLUSH))
    return b"".join(out)


@functools.cache
def padding_unit() -> bytes:
    """Raw deflate of ``UNIT`` bytes of ``FILL`` (about 16 KiB), built 1 MiB at a
    time so that building it never holds more than that."""
    block = FILL * _MIB
    return _deflated(block for _ in range(UNIT // _MIB))


@functools.cache
def bomb(encoding: str, padding: int, prefix: bytes, suffix: bytes) -> bytes:
    """``prefix``, ``padding`` bytes of ``FILL`` (a multiple of ``UNIT``) and
    ``suffix`` as one ``gzip`` or ``deflate`` (zlib format, as HTTP means it)
    body: about 1/1030 of its inflated size."""
    units, rest = divmod(padding, UNIT)
    if rest or units < 1:
        raise ValueError(f"{padding} is not a positive multiple of {UNIT}")
    raw = _deflated([prefix]) + padding_unit() * units + _deflated([suffix])
    raw += _LAST_BLOCK
    block = FILL * _MIB
    if encoding == "deflate":
        adler = zlib.adler32(prefix)
        for _ in range(padding // _MIB):
            adler = zlib.adler32(block, adler)
        adler = zlib.adler32(suffix, adler)
        return _ZLIB_HEADER + raw + adler.to_bytes(4, "big")
    if encoding != "gzip":
        raise ValueError(f"no bomb for {encoding!r}")
    crc = zlib.crc32(prefix)
    for _ in range(padding // _MIB):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(suffix, crc)
    size = (len(prefix) + padding + len(suffix)) & 0xFFFFFFFF
    return _GZIP_HEADER + raw + crc.to_bytes(4, "little") + size.to_bytes(4, "little")


def inflated_ends(data: bytes, encoding: str) -> tuple[int, bytes, bytes]:
    """What ``data`` inflates to (its size, first and last 64 bytes), inflated
    1 MiB at a time; ValueError if it is not one complete, checksummed stream."""
    wbits = zlib.MAX_WBITS | 16 if encoding == "gzip" else zlib.MAX_WBITS
    inflater = zlib.decompressobj(wbits)
    total = 0
    first = last = b""
    piece = inflater.decompress(data, _MIB)
    while piece:
        total += len(piece)
        first = first or piece[:64]
        last = (last + piece)[-64:]
        piece = inflater.decompress(inflater.unconsumed_tail, _MIB)
    if not inflater.eof or inflater.unused_data:
        raise ValueError(f"not one complete {encoding} stream")
    return total, first, last


# --- replies ------------------------------------------------------------------------


def head(status: int, headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> bytes:
    """A status line and header block, exactly as given (no header is added)."""
    items = headers.items() if hasattr(headers, "items") else headers
    lines = "".join(f"{name}: {value}\r\n" for name, value in items)
    return f"HTTP/1.1 {status} X\r\n{lines}\r\n".encode("latin-1")


def pieces(data: bytes, size: int = BLOCK) -> Iterator[bytes]:
    """``data`` in slices of ``size`` bytes."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


def chunked(parts: Iterable[bytes], *, last: bool = True) -> Iterator[bytes]:
    """``parts`` framed as HTTP/1.1 chunks, with the closing chunk when ``last``."""
    for part in parts:
        if part:
            yield f"{len(part):x}\r\n".encode() + part + b"\r\n"
    if last:
        yield b"0\r\n\r\n"


def endless(prefix: bytes, bound: int, filler: bytes = b" " * BLOCK) -> Iterator[bytes]:
    """``prefix`` then ``filler`` blocks: never-ending, as far as ``bound`` bytes."""
    yield prefix
    sent = len(prefix)
    while sent < bound:
        yield filler
        sent += len(filler)


@dataclass(frozen=True)
class Reply:
    """What the server writes for one request.

    Attributes:
        head: status line and headers (`head`).
        body: the body bytes, or a factory of the parts to write (a fresh
            iterator per request, so streams can be endless within their bound).
        close: after the reply, shut the write side (the end of a body without
            length); the server still reads, to see what the client does next.
    """

    head: bytes
    body: bytes | Callable[[], Iterable[bytes]] = b""
    close: bool = False

    def parts(self) -> Iterable[bytes]:
        """The body as the pieces to send."""
        return pieces(self.body) if isinstance(self.body, bytes) else self.body()


def json_reply(status: int, body: bytes) -> Reply:
    """A well-formed JSON answer with its Content-Length; the connection stays up."""
    headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}
    return Reply(head(status, headers), body)


# --- the server -----------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One request as the server received it (header names lower-cased)."""

    head: bytes
    headers: dict[str, str]
    body: bytes


@dataclass
class Connection:
    """One accepted connection: what arrived on it and what the server got out.

    Attributes:
        peer: the client's address and port.
        sndbuf: the socket's send buffer in bytes, as the kernel reports it.
        requests: the requests that arrived on this connection, in order.
        sent: bytes of replies the kernel accepted from the server.
        replies_completed: replies written to their end (a stream to its bound)
            before the client went away.
        closed_by_client: the client closed or reset the connection.
        done: set once the server is finished with the connection.
    """

    peer: tuple[str, int]
    sndbuf: int
    requests: list[Request] = field(default_factory=list)
    sent: int = 0
    replies_completed: int = 0
    closed_by_client: bool = False
    done: asyncio.Event = field(default_factory=asyncio.Event)


class HostileServer:
    """A raw HTTP/1.1 server on 127.0.0.1 answering from a script.

    The n-th request overall gets ``replies[n]``; later ones get ``default``.
    Each connection is served for at most ``CONNECTION_LIMIT`` seconds.
    """

    def __init__(self, replies: Iterable[Reply] = (), *, default: Reply) -> None:
        self.replies = list(replies)
        self.default = default
        self.connections: list[Connection] = []
        self.requests: list[Request] = []
        self.url = ""
        self._listener: socket.socket | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> HostileServer:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        listener.setblocking(False)
        self._listener = listener
        self.url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        self._spawn(self._accept(listener))
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        tasks, self._tasks = self._tasks, set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._listener is not None:
            self._listener.close()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _accept(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            sock, peer = await loop.sock_accept(listener)
            sock.setblocking(False)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SNDBUF)
            # Head and body go out in separate sends: no Nagle wait between them.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sndbuf = sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
            connection = Connection(peer=peer, sndbuf=sndbuf)
            self.connections.append(connection)
            self._spawn(self._serve(sock, connection))

    def _reply_for(self, index: int) -> Reply:
        return self.replies[index] if index < len(self.replies) else self.default

    async def _serve(self, sock: socket.socket, connection: Connection) -> None:
        reader = _Reader(sock)
        try:
            async with asyncio.timeout(CONNECTION_LIMIT):
                while True:
                    request = await reader.request()
                    if request is None:
                        connection.closed_by_client = True
                        break
                    connection.requests.append(request)
                    self.requests.append(request)
                    index = len(self.requests) - 1
                    reply = (
                        self.replies[index]
                        if index < len(self.replies)
                        else self.default
                    )
                    await _send(sock, connection, reply.head)
                    for part in reply.parts():
                        await _send(sock, connection, part)
                    connection.replies_completed += 1
                    if reply.close:
                        sock.shutdown(socket.SHUT_WR)
        except ConnectionError:  # reset, or closed while the server was writing
            connection.closed_by_client = True
        except TimeoutError:
            pass  # CONNECTION_LIMIT passed: the client neither read nor left
        finally:
            connection.done.set()
            sock.close()


async def _send(sock: socket.socket, connection: Connection, data: bytes) -> None:
    """Write ``data``, counting each byte the kernel takes as it takes it."""
    view = memoryview(data)
    while view:
        try:
            taken = sock.send(view)
        except BlockingIOError:
            await _writable(sock)
            continue
        connection.sent += taken
        view = view[taken:]


async def _writable(sock: socket.socket) -> None:
    """Wait until ``sock`` can take more bytes (or has failed)."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_writer(sock, wake)
    try:
        await ready
    finally:
        loop.remove_writer(sock)


class _Reader:
    """Reads requests with a Content-Length body off one socket."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = b""

    async def _more(self) -> bool:
        data = await asyncio.get_running_loop().sock_recv(self._sock, 65536)
        self._buffer += data
        return bool(data)

    async def request(self) -> Request | None:
        """The next request, or None once the client closed the connection."""
        while b"\r\n\r\n" not in self._buffer:
            if not await self._more():
                return None
        raw_head, _, self._buffer = self._buffer.partition(b"\r\n\r\n")
        headers: dict[str, str] = {}
        for line in raw_head.split(b"\r\n")[1:]:
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(self._buffer) < length:
            if not await self._more():
                return None
        body, self._buffer = self._buffer[:length], self._buffer[length:]
        return Request(raw_head, headers, body)
