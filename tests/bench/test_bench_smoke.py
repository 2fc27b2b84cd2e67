"""The bench end to end: a few hundred flows against the embedded emulator."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from rokt_async.bench import _target, main
from rokt_async.emulator import Emulator

if TYPE_CHECKING:
    from pathlib import Path

CANARY = "bench-CANARY-4d2f9e71"
APP_SECRET_CANARY = "bench-APP-SECRET-CANARY-93c1"
SECRET_KEY_CANARY = "rsec-SECRET-KEY-CANARY-5e07"


def test_bench_runs_flows_with_faults_and_passes_the_ledger_check(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """300 flows under faults: summary fields, JSON, ledger PASS, no secret shown."""
    monkeypatch.setattr(_target, "new_api_key", lambda: CANARY)
    monkeypatch.setattr(
        _target, "new_event_secrets", lambda: (APP_SECRET_CANARY, SECRET_KEY_CANARY)
    )
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
    assert (report["schema_version"], report["exit_code"]) == (3, 0)
    assert report["verdict"] == "passed"
    assert report["unexplained_errors"] == {}
    assert report["flows"]["completed"] == 300
    assert report["warmup_flows"] == 60
    assert report["stopped_by"] == "flows"
    assert set(report["endpoints"]) == {"placements", "reserve", "confirm", "release"}
    client = report["client"]
    assert client["retries"] == client["attempts"] - client["calls"] - client["hedges"]
    assert report["client"]["attempts"] > report["client"]["calls"]
    assert sum(report["retries_by_cause"].values()) == report["client"]["retries"]
    cpu = report["cpu"]
    rounding = 0.0005e6  # client_seconds is rounded to the millisecond
    assert cpu["us_per_call"] == pytest.approx(
        cpu["client_seconds"] * 1e6 / client["calls"], abs=rounding / client["calls"]
    )
    assert cpu["us_per_request"] == pytest.approx(
        cpu["client_seconds"] * 1e6 / client["attempts"],
        abs=rounding / client["attempts"],
    )
    memory = report["memory"]  # the run was in this process: its RSS is ours
    proc_status = pathlib.Path("/proc/self/status")
    if proc_status.exists():
        [kib] = [
            ln.split()[1]
            for ln in proc_status.read_text().splitlines()
            if "VmRSS" in ln
        ]
        assert abs(memory["rss_after_run_mib"] - int(kib) / 1024) < 16
    assert memory["ratio"] == pytest.approx(
        memory["rss_after_run_mib"] / memory["rss_after_warmup_mib"], abs=0.01
    )
    ledger = report["ledger"]
    assert ledger["checked"] is True
    assert ledger["duplicate_confirmations"] == 0
    assert ledger["stock_conserved"] is True
    # About one confirmed line in five is resent after a fault that took effect.
    assert 0 < ledger["replays"] < ledger["confirm_items_sent"]
    assert ledger["confirmations_acked"] <= ledger["confirmations"]
    assert ledger["confirmations"] <= ledger["confirm_items_sent"]
    events = report["events"]  # one per order with a confirmed line, on /v1
    assert events["path"] == "/v1/events"
    assert events["added"] == ledger["events"]["distinct"] > 0
    assert events["delivered"] == events["added"]
    assert events["undelivered"] == events["unprocessed"] == 0
    assert 0 < events["measured_delivered"] < events["delivered"]  # warm-up's too
    wall = report["wall_seconds"]  # rounded to the millisecond
    per_s = events["measured_delivered"] / wall
    assert report["throughput"]["events_per_s"] == pytest.approx(
        per_s, abs=0.05 + per_s * 0.0005 / wall + 1e-9
    )
    assert report["flows"]["confirmed"] <= events["added"]
    assert events["added"] <= ledger["confirmations_acked"]  # >= 1 line per order
    part = ledger["events"]
    assert (part["checked"], part["passed"], part["exactly_once"]) == (True,) * 3
    assert part["applied"] == events["delivered"]
    assert part["duplicates"] == 0
    assert part["token_requests"] >= 1
    assert "ledger       PASS" in printed.out
    assert "events PASS, each applied once (/v1/events)" in printed.out
    assert "verdict      PASS (exit 0)" in printed.out
    assert "p99 ms" in printed.out
    for text in (printed.out, printed.err, out.read_text()):
        for secret in (CANARY, APP_SECRET_CANARY, SECRET_KEY_CANARY):
            assert secret not in text


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
    events = report["events"]
    assert (
        events["delivered"] == events["added"] == report["ledger"]["events"]["applied"]
    )
    assert report["ledger"]["events"]["token_requests"] == 2  # one per process
    assert "2 processes" in done.stdout


@pytest.mark.parametrize(
    ("mode", "env", "duplicated"),
    [
        ("oauth", ("ROKT_EVENT_APP_ID", "ROKT_EVENT_APP_SECRET"), False),
        ("basic", ("ROKT_EVENT_PUBLIC_KEY", "ROKT_EVENT_SECRET_KEY"), True),
    ],
)
def test_bench_events_survive_a_504_after_the_first_batch_took_effect(
    mode: str,
    env: tuple[str, str],
    duplicated: bool,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The first event batch is applied, then its answer lost: the resend is a 409
    on /v1 (each event applied once) and applies again on /v2 (duplicates, allowed);
    either way every event is delivered, the check passes, no secret is shown."""
    monkeypatch.delenv("ROKT_API_KEY", raising=False)
    monkeypatch.delenv("ROKT_TAG_ID", raising=False)
    monkeypatch.setenv(env[0], "bench-login")
    monkeypatch.setenv(env[1], APP_SECRET_CANARY)
    with Emulator(
        oauth_apps={"bench-login": APP_SECRET_CANARY},
        event_keys={"bench-login": APP_SECRET_CANARY},
    ) as emulator:
        emulator.faults.fail_next("events", "504_after", 1)
        status = main(
            [
                "--base-url",
                emulator.url,
                "--flows",
                "40",
                "--concurrency",
                "4",
                "--mix",
                "confirm=1",
                "--events",
                mode,
                "--quiet",
            ]
        )
        ledger = emulator.ledger()
    printed = capsys.readouterr()
    assert status == 0, printed.out + printed.err
    assert APP_SECRET_CANARY not in printed.out + printed.err
    assert ledger.events_applied > 0
    assert bool(ledger.event_duplicates) is duplicated
    assert ledger.idempotency_conflicts == (0 if duplicated else 1)
    delivered = ledger.events_applied - sum(
        n - 1 for n in ledger.event_counts.values()
    )  # distinct events applied
    assert f"{delivered} added · {delivered} delivered · 0 unprocessed" in printed.out
    rule = "at least once" if duplicated else "each applied once"
    assert f"events PASS, {rule} (/{'v2' if duplicated else 'v1'}/events)" in (
        printed.out
    )
    assert f"resends answered 409: {0 if duplicated else 1}" in printed.out
    assert f"token requests: {0 if duplicated else 1}" in printed.out
