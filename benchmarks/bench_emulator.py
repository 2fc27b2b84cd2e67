"""Benchmark: how many confirm requests per second the emulator serves on one core.

Starts ``python -m rokt_async.emulator --port 0`` in a child process pinned to one
CPU (where ``os.sched_setaffinity`` exists), pins this process to the other CPUs
when there are any, and drives the child with raw aiohttp posting pre-encoded
confirm bodies at a fixed concurrency. Two phases, each a bounded count:

- ``quantity``: confirms of quantity-only items (each a new purchase);
- ``reserved``: confirms of reservations made beforehand (reserving is not timed).

For each it prints requests/s and the server's CPU time per request (the child's
utime + stime from ``/proc/<pid>/stat``), and the one-core capacity that CPU time
implies. When the server's CPU share is well below 100 %, this process (the load
generator) was the limit, and the capacity line is the one to read.

Run: ``.venv/bin/python -m benchmarks.bench_emulator [--requests 20000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiohttp
import msgspec

from rokt_async import (
    ConfirmItem,
    ConfirmRequest,
    ReserveItem,
    ReserveRequest,
    ReserveResponse,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

TARGET = 8_000.0  # confirm requests/s on one core, faults off
_HEADERS = {
    "rokt-api-key": "bench-key",
    "rokt-tag-id": "bench-tag",
    "rokt-session-id": "bench-session",
    "Content-Type": "application/json",
    "Accept": "application/json",
}
_ENCODER = msgspec.json.Encoder()
_RESERVED = msgspec.json.Decoder(ReserveResponse)


@dataclass(frozen=True, slots=True)
class PhaseResult:
    """What one timed phase measured."""

    name: str
    requests: int
    failures: int
    seconds: float
    server_cpu: float

    @property
    def rate(self) -> float:
        """Requests per second of wall time."""
        return self.requests / self.seconds

    @property
    def cpu_us(self) -> float:
        """Server CPU microseconds per request."""
        return self.server_cpu / self.requests * 1e6

    @property
    def cpu_share(self) -> float:
        """Share of one core the server used during the phase."""
        return self.server_cpu / self.seconds


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (Linux)."""
    with open(f"/proc/{pid}/stat", "rb") as stat:
        fields = stat.read().rsplit(b")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return ticks / os.sysconf("SC_CLK_TCK")


def pin(pid: int, cpus: set[int]) -> bool:
    """Pin ``pid`` (0: this process) to ``cpus`` where the platform allows it."""
    if not cpus or not hasattr(os, "sched_setaffinity"):
        return False
    os.sched_setaffinity(pid, cpus)
    return True


async def start_server(seed: int) -> tuple[asyncio.subprocess.Process, str]:
    """Start the emulator child and return it with its URL."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "rokt_async.emulator",
        "--port",
        "0",
        "--api-key",
        "bench-key",
        "--tag-id",
        "bench-tag",
        "--seed",
        str(seed),
        stdout=asyncio.subprocess.PIPE,
    )
    line = await child.stdout.readline() if child.stdout is not None else b""
    url = line.decode().strip()
    if not url.startswith("http://"):
        child.kill()
        await child.wait()
        raise SystemExit(f"emulator did not start (got {url!r})")
    return child, url


def confirm_bodies(prefix: str, count: int) -> list[bytes]:
    """Quantity-only confirms, one new purchase each."""
    return [
        _ENCODER.encode(
            ConfirmRequest(
                cart_id=f"{prefix}-cart-{i}",
                order_id=f"{prefix}-order-{i}",
                items=(ConfirmItem(cart_item_id=f"item-{i % 50}", quantity=1),),
            )
        )
        for i in range(count)
    ]


async def drive(
    session: aiohttp.ClientSession, url: str, bodies: Sequence[bytes], concurrency: int
) -> tuple[int, list[bytes]]:
    """POST every body with ``concurrency`` workers; (failures, answers in order)."""
    answers: list[bytes] = [b""] * len(bodies)
    failures = 0
    position = 0

    async def worker() -> None:
        nonlocal failures, position
        while position < len(bodies):
            index = position
            position += 1
            async with session.post(url, data=bodies[index]) as response:
                answers[index] = await response.read()
                if response.status != 200:
                    failures += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return failures, answers


async def timed(
    name: str,
    pid: int,
    session: aiohttp.ClientSession,
    url: str,
    bodies: Sequence[bytes],
    concurrency: int,
) -> PhaseResult:
    """One measured phase: wall time and the server's CPU time."""
    cpu_before = cpu_seconds(pid)
    started = time.perf_counter()
    failures, _ = await drive(session, url, bodies, concurrency)
    seconds = time.perf_counter() - started
    cpu = cpu_seconds(pid) - cpu_before
    return PhaseResult(name, len(bodies), failures, seconds, cpu)


async def run(url: str, pid: int, count: int, concurrency: int) -> list[PhaseResult]:
    """Warm up, then time the two confirm phases."""
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
    async with aiohttp.ClientSession(
        connector=connector, headers=_HEADERS, cookie_jar=aiohttp.DummyCookieJar()
    ) as session:
        confirm_url = url + "/v1/cart/confirm"
        await drive(session, confirm_url, confirm_bodies("warm", 2_000), concurrency)
        quantity = await timed(
            "quantity",
            pid,
            session,
            confirm_url,
            confirm_bodies("q", count),
            concurrency,
        )
        reserve_bodies = [
            _ENCODER.encode(
                ReserveRequest(
                    cart_id=f"r-cart-{i}",
                    items=(ReserveItem(cart_item_id=f"item-{i % 50}", quantity=1),),
                )
            )
            for i in range(count)
        ]
        _, answers = await drive(
            session, url + "/v1/cart/reserve", reserve_bodies, concurrency
        )
        reserved_bodies = []
        for answer in answers:
            reserved = _RESERVED.decode(answer)
            item = reserved.items[0]
            reserved_bodies.append(
                _ENCODER.encode(
                    ConfirmRequest(
                        cart_id=reserved.cart_id,
                        order_id="order-" + reserved.cart_id,
                        items=(
                            ConfirmItem(
                                cart_item_id=item.cart_item_id,
                                item_reservation_id=item.item_reservation_id,
                            ),
                        ),
                    )
                )
            )
        reserved_phase = await timed(
            "reserved", pid, session, confirm_url, reserved_bodies, concurrency
        )
        return [quantity, reserved_phase]


async def bench(
    seed: int, count: int, concurrency: int
) -> tuple[list[PhaseResult], int]:
    """Start the pinned server, run the phases, stop it; results and exit status."""
    child, url = await start_server(seed)
    try:
        cpus = (
            sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        )
        pinned = pin(child.pid, {cpus[-1]} if cpus else set())
        if len(cpus) > 1:
            pin(0, set(cpus[:-1]))
        where = f"pinned to CPU {cpus[-1]}" if pinned else "not pinned"
        print(
            f"emulator at {url}, pid {child.pid}, {where}; "
            f"{count} confirms per phase at concurrency {concurrency}"
        )
        results = await run(url, child.pid, count, concurrency)
    finally:
        child.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(child.wait(), timeout=10)
    return results, code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print one line per phase."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_emulator")
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    results, code = asyncio.run(bench(args.seed, args.requests, args.concurrency))
    for r in results:
        print(
            f"{r.name:>9}: {r.rate:8.0f} req/s  server {r.cpu_us:6.1f} µs CPU/req "
            f"(one-core capacity {1e6 / r.cpu_us:7.0f} req/s, server busy "
            f"{r.cpu_share:4.0%})  failures {r.failures}"
        )
    capacity = min(1e6 / r.cpu_us for r in results)
    verdict = "meets" if capacity >= TARGET else "BELOW"
    print(
        f"target {TARGET:.0f} confirm req/s on one core: {verdict} "
        f"(capacity from CPU time {capacity:.0f}, best measured "
        f"{max(r.rate for r in results):.0f})"
    )
    print(f"emulator exit status {code}")
    return 0 if code == 0 and all(r.failures == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
