"""Client CPU per request: RoktClient against raw aiohttp, aiohttp + json, httpx.

A canned-response server (``benchmarks._canned_server``) runs in its own process,
pinned to the last core while the client is pinned to the first where the
machine has two or more. The same POSTs of a 1-item confirm then go through:

- ``raw aiohttp``: a ClientSession posting pre-encoded bytes, reading the body
  (the baseline);
- ``RoktClient``: ``confirm_cart`` with the real retry wrapper, budget and an
  ``on_retry`` hook, decoding into ``ConfirmResponse`` (no faults, so no retries);
- ``aiohttp + json``: ``session.post(json=dict)`` and ``await response.json()``;
- ``httpx + pydantic``: ``AsyncClient.post`` of ``model_dump_json`` and
  ``model_validate_json`` (with sniffio installed, as httpcore wants);
- on uvloop, when installed: RoktClient and raw aiohttp again.

Every variant opens its pool and warms it up on a fresh event loop, then sends
its share of the requests; rounds interleave the variants (rotating their order).
For each round, CPU per request (``getrusage`` of this process) is divided by raw
aiohttp's on the default loop in the same round; the median of those ratios is
reported, with requests/s and p50/p99 latency over all rounds. glibc's allocator is
put in its long-running state first (``settle_malloc``). Every request
goes to 127.0.0.1; the count is fixed (``--requests``, 20,000 by default).

    python -m benchmarks.bench_overhead [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import importlib.util
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import aiohttp

from rokt_async import PoolLimits, RoktClient
from rokt_async._codec import ENCODER
from rokt_async.bench._procs import has_uvloop, run_async
from rokt_async.bench._stats import LatencyHistogram

from ._payloads import confirm_request, confirm_request_dict

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator

    from rokt_async import RetryEvent

API_KEY: Final = "bench-overhead-key"
TAG_ID: Final = "bench-tag"
SESSION_ID: Final = "bench-session-0001"
PATH: Final = "/v1/cart/confirm"
REQUEST: Final = confirm_request(1)
REQUEST_BYTES: Final = ENCODER.encode(REQUEST)
HEADERS: Final = {
    "rokt-api-key": API_KEY,
    "rokt-tag-id": TAG_ID,
    "rokt-session-id": SESSION_ID,
    "Content-Type": "application/json",
    "Accept": "application/json",
}
BASELINE: Final = "raw aiohttp"
ROKT: Final = "RoktClient"
HTTPX: Final = "httpx + pydantic"
ROKT_UVLOOP: Final = "RoktClient on uvloop"


@dataclass(slots=True)
class Run:
    """One variant's measured requests in one round."""

    cpu: float
    wall: float
    requests: int


@dataclass(slots=True)
class Tally:
    """One variant at one concurrency, over every round."""

    runs: list[Run] = field(default_factory=list)
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)

    def cpu_us(self, index: int) -> float:
        run = self.runs[index]
        return run.cpu * 1e6 / run.requests


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _drive(
    one: Callable[[], Awaitable[None]],
    requests: int,
    concurrency: int,
    latency: LatencyHistogram | None,
) -> None:
    """Send ``requests`` calls of ``one`` with ``concurrency`` in flight."""
    remaining = requests

    async def lane() -> None:
        nonlocal remaining
        clock = time.perf_counter
        while remaining > 0:
            remaining -= 1
            started = clock()
            await one()
            if latency is not None:
                latency.record(clock() - started)

    await asyncio.gather(*(lane() for _ in range(concurrency)))


async def _measure(
    one: Callable[[], Awaitable[None]],
    requests: int,
    concurrency: int,
    latency: LatencyHistogram,
) -> Run:
    await _drive(one, min(requests, max(200, 2 * concurrency)), concurrency, None)
    cpu, started = _cpu(), time.perf_counter()
    await _drive(one, requests, concurrency, latency)
    return Run(_cpu() - cpu, time.perf_counter() - started, requests)


