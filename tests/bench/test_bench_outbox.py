"""``rokt-async bench --outbox``: confirms put and drained through the outbox, next
to direct confirms, in the same run; and its usage errors."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
import pytest

from rokt_async import ConfirmItem, ConfirmRequest
from rokt_async.bench import main
from rokt_async.bench._check import check_ledger
from rokt_async.bench._outbox_report import (
    OutboxDirect,
    OutboxDrain,
    OutboxJobs,
    OutboxPut,
    OutboxReport,
)
from rokt_async.bench._outbox_store import outbox_secrets, shown_url
from rokt_async.bench._report import build_report
from rokt_async.bench._stats import (
    FlowCounts,
    LatencyHistogram,
    LedgerTally,
    WorkerResult,
)
from rokt_async.bench._summary import format_summary
from rokt_async.emulator import Emulator, Ledger, StockLine
from rokt_async.outbox import JobState, Outbox, SQLiteStore
from tests.bench._configs import run_config

if TYPE_CHECKING:
    from rokt_async.outbox import Job

CONFIRMS = 40


def _stored_jobs(path: Path) -> list[Job]:
    async def read() -> list[Job]:
        outbox = Outbox(SQLiteStore(str(path)))
        try:
            return await outbox.jobs(limit=10 * CONFIRMS)
        finally:
            await outbox.close()

    return asyncio.run(read())


def test_bench_outbox_sqlite_drains_every_job_done_each_confirm_sent_once(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A short real SQLite run: every job put ends done in the store, the emulator
    took each outbox and direct confirm exactly once (no resend, no duplicate),
    and the summary and JSON say so."""
    monkeypatch.delenv("ROKT_API_KEY", raising=False)
    monkeypatch.delenv("ROKT_TAG_ID", raising=False)
    db = tmp_path / "outbox.db"
    out = tmp_path / "bench.json"
    with Emulator() as emulator:
        status = main(
            [
                "--base-url",
                emulator.url,
                "--flows",
                "20",
                "--concurrency",
                "8",
                "--events",
                "off",
                "--outbox",
                "sqlite",
                "--outbox-url",
                f"sqlite:///{db}",
                "--outbox-confirms",
                str(CONFIRMS),
                "--quiet",
                "--json",
                str(out),
            ]
        )
        ledger = emulator.ledger()
        bodies = [json.loads(r.body) for r in emulator.requests("confirm")]
    printed = capsys.readouterr()
    assert status == 0, printed.out + printed.err

    # What the emulator recorded: 2 x CONFIRMS carts, each confirmed once.
    carts = [b["cartId"] for b in bodies if "-outbox-" in b["cartId"]]
    assert len(carts) == len(set(carts)) == 2 * CONFIRMS
    lines = {k: n for k, n in ledger.effects.items() if "-outbox-" in k}
    assert len(lines) == 2 * CONFIRMS
    assert set(lines.values()) == {1}
    assert not [k for k in ledger.replays if "-outbox-" in k]
    assert ledger.duplicates == ()

    # What the store holds: every job put, done.
    jobs = _stored_jobs(db)
    assert len(jobs) == CONFIRMS
    assert {job.state for job in jobs} == {JobState.DONE}
    assert {job.cart for job in jobs} < set(carts)

    report = json.loads(out.read_text())
    assert report["schema_version"] == 3
    assert (report["config"]["outbox"], report["config"]["outbox_confirms"]) == (
        "sqlite",
        CONFIRMS,
    )
    outbox = report["outbox"]
    assert (outbox["store"], outbox["url"], outbox["temporary"]) == (
        "sqlite",
        f"sqlite:///{db}",
        False,
    )
    assert (outbox["concurrency"], outbox["stopped_by"]) == (8, "done")
    assert outbox["reserved"] == 2 * CONFIRMS
    assert outbox["put"]["count"] == outbox["put"]["latency"]["count"] == CONFIRMS
    put = outbox["put"]["latency"]
    assert 0 < put["p50_ms"] <= put["p95_ms"] <= put["p99_ms"] <= put["max_ms"]
    direct, drain = outbox["direct"], outbox["drain"]
    assert direct["count"] == direct["ok"] == direct["latency"]["count"] == CONFIRMS
    assert direct["attempts"] == CONFIRMS
    assert (drain["count"], drain["sends"], drain["attempts"]) == (CONFIRMS,) * 3
    for step in (direct, drain):  # seconds are rounded to the millisecond
        seconds = step["seconds"]
        slowest, fastest = CONFIRMS / (seconds + 5e-4), CONFIRMS / (seconds - 5e-4)
        assert slowest - 0.05 <= step["per_s"] <= fastest + 0.05
    ratio = outbox["ratio"]
    assert ratio == pytest.approx(drain["per_s"] / direct["per_s"], abs=1e-3)
    assert (outbox["target"], outbox["target_met"]) == (0.7, ratio >= 0.7)
    assert outbox["jobs"] == {
        "put": CONFIRMS,
        "done": CONFIRMS,
        "failed": 0,
        "unknown": 0,
        "pending": 0,
        "in_flight": 0,
        "missing": 0,
        "settled": True,
    }
    assert (outbox["errors"], outbox["problems"]) == ({}, [])
    checked = report["ledger"]  # the bench's own check covers the outbox's lines
    assert checked["passed"] is True
    assert checked["duplicate_confirmations"] == 0
    assert checked["confirmations"] == checked["confirm_items_sent"]
    assert checked["confirmations"] == (
        sum(n for k, n in ledger.effects.items() if k.startswith("confirm "))
    )

    text = printed.out
    assert f"outbox       sqlite (sqlite:///{db})" in text
    assert f"  put        {CONFIRMS} put_confirm: p50 " in text
    assert f"  direct     {CONFIRMS} of {CONFIRMS} confirm_cart in " in text
    assert f"  drain      {CONFIRMS} done by worker(concurrency=8) in " in text
    assert f"  ratio      drain/direct {ratio:.2f}x · target >= 0.70x on SQLite: " in (
        text
    )
    assert "(reported only: the exit status does not depend on it)" in text
    assert (
        f"  jobs       PASS: {CONFIRMS} put → {CONFIRMS} done · 0 failed · 0 unknown"
        " · 0 pending · 0 in flight · 0 missing"
    ) in text
    assert "whole run, warm-up and the outbox phase included" in text
    assert "verdict      PASS (exit 0)" in text


