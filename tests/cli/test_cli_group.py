"""The ``rokt-async`` command group, run as ``python -m rokt_async`` in a child."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from importlib.metadata import entry_points

import rokt_async


def _run(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - this interpreter, our own module
        [sys.executable, "-m", "rokt_async", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_help_lists_bench_and_emulator_when_asked() -> None:
    """``rokt-async --help`` is the group's help and lists both commands."""
    done = _run("--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: rokt-async ")
    assert "usage: rokt-async bench" not in done.stdout
    commands = [
        words[0]
        for words in map(str.split, done.stdout.splitlines())
        if words and words[0] in {"bench", "emulator"}
    ]
    assert commands == ["bench", "emulator"]


def test_version_prints_the_package_version_when_asked() -> None:
    """``rokt-async --version`` prints rokt_async.__version__ and exits 0."""
    done = _run("--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"rokt-async {rokt_async.__version__}"


def test_group_exits_2_with_usage_when_no_command_is_given() -> None:
    """With no command, or an unknown one, the group says so and exits 2."""
    for args in ((), ("serve",)):
        done = _run(*args)
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("usage: rokt-async ")


def test_bench_command_is_the_bench_when_named() -> None:
    """``rokt-async bench --help`` is the bench's help, exit statuses included."""
    done = _run("bench", "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: rokt-async bench ")
    assert "ledger_unchecked" in done.stdout


def test_emulator_help_shows_the_default_api_key_and_tag_id() -> None:
    """The emulator's --help names the key and tag id it accepts by default."""
    for command in (["emulator"], []):
        done = subprocess.run(  # noqa: S603 - this interpreter, our own module
            [
                sys.executable,
                "-m",
                "rokt_async.emulator" if not command else "rokt_async",
                *command,
                "--help",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "(default test-key)" in done.stdout
        assert "(default test-tag)" in done.stdout
        assert "rokt-api-key: test-key" in done.stdout


def test_emulator_command_serves_until_terminated() -> None:
    """``python -m rokt_async emulator --port 0`` prints a URL that serves till TERM."""
    process = subprocess.Popen(
        [sys.executable, "-m", "rokt_async", "emulator", "--port", "0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    try:
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        ledger = f"{url}/_emulator/ledger"
        with urllib.request.urlopen(ledger, timeout=10) as reply:  # noqa: S310 - loopback
            assert reply.status == 200
            assert "effects" in json.loads(reply.read())
    finally:
        process.terminate()
        code = process.wait(timeout=20)
        process.stdout.close()
        process.stderr.close()
    assert code == 0


def test_console_script_runs_the_command_group_when_installed() -> None:
    """The ``rokt-async`` console script is the group's main, not the bench's."""
    (script,) = entry_points(group="console_scripts", name="rokt-async")
    assert script.value == "rokt_async._cli:main"
