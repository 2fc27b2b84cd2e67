"""The bench's exit status against real targets on 127.0.0.1: what ends a run how."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest

from rokt_async.bench import _target, main
from rokt_async.emulator import Emulator

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

#: A short run: enough flows to call every endpoint, quick on two cores.
SHORT = ["--flows", "40", "--concurrency", "4", "--quiet"]


def _bench(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - this interpreter, our own module
        [sys.executable, "-m", "rokt_async", "bench", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port that is bound but not listening: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bench sends the emulator defaults, not a key from the environment."""
    for name in (
        "ROKT_API_KEY",
        "ROKT_TAG_ID",
        "ROKT_EVENT_APP_ID",
        "ROKT_EVENT_APP_SECRET",
        "ROKT_EVENT_PUBLIC_KEY",
        "ROKT_EVENT_SECRET_KEY",
    ):
        monkeypatch.delenv(name, raising=False)


def test_bench_exits_could_not_start_when_the_base_url_port_is_closed(
    closed_port: int, tmp_path: Path
) -> None:
    """A refused --base-url exits 4 on one stderr line and its JSON says not passed."""
    out = tmp_path / "bench.json"
    url = f"http://127.0.0.1:{closed_port}"
    done = _bench("--base-url", url, *SHORT, "--json", str(out))
    assert done.returncode == 4, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1
    assert "could not start" in done.stderr
    assert "Connection refused" in done.stderr
    report = json.loads(out.read_text())
    assert (report["passed"], report["exit_code"]) == (False, 4)
    assert report["verdict"] == "could_not_start"
    assert report["config"]["base_url"] == url
    assert report["schema_version"] == 3


def test_bench_refuses_json_path_on_one_line_when_its_folder_is_missing(
    tmp_path: Path,
) -> None:
    """``--json`` into a missing folder exits 2 at once, one stderr line, no run."""
    out = tmp_path / "missing" / "dir" / "out.json"
    started = time.monotonic()
    done = _bench("--json", str(out), timeout=30)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.splitlines() == [
        f"rokt-async bench: error: --json {out}: folder {out.parent} does not exist"
    ]
    assert done.stdout == ""
    assert not out.parent.exists()
    assert time.monotonic() - started < 20  # no 10 s run happened first


@pytest.mark.usefixtures("no_credentials")
def test_bench_exits_calls_failed_when_the_emulator_refuses_the_api_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every call refused with 401 and no fault injected: exit 3, not a pass."""
    out = tmp_path / "bench.json"
    with Emulator(api_key="another-key") as emulator:
        status = main(["--base-url", emulator.url, *SHORT, "--json", str(out)])
    printed = capsys.readouterr().out
    assert status == 3, printed
    report = json.loads(out.read_text())
    assert (report["passed"], report["verdict"]) == (False, "calls_failed")
    assert report["ledger"]["passed"] is True  # nothing was bought at all
    assert report["unexplained_errors"] == {"placements": {"AuthenticationError": 40}}
    assert "verdict      CALLS FAILED (exit 3)" in printed
    assert "AuthenticationError x40 not explained" in printed


@pytest.mark.usefixtures("no_credentials")
def test_bench_exits_ledger_unchecked_when_the_base_url_serves_no_ledger(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Calls that all succeed but a ledger that 404s: exit 5 and NOT CHECKED."""
    monkeypatch.setattr(_target, "LEDGER_PATH", "/_emulator/no-such-ledger")
    out = tmp_path / "bench.json"
    with Emulator() as emulator:
        status = main(["--base-url", emulator.url, *SHORT, "--json", str(out)])
    printed = capsys.readouterr().out
    assert status == 5, printed
    report = json.loads(out.read_text())
    assert (report["passed"], report["verdict"]) == (False, "ledger_unchecked")
    assert report["ledger"]["checked"] is False
    assert report["errors"] == {}
    assert "ledger       NOT CHECKED: the ledger could not be read" in printed
    assert "PASS" not in printed


@pytest.mark.usefixtures("no_credentials")
def test_bench_passes_when_a_base_url_emulator_serves_every_call(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An emulator the partner runs, default key: exit 0 and a checked ledger."""
    out = tmp_path / "bench.json"
    with Emulator() as emulator:
        status = main(["--base-url", emulator.url, *SHORT, "--json", str(out)])
    printed = capsys.readouterr().out
    assert status == 0, printed
    report = json.loads(out.read_text())
    assert (report["passed"], report["verdict"], report["problems"]) == (
        True,
        "passed",
        [],
    )
    assert report["ledger"]["checked"] is True
    assert "verdict      PASS (exit 0)" in printed


@pytest.mark.usefixtures("no_credentials")
def test_bench_exits_calls_failed_when_the_emulator_refuses_the_event_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Cart calls all succeed but every token request is refused: the events go
    undelivered, none lost, and with no fault to explain them the run exits 3."""
    monkeypatch.setenv("ROKT_EVENT_APP_ID", "test-app")
    monkeypatch.setenv("ROKT_EVENT_APP_SECRET", "not-the-secret")
    out = tmp_path / "bench.json"
    with Emulator() as emulator:
        status = main(["--base-url", emulator.url, *SHORT, "--json", str(out)])
    printed = capsys.readouterr().out
    assert status == 3, printed
    report = json.loads(out.read_text())
    assert (report["verdict"], report["unexplained_errors"]) == ("calls_failed", {})
    events = report["events"]
    assert events["added"] > 0
    assert events["undelivered"] == events["failed"] == events["added"]
    assert events["delivered"] == 0
    assert report["ledger"]["passed"] is True  # nothing applied, nothing lost
    assert report["ledger"]["events"]["applied"] == 0
    assert f"events: {events['added']} events undelivered, not explained" in printed
    assert "not-the-secret" not in printed + out.read_text()
