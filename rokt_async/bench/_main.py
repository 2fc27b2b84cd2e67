"""The bench's entry point: parse, run, print the summary, write JSON, exit status."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Final

from ._cli import parse_args
from ._procs import run_async
from ._report import format_summary, to_json
from ._runner import run_bench
from ._target import BenchSetupError, redact

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["main"]

EXIT_OK: Final = 0
EXIT_LEDGER_FAILED: Final = 1
EXIT_USAGE: Final = 2
EXIT_SETUP_FAILED: Final = 3


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bench from the command line; returns the exit status.

    Args:
        argv: the arguments (``sys.argv[1:]`` when None); a leading ``bench``, as
            in ``rokt-async bench --flows 500``, is skipped.

    Returns:
        0 when the ledger check passed, 1 when it failed, 2 for a bad command
        line, 3 when the run could not start.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "bench":
        args = args[1:]
    try:
        options = parse_args(args)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    secrets: Sequence[str] = [options.api_key or ""]
    try:
        report, secrets = run_async(
            lambda: run_bench(options), use_uvloop=options.use_uvloop
        )
    except BenchSetupError as exc:
        sys.stderr.write(f"rokt-async bench: {redact(str(exc), secrets)}\n")
        return EXIT_SETUP_FAILED
    except KeyboardInterrupt:
        sys.stderr.write("rokt-async bench: interrupted\n")
        return 130
    sys.stdout.write(redact(format_summary(report), secrets))
    sys.stdout.flush()
    if options.json_path is not None:
        data = redact(to_json(report).decode(), secrets)
        Path(options.json_path).write_text(data, encoding="utf-8")
    return EXIT_OK if report.passed else EXIT_LEDGER_FAILED
