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


def cli(db_path: str, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "rokt_async",
        "outbox",
        "--store",
        f"sqlite:///{db_path}",
        *args,
    ]


def start_worker(
    db_path: str, emulator: Emulator, *, concurrency: int = 16, lease: float = 1.0
) -> subprocess.Popen[bytes]:
    """A worker process on ``db_path`` whose client reaches ``emulator``; returns
    once it says it started (bounded)."""
    env = {
        **os.environ,
        "ROKT_API_KEY": emulator.api_key,
        "ROKT_TAG_ID": emulator.tag_id,
        "ROKT_BASE_URL": emulator.url,
    }
    process = subprocess.Popen(  # noqa: S603 - this interpreter, our own module
        cli(
            db_path,
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
    assert process.stderr is not None
    line = process.stderr.readline()  # bounded: the process prints or exits
    if STARTED not in line:
        process.kill()
        raise AssertionError(f"worker did not start: {line!r}")
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
