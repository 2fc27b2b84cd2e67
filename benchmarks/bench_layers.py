"""Where RoktClient's CPU goes: raw aiohttp to the full client, one layer at a time.

``bench_overhead`` gives every variant a fresh event loop per round; on a noisy
machine two identical variants there can differ by several percent. Here every
variant shares one event loop, one canned server and one warm pool each, and the
variants take turns in short batches (a few milliseconds each, rotating their order),
so slow drifts of the machine's speed hit them all alike. Two copies of the baseline
agree to about 1%.

The ladder, each step adding one thing to the one before:

- ``raw aiohttp``: the baseline of ``bench_overhead`` (default session, pre-encoded
  bytes, body read);
- ``raw aiohttp, again``: the baseline a second time, to show the noise;
- ``client's session``: the same POST on the session RoktClient builds (its
  connector, headers, ``DummyCookieJar``, 16 KiB reads);
- ``+ session-id header``: plus the per-call ``rokt-session-id`` header;
- ``+ timeout, no redirects``: plus the attempt's ``ClientTimeout`` and
  ``allow_redirects=False``, as the client sends them;
- ``post_once + decode``: the client's one-attempt transport and the msgspec decode;
- ``Retrier.call``: plus deadline, counters, budget and the retry loop;
- ``RoktClient.confirm_cart``: plus the misuse checks, header checks, encode and the
  endpoint method.

The later steps call private parts of the client; this is a diagnostic, not an API.
Every request goes to 127.0.0.1; the count is fixed by ``--batches``/``--batch``.

    python -m benchmarks.bench_layers [--batches 120] [--batch 640]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from typing import TYPE_CHECKING, Final

import aiohttp

from rokt_async import PoolLimits, RoktClient
from rokt_async._endpoints import CONFIRM
from rokt_async._transport import post_once

from .bench_overhead import (
    API_KEY,
    HEADERS,
    PATH,
    REQUEST,
    REQUEST_BYTES,
    SESSION_ID,
    TAG_ID,
    CannedServer,
    _cores,
    _drive,
    settle_malloc,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

CONCURRENCY: Final = 64
WARMUP: Final = 2_000  # requests per variant before measuring


def ladder(
    url: str, raw: aiohttp.ClientSession, client: RoktClient
) -> dict[str, Callable[[], Awaitable[None]]]:
    """The variants, baseline first; ``client`` must be open."""
    session = client._shared.session  # private parts: a diagnostic of the internals
    retrier = client._retrier
    policy = client._defaults.retry
    timeout = retrier._whole_attempt
    assert session is not None  # noqa: S101 - the client is open
    decoder = CONFIRM.decoder
    assert decoder is not None  # noqa: S101 - confirm has a typed answer
    max_bytes = 1 << 20

    async def raw_post() -> None:
        async with raw.post(url, data=REQUEST_BYTES) as response:
            await response.read()

    async def client_session() -> None:
        async with session.post(url, data=REQUEST_BYTES) as response:
            await response.read()

    async def with_header() -> None:
        headers = {"rokt-session-id": SESSION_ID}
        async with session.post(url, data=REQUEST_BYTES, headers=headers) as response:
            await response.read()

    async def with_timeout() -> None:
        async with session.post(
            url,
            data=REQUEST_BYTES,
            headers={"rokt-session-id": SESSION_ID},
            timeout=timeout,
            allow_redirects=False,
        ) as response:
            await response.read()

    async def transport() -> None:
        headers = {"rokt-session-id": SESSION_ID}
        _, body = await post_once(
            session, url, REQUEST_BYTES, headers, timeout, max_bytes
        )
        decoder.decode(body or b"")

    async def retrier_call() -> None:
        headers = {"rokt-session-id": SESSION_ID}
        await retrier.call(
            session, CONFIRM, url, REQUEST, REQUEST_BYTES, headers, policy, None
        )

    async def endpoint() -> None:
        await client.confirm_cart(REQUEST, session_id=SESSION_ID)

    return {
        "raw aiohttp": raw_post,
        "raw aiohttp, again": raw_post,
        "client's session": client_session,
        "+ session-id header": with_header,
        "+ timeout, no redirects": with_timeout,
        "post_once + decode": transport,
        "Retrier.call": retrier_call,
        "RoktClient.confirm_cart": endpoint,
    }


async def measure(url: str, batches: int, batch: int) -> dict[str, list[float]]:
    """CPU µs per request of every variant, one figure per batch."""
    connector = aiohttp.TCPConnector(limit=CONCURRENCY, limit_per_host=CONCURRENCY)
    client = RoktClient(
        api_key=API_KEY,
        tag_id=TAG_ID,
        base_url=url.removesuffix(PATH),
        limits=PoolLimits(connections=CONCURRENCY),
    )
    async with (
        aiohttp.ClientSession(connector=connector, headers=HEADERS) as raw,
        client,
    ):
        variants = ladder(url, raw, client)
        names = list(variants)
        for send in variants.values():
            await _drive(send, WARMUP, CONCURRENCY, None)
        cpu: dict[str, list[float]] = {name: [] for name in names}
        for index in range(batches):
            shift = index % len(names)
            for name in names[shift:] + names[:shift]:
                started = time.process_time()
                await _drive(variants[name], batch, CONCURRENCY, None)
                cpu[name].append((time.process_time() - started) * 1e6 / batch)
    return cpu


def report(cpu: dict[str, list[float]]) -> None:
    """Median CPU per request and median per-batch ratio to the baseline."""
    base = next(iter(cpu.values()))
    print(f"  {'variant':<26}{'CPU µs/req':>11}{'x raw':>8}{'step':>8}")
    previous = 1.0
    for name, figures in cpu.items():
        ratio = statistics.median(a / b for a, b in zip(figures, base, strict=True))
        noise = name == "raw aiohttp, again"  # not a step of the ladder
        step = "" if noise or figures is base else f"{ratio - previous:+8.3f}"
        print(f"  {name:<26}{statistics.median(figures):>11.1f}{ratio:>8.3f}{step}")
        if not noise:
            previous = ratio


def main(argv: list[str] | None = None) -> int:
    """Run the ladder against a canned server on its own core; print the table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_layers")
    parser.add_argument("--batches", type=int, default=120)
    parser.add_argument("--batch", type=int, default=640, help="requests per turn")
    args = parser.parse_args(argv)
    if not 1 <= args.batches <= 1_000 or not CONCURRENCY <= args.batch <= 10_000:
        parser.error("--batches must be in [1, 1000] and --batch in [64, 10000]")
    settle_malloc()
    cores = _cores()
    server_cpu = cores[-1] if len(cores) > 1 else None
    if server_cpu is not None:
        os.sched_setaffinity(0, set(cores[:-1]))
    server = CannedServer(server_cpu)
    try:
        cpu = asyncio.run(measure(server.url, args.batches, args.batch))
    finally:
        server.stop()
    print(
        f"bench_layers: concurrency {CONCURRENCY} · {args.batches} turns of"
        f" {args.batch:,} requests per variant · server on CPU {server_cpu}"
    )
    report(cpu)
    return 0


if __name__ == "__main__":
    sys.exit(main())
