"""Outbox workers as their own processes: ``rokt-async outbox ... work``."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rokt_async.emulator import Emulator

STARTED = b"outbox worker started"


def url_cli(url: str, *args: str) -> list[str]:
    """``rokt-async outbox --store URL ARGS`` in this interpreter."""
    return [sys.executable, "-m", "rokt_async", "outbox", "--store", url, *args]


def cli(db_path: str, *args: str) -> list[str]:
    return url_cli(f"sqlite:///{db_path}", *args)


def spawn_worker(
    url: str, emulator: Emulator, *, concurrency: int, lease: float
) -> subprocess.Popen[bytes]:
    """A worker process on the store at ``url`` whose client reaches ``emulator``
    (credentials from the environment); not yet known to have started."""
    env = {
        **os.environ,
        "ROKT_API_KEY": emulator.api_key,
        "ROKT_TAG_ID": emulator.tag_id,
        "ROKT_BASE_URL": emulator.url,
    }
    return subprocess.Popen(  # noqa: S603 - this interpreter, our own module
        url_cli(
            url,
            "work",
            "--concurrency",
            str(concurrency),
            "--lease",
            str(lease),
            "--poll-interval",
            "0.05",
            "--stop-timeout",
            "5",
        ),
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
    )


def wait_started(process: subprocess.Popen[bytes]) -> None:
    """Return once the worker says it started (bounded: it prints or exits)."""
    assert process.stderr is not None
    line = process.stderr.readline()
    if STARTED not in line:
        process.kill()
        process.communicate()
        raise AssertionError(f"worker did not start: {line!r}")


def start_worker(
    db_path: str, emulator: Emulator, *, concurrency: int = 16, lease: float = 1.0
) -> subprocess.Popen[bytes]:
    """A worker process on ``db_path`` whose client reaches ``emulator``; returns
    once it says it started (bounded)."""
    process = spawn_worker(
        f"sqlite:///{db_path}", emulator, concurrency=concurrency, lease=lease
    )
    wait_started(process)
    return process


def stop(process: subprocess.Popen[bytes], limit: float = 15.0) -> int:
    """SIGTERM, then the exit status (killed after ``limit`` seconds)."""
    process.terminate()
    try:
        return process.wait(limit)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise
    finally:
        if process.stderr is not None:
            process.stderr.close()


def run_cli(db_path: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    """One ``rokt-async outbox`` command, to its end (bounded)."""
    return subprocess.run(  # noqa: S603 - this interpreter, our own module
        cli(db_path, *args), capture_output=True, timeout=60, check=False
    )


def wait_until(check: object, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)