# --- the variants -------------------------------------------------------------------


async def raw_aiohttp(url: str, n: int, c: int, latency: LatencyHistogram) -> Run:
    """The baseline: pre-encoded bytes, the body read and left undecoded."""
    connector = aiohttp.TCPConnector(limit=c, limit_per_host=c)
    async with aiohttp.ClientSession(connector=connector, headers=HEADERS) as session:

        async def one() -> None:
            async with session.post(url, data=REQUEST_BYTES) as response:
                await response.read()

        return await _measure(one, n, c, latency)


async def rokt_client(url: str, n: int, c: int, latency: LatencyHistogram) -> Run:
    """RoktClient.confirm_cart: encode, retry wrapper, budget, hook, typed decode."""
    retries = 0

    def on_retry(event: RetryEvent) -> None:
        nonlocal retries
        retries += 1

    client = RoktClient(
        api_key=API_KEY,
        tag_id=TAG_ID,
        base_url=url.removesuffix(PATH),
        limits=PoolLimits(connections=c),
        on_retry=(on_retry,),
    )
    async with client:

        async def one() -> None:
            await client.confirm_cart(REQUEST, session_id=SESSION_ID)

        run = await _measure(one, n, c, latency)
    if retries:
        raise RuntimeError(f"{retries} retries against a server that never fails")
    return run


async def aiohttp_json(url: str, n: int, c: int, latency: LatencyHistogram) -> Run:
    """Idiomatic aiohttp with stdlib json: ``json=`` in, ``response.json()`` out."""
    body = confirm_request_dict(1)
    connector = aiohttp.TCPConnector(limit=c, limit_per_host=c)
    async with aiohttp.ClientSession(connector=connector, headers=HEADERS) as session:

        async def one() -> None:
            async with session.post(url, json=body) as response:
                await response.json()

        return await _measure(one, n, c, latency)


async def httpx_pydantic(url: str, n: int, c: int, latency: LatencyHistogram) -> Run:
    """httpx.AsyncClient with pydantic v2 models on both sides."""
    import httpx  # type: ignore[import-not-found,unused-ignore]

    from ._rivals import ConfirmRequestModel, ConfirmResponseModel

    model = ConfirmRequestModel.model_validate(confirm_request_dict(1))
    limits = httpx.Limits(max_connections=c, max_keepalive_connections=c)
    async with httpx.AsyncClient(
        headers=HEADERS, limits=limits, timeout=10.0, trust_env=False
    ) as client:

        async def one() -> None:
            content = model.model_dump_json(by_alias=True, exclude_none=True)
            response = await client.post(url, content=content.encode())
            response.raise_for_status()
            ConfirmResponseModel.model_validate_json(response.content)

        return await _measure(one, n, c, latency)


@dataclass(frozen=True, slots=True)
class Variant:
    """A way of sending the confirm, and the event loop it runs on."""

    name: str
    send: Callable[[str, int, int, LatencyHistogram], Awaitable[Run]]
    uvloop: bool = False


def variants(*, with_rivals: bool, with_uvloop: bool) -> list[Variant]:
    """The variants this machine can run, the baseline first."""
    chosen = [
        Variant(BASELINE, raw_aiohttp),
        Variant(ROKT, rokt_client),
        Variant("aiohttp + json", aiohttp_json),
    ]
    if with_rivals:
        chosen.append(Variant(HTTPX, httpx_pydantic))
    if with_uvloop:
        chosen.append(Variant(ROKT_UVLOOP, rokt_client, uvloop=True))
        chosen.append(Variant("raw aiohttp on uvloop", raw_aiohttp, uvloop=True))
    return chosen


# --- running and reporting --------------------------------------------------------


def _cores() -> list[int]:
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


