"""A canned-response HTTP/1.1 server: every request gets the same confirm answer.

A raw asyncio protocol, keep-alive, no routing and no parsing beyond finding each
request's end (headers plus ``Content-Length``), so the client under test is what
costs CPU. Run it in its own process, ideally on its own core::

    python -m benchmarks._canned_server --port 0 --cpu 1 --uvloop

It prints ``http://127.0.0.1:PORT`` on one line, then serves until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from typing import Final, cast

from rokt_async.bench._procs import has_uvloop, run_async

__all__ = ["CONFIRM_BODY", "RESPONSE", "main"]

#: The answer to a 1-item confirm, as the emulator would give it.
CONFIRM_BODY: Final = (
    b'{"cartId":"cart-1","orderId":"order-1","items":[{"cartItemId":"parking",'
    b'"itemReservationId":"res-1","itemConfirmationId":"conf-1",'
    b'"itemConfirmationUrl":"https://emulator.rokt.invalid/confirmations/conf-1",'
    b'"success":true}]}'
)
RESPONSE: Final = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
    + str(len(CONFIRM_BODY)).encode()
    + b"\r\nConnection: keep-alive\r\n\r\n"
    + CONFIRM_BODY
)
_LENGTH: Final = b"\r\ncontent-length:"


class _Canned(asyncio.Protocol):
    """Answers every complete request on the connection with ``RESPONSE``."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # TCP, so a Transport; uvloop's does not subclass asyncio.Transport.
        self._transport = cast("asyncio.Transport", transport)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buffer[:end]).lower()
            length = 0
            at = head.find(_LENGTH)
            if at >= 0:
                stop = head.find(b"\r\n", at + 2)
                length = int(head[at + len(_LENGTH) : stop if stop >= 0 else None])
            total = end + 4 + length
            if len(buffer) < total:
                return
            del buffer[:total]
            if self._transport is not None:
                self._transport.write(RESPONSE)


async def serve(port: int) -> None:
    """Serve on 127.0.0.1:``port`` until SIGTERM or SIGINT; prints the URL."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Canned, "127.0.0.1", port, backlog=1024)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with server:
        bound = server.sockets[0].getsockname()[1]
        sys.stdout.write(f"http://127.0.0.1:{bound}\n")
        sys.stdout.flush()
        await stop.wait()


def main() -> int:
    """Parse the command line, pin the CPU if asked, serve."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks._canned_server")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--cpu", type=int, default=None, help="pin to this core")
    parser.add_argument("--uvloop", action="store_true", help="serve on uvloop")
    args = parser.parse_args()
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {args.cpu})
    run_async(lambda: serve(args.port), use_uvloop=args.uvloop and has_uvloop())
    return 0


if __name__ == "__main__":
    sys.exit(main())