def test_bench_outbox_sqlite_default_is_a_temporary_file_removed_after(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--outbox sqlite`` alone drains through a temporary file, gone after."""
    out = tmp_path / "bench.json"
    status = main(
        [
            "--flows",
            "10",
            "--concurrency",
            "4",
            "--outbox",
            "sqlite",
            "--outbox-confirms",
            "10",
            "--quiet",
            "--json",
            str(out),
        ]
    )
    printed = capsys.readouterr()
    assert status == 0, printed.out + printed.err
    outbox = json.loads(out.read_text())["outbox"]
    assert outbox["temporary"] is True
    assert outbox["jobs"]["done"] == 10
    path = Path(outbox["url"].removeprefix("sqlite:///"))
    assert path.name == "outbox.db"
    assert not path.parent.exists()
    assert "outbox       sqlite (a temporary file, removed after)" in printed.out


def test_bench_outbox_postgres_without_a_url_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``--outbox postgres`` with no ``--outbox-url`` exits 2, saying what to give."""
    assert main(["--outbox", "postgres", "--flows", "10", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--outbox postgres needs a PostgreSQL to use: --outbox-url" in err


def test_bench_outbox_postgres_without_the_extra_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """When the PostgreSQL store cannot be imported, exit 2 naming the extra."""
    monkeypatch.setitem(sys.modules, "rokt_async.outbox._procrastinate", None)
    argv = ["--outbox-url", "postgresql://bench@127.0.0.1:1/bench", "--flows", "10"]
    assert main([*argv, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--outbox postgres needs the postgres extra" in err
    assert "rokt-async[postgres]" in err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--outbox-confirms", "5"], "--outbox-confirms needs --outbox"),
        (["--outbox", "sqlite", "--outbox-confirms", "100001"], "capped at 100,000"),
        (["--outbox-url", "mysql://127.0.0.1/x"], "sqlite:/// or postgresql://"),
        (
            ["--outbox", "sqlite", "--outbox-url", "postgresql://127.0.0.1/x"],
            "--outbox sqlite does not match --outbox-url postgres",
        ),
        (
            ["--outbox-url", "postgresql://u:pw@db.example.com:5432/x"],
            "host db.example.com is not a loopback address",
        ),
        (
            ["--outbox-url", "postgresql:///x?host=10.1.2.3"],
            "host 10.1.2.3 is not a loopback address",
        ),
        (["--outbox-url", "sqlite:////no/such/folder/o.db"], "does not exist"),
    ],
)
def test_bench_outbox_refuses_options_that_do_not_fit(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Outbox options that conflict, or name a store off this machine, exit 2."""
    assert main([*argv, "--flows", "10", "--quiet"]) == 2
    assert says in capsys.readouterr().err


def test_bench_outbox_refuses_a_store_holding_a_pending_job(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A store with a job still pending could not start the run (exit 4), and
    the job is left pending: the bench's worker never sent it."""
    db = tmp_path / "outbox.db"
    request = ConfirmRequest(
        cart_id="someone-elses-cart",
        order_id="o-1",
        items=(ConfirmItem(cart_item_id="parking", item_reservation_id="r-1"),),
    )

    async def put() -> None:
        outbox = Outbox(SQLiteStore(str(db)))
        try:
            await outbox.put_confirm(request)
        finally:
            await outbox.close()

    asyncio.run(put())
    argv = ["--outbox-url", f"sqlite:///{db}", "--flows", "10", "--quiet"]
    assert main(argv) == 4
    assert "holds 1 pending and 0 in-flight jobs" in capsys.readouterr().err
    assert [job.state for job in _stored_jobs(db)] == [JobState.PENDING]


def test_bench_outbox_store_that_cannot_open_never_shows_its_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A PostgreSQL store nobody listens for could not start the run (exit 4);
    its URL's password is masked on stderr and absent from the JSON."""
    secret = "pw-CANARY-71c3"  # a canary, not a credential
    out = tmp_path / "bench.json"
    argv = ["--outbox-url", f"postgresql://bench:{secret}@127.0.0.1:1/bench"]
    assert main([*argv, "--flows", "10", "--quiet", "--json", str(out)]) == 4
    err = capsys.readouterr().err
    assert "could not start: the outbox store postgresql://bench:***@127.0.0.1:1/" in (
        err
    )
    assert secret not in err
    assert secret not in out.read_text()
    assert json.loads(out.read_text())["config"]["outbox"] == "postgres"


def test_outbox_store_urls_are_shown_without_their_password() -> None:
    """Reports show a PostgreSQL URL with its password masked and no query, a
    SQLite URL as given; the password, as written and decoded, is a secret."""
    url = "postgresql://bench:p%40ss@127.0.0.1:5432/db?password=q1&sslmode=disable"
    assert shown_url(url) == "postgresql://bench:***@127.0.0.1:5432/db"
    assert shown_url("postgresql://127.0.0.1/db") == "postgresql://127.0.0.1/db"
    assert shown_url("sqlite:////tmp/o.db") == "sqlite:////tmp/o.db"
    assert outbox_secrets(url) == ["p%40ss", "p@ss", "q1"]
    assert outbox_secrets("sqlite:////tmp/o.db") == []


# --- the verdict, from a report ---------------------------------------------------


def _outbox(**jobs: int) -> OutboxReport:
    counts = {"done": 50, "failed": 0, "unknown": 0, "pending": 0, "in_flight": 0}
    counts.update(jobs)
    latency = LatencyHistogram()
    latency.record(0.002)
    return OutboxReport(
        store="sqlite",
        url="sqlite:////tmp/x/outbox.db",
        temporary=True,
        confirms=50,
        concurrency=8,
        stopped_by="done",
        reserved=100,
        put=OutboxPut(count=50, seconds=0.1, per_s=500.0, latency=latency.summary()),
        direct=OutboxDirect(
            count=50,
            ok=50,
            refused=0,
            seconds=0.05,
            per_s=1000.0,
            attempts=50,
            latency=latency.summary(),
        ),
        drain=OutboxDrain(
            count=counts["done"],
            seconds=0.5,
            per_s=100.0,
            sends=50,
            attempts=50,
            refused=0,
        ),
        ratio=0.1,
        target=0.7,
        target_met=False,
        jobs=OutboxJobs(
            put=50,
            missing=0,
            settled=not counts["pending"] and not counts["in_flight"],
            **counts,
        ),
        errors={},
        unexplained_errors={},
        problems=[],
    )


def _run(outbox: OutboxReport) -> str:
    config = run_config(
        flows=10, warmup=0, events="off", outbox="sqlite", outbox_confirms=50
    )
    stock = {"parking": StockLine(initial=10, available=9, held=0, confirmed=1)}
    after = Ledger.build(
        effects={"confirm c1/parking": 1},
        replays={},
        stock=stock,
        peak_connections=8,
        requests=1,
    )
    before = Ledger.build(
        effects={}, replays={}, stock=stock, peak_connections=0, requests=0
    )
    tally = LedgerTally(confirm_items_sent=1, confirm_items_acked=1)
    result = WorkerResult(wall_seconds=1.0, flows=FlowCounts(completed=10), tally=tally)
    report = build_report(
        config, result, check_ledger(before, after, tally), outbox=outbox
    )
    document = msgspec.json.decode(msgspec.json.encode(report))
    assert document["outbox"]["jobs"]["put"] == 50
    return f"{report.verdict} {report.exit_code}\n{format_summary(report)}"


def test_outbox_ratio_below_the_target_does_not_fail_the_run() -> None:
    """A drain at 0.1x direct is printed NOT MET, and the run still passes."""
    text = _run(_outbox())
    assert text.startswith("passed 0")
    assert "drain/direct 0.10x · target >= 0.70x on SQLite: NOT MET" in text


def test_outbox_job_left_pending_fails_the_run_as_ledger_failed() -> None:
    """A job put that did not end done, failed or unknown is ledger_failed (1)."""
    text = _run(_outbox(done=49, pending=1))
    assert text.startswith("ledger_failed 1")
    assert "jobs       FAIL: 50 put → 49 done" in text
    assert "problem: outbox: 1 of 50 jobs did not end done, failed or unknown" in text