class CannedServer:
    """``benchmarks._canned_server`` in a child process, on its own core if any."""

    def __init__(self, cpu: int | None) -> None:
        command = [sys.executable, "-m", "benchmarks._canned_server", "--port", "0"]
        if cpu is not None:
            command += ["--cpu", str(cpu)]
        if has_uvloop():
            command.append("--uvloop")
        self.process = subprocess.Popen(  # noqa: S603 - our own module, no shell
            command, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL
        )
        assert self.process.stdout is not None  # noqa: S101 - stdout=PIPE
        line = self.process.stdout.readline().decode().strip()
        if not line.startswith("http://"):
            self.stop()
            raise RuntimeError("the canned server did not start")
        self.url = line + PATH

    def stop(self) -> None:
        """Terminate the server and wait for it."""
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def _rotated(items: list[Variant], by: int) -> Iterator[Variant]:
    for i in range(len(items)):
        yield items[(i + by) % len(items)]


def measure(
    url: str, chosen: list[Variant], *, requests: int, rounds: int, concurrency: int
) -> dict[str, Tally]:
    """Every variant, ``rounds`` interleaved rounds of ``requests // rounds``."""
    per_round = max(1, requests // rounds)
    tallies = {variant.name: Tally() for variant in chosen}
    for index in range(rounds):
        for variant in _rotated(chosen, index):
            tally = tallies[variant.name]

            async def main(v: Variant = variant, t: Tally = tally) -> Run:
                return await v.send(url, per_round, concurrency, t.latency)

            tally.runs.append(run_async(main, use_uvloop=variant.uvloop))
    return tallies


def _median_ratio(top: Tally, bottom: Tally) -> float:
    rounds = range(min(len(top.runs), len(bottom.runs)))
    return statistics.median(top.cpu_us(i) / bottom.cpu_us(i) for i in rounds)


def summarise(tallies: dict[str, Tally], concurrency: int) -> dict[str, Any]:
    """Per variant: CPU per request, median ratio to the baseline, req/s, p50/p99."""
    base = tallies[BASELINE]
    rows: dict[str, Any] = {}
    for name, tally in tallies.items():
        requests = sum(run.requests for run in tally.runs)
        wall = sum(run.wall for run in tally.runs)
        rows[name] = {
            "cpu_us_per_request": round(
                statistics.median(tally.cpu_us(i) for i in range(len(tally.runs))), 2
            ),
            "ratio_to_raw_aiohttp": round(_median_ratio(tally, base), 3),
            "requests_per_s": round(requests / wall, 1) if wall else 0.0,
            "p50_ms": round(tally.latency.percentile(50) * 1000, 3),
            "p99_ms": round(tally.latency.percentile(99) * 1000, 3),
        }
    targets: dict[str, Any] = {}
    if ROKT in tallies:
        targets["rokt_vs_raw"] = round(_median_ratio(tallies[ROKT], base), 3)
    if HTTPX in tallies and ROKT in tallies:
        targets["httpx_vs_rokt"] = round(
            _median_ratio(tallies[HTTPX], tallies[ROKT]), 2
        )
    if ROKT_UVLOOP in tallies:
        targets["rokt_uvloop_vs_raw"] = round(
            _median_ratio(tallies[ROKT_UVLOOP], base), 3
        )
    return {"concurrency": concurrency, "variants": rows, "targets": targets}


def _print_table(summary: dict[str, Any], requests: int, rounds: int) -> None:
    print(
        f"\nconcurrency {summary['concurrency']} · {rounds} rounds x"
        f" {requests // rounds:,} requests per variant"
    )
    print(
        f"  {'variant':<24}{'CPU µs/req':>11}{'x raw':>8}{'req/s':>10}"
        f"{'p50 ms':>9}{'p99 ms':>9}"
    )
    for name, row in summary["variants"].items():
        print(
            f"  {name:<24}{row['cpu_us_per_request']:>11.1f}"
            f"{row['ratio_to_raw_aiohttp']:>8.3f}{row['requests_per_s']:>10,.0f}"
            f"{row['p50_ms']:>9.2f}{row['p99_ms']:>9.2f}"
        )


def _verdict(value: float | None, ok: bool, text: str) -> str:
    if value is None:
        return f"  n/a   {text} (not measured)"
    return f"  {'met ' if ok else 'MISS'}  {text}: {value}"


def _print_targets(summary: dict[str, Any]) -> None:
    targets = summary["targets"]
    rokt = targets.get("rokt_vs_raw")
    httpx = targets.get("httpx_vs_rokt")
    uvloop = targets.get("rokt_uvloop_vs_raw")
    print(f"\ntargets at concurrency {summary['concurrency']} (reported, not asserted)")
    print(_verdict(rokt, rokt is not None and rokt <= 1.05, "RoktClient <= 1.05x raw"))
    print(
        _verdict(
            httpx,
            httpx is not None and httpx >= 15.0,
            "httpx + pydantic >= 15x RoktClient",
        )
    )
    print(
        _verdict(
            uvloop,
            uvloop is not None and uvloop <= 0.75,
            "RoktClient on uvloop <= 0.75x raw aiohttp on asyncio",
        )
    )


def _machine() -> dict[str, Any]:
    packages = ("aiohttp", "msgspec", "httpx", "httpcore", "pydantic", "uvloop")
    found: dict[str, str | None] = {}
    for name in packages:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return {
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": found,
    }


def settle_malloc() -> None:
    """Put glibc's allocator in the state a long-running process is in.

    asyncio's plain-socket transport allocates 256 KiB for every ``recv()`` and
    shrinks it. glibc serves that from ``mmap`` (three system calls per read) until
    the first free of an mmapped block raises its mmap threshold; from then on it
    comes from the heap. Which state a variant runs in depended on what the process
    had freed before, and moved CPU per request by up to 25% between rounds. One
    1 MiB block allocated and freed here raises the threshold for every variant.
    """
    block = bytearray(1 << 20)
    del block


def main(argv: list[str] | None = None) -> int:
    """Run the overhead benchmark; prints tables and ratios."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_overhead")
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--concurrency", default="1,64,256")
    parser.add_argument("--quick", action="store_true", help="2,000 requests, 3 rounds")
    parser.add_argument("--json", dest="json_path", help="write the numbers as JSON")
    args = parser.parse_args(argv)
    requests, rounds = (2_000, 3) if args.quick else (args.requests, args.rounds)
    if not 1 <= requests <= 1_000_000 or not 1 <= rounds <= 50:
        parser.error("--requests must be in [1, 1,000,000] and --rounds in [1, 50]")
    levels = [int(c) for c in args.concurrency.split(",")]
    with_rivals = all(
        importlib.util.find_spec(name) for name in ("httpx", "pydantic", "sniffio")
    )
    chosen = variants(with_rivals=with_rivals, with_uvloop=has_uvloop())
    cores = _cores()
    server_cpu = cores[-1] if len(cores) > 1 else None
    if server_cpu is not None:
        os.sched_setaffinity(0, set(cores[:-1]))
    settle_malloc()
    machine = _machine()
    print(
        f"bench_overhead: Python {machine['python']} · {machine['nproc']} CPUs ·"
        f" server pinned to CPU {server_cpu} · "
        + ", ".join(f"{k} {v}" for k, v in machine["packages"].items() if v)
    )
    if not with_rivals:
        print("  (httpx + pydantic skipped: pip install -r requirements-bench.txt)")
    server = CannedServer(server_cpu)
    summaries = []
    try:
        for level in levels:
            tallies = measure(
                server.url, chosen, requests=requests, rounds=rounds, concurrency=level
            )
            summary = summarise(tallies, level)
            summaries.append(summary)
            _print_table(summary, requests, rounds)
    finally:
        server.stop()
    for summary in summaries:
        if summary["concurrency"] == 64:
            _print_targets(summary)
    if args.json_path:
        document = {"machine": machine, "requests": requests, "rounds": rounds}
        document["results"] = summaries
        Path(args.json_path).write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
