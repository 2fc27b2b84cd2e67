"""The bench end to end: a few hundred flows against the embedded emulator."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import TYPE_CHECKING

from rokt_async.bench import _target, main

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

CANARY = "bench-CANARY-4d2f9e71"


def test_bench_runs_flows_with_faults_and_passes_the_ledger_check(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """300 flows under faults: summary fields, JSON, ledger PASS, no key shown."""
    monkeypatch.setattr(_target, "new_api_key", lambda: CANARY)
    out = tmp_path / "bench.json"
    status = main(
        [
            "bench",
            "--flows",
            "300",
            "--concurrency",
            "16",
            "--faults",
            "504_before=0.05,confirm:504_after=0.1,confirm:reset_after=0.05",
            "--seed",
            "7",
            "--quiet",
            "--json",
            str(out),
        ]
    )
    printed = capsys.readouterr()
    assert status == 0, printed.out + printed.err
    report = json.loads(out.read_text())
    assert report["passed"] is True
    assert (report["schema_version"], report["exit_code"]) == (2, 0)
    assert report["verdict"] == "passed"
    assert report["unexplained_errors"] == {}
    assert report["flows"]["completed"] == 300
    assert report["warmup_flows"] == 60
    assert report["stopped_by"] == "flows"
    assert set(report["endpoints"]) == {"placements", "reserve", "confirm", "release"}
    assert report["client"]["retries"] > 0
    assert report["client"]["attempts"] > report["client"]["calls"]
    assert sum(report["retries_by_cause"].values()) == report["client"]["retries"]
    assert report["cpu"]["us_per_call"] > 0
    assert report["memory"]["rss_after_run_mib"] > 0
    ledger = report["ledger"]
    assert ledger["checked"] is True
    assert ledger["duplicate_confirmations"] == 0
    assert ledger["stock_conserved"] is True
    assert ledger["replays"] > 0
    assert ledger["confirmations_acked"] <= ledger["confirmations"]
    assert ledger["confirmations"] <= ledger["confirm_items_sent"]
    assert "ledger       PASS" in printed.out
    assert "verdict      PASS (exit 0)" in printed.out
    assert "p99 ms" in printed.out
    for text in (printed.out, printed.err, out.read_text()):
        assert CANARY not in text


def test_bench_module_merges_two_client_processes(tmp_path: Path) -> None:
    """``python -m rokt_async.bench --processes 2`` merges both and exits 0."""
    out = tmp_path / "bench.json"
    done = subprocess.run(  # noqa: S603 - this interpreter, our own module
        [
            sys.executable,
            "-m",
            "rokt_async.bench",
            "--flows",
            "200",
            "--processes",
            "2",
            "--concurrency",
            "8",
            "--quiet",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(out.read_text())
    assert report["config"]["processes"] == 2
    assert report["flows"]["completed"] == 200
    assert report["ledger"]["passed"] is True
    assert "2 processes" in done.stdout
