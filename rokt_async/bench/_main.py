"""The bench's entry point: parse, run, print the summary, write JSON, exit status."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ._cli import PROG, parse_args
from ._outbox_store import outbox_secrets
from ._procs import run_async
from ._report import StartFailure, to_json
from ._runner import run_bench, run_config
from ._summary import format_summary
from ._target import BenchSetupError, redact
from ._verdict import EXIT_COULD_NOT_START, EXIT_INTERRUPTED, EXIT_USAGE

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ._cli import Options
    from ._report import BenchReport

__all__ = ["main"]


def _write_json(
    options: Options,
    document: BenchReport | StartFailure,
    secrets: Sequence[str],
    prog: str,
) -> bool:
    """Write ``--json`` if asked; False (said on stderr) when it could not be."""
    if options.json_path is None:
        return True
    data = redact(to_json(document).decode(), secrets)
    try:
        Path(options.json_path).write_text(data, encoding="utf-8")
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        sys.stderr.write(f"{prog}: error: --json {options.json_path}: {reason}\n")
        return False
    return True


def main(argv: Sequence[str] | None = None, *, prog: str = PROG) -> int:
    """Run the bench from the command line; returns the exit status.

    Args:
        argv: the arguments (``sys.argv[1:]`` when None); a leading ``bench``, as
            in ``rokt-async bench --flows 500``, is skipped.
        prog: the command's name in ``--help`` and messages.

    Returns:
        The verdict's exit status (``_verdict``: 0 passed, 1 ledger failed,
        3 calls failed, 4 could not start, 5 ledger unchecked), 2 for a bad
        command line or a ``--json`` file that could not be written, 130 when
        interrupted.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "bench":
        args = args[1:]
    try:
        options = parse_args(args, prog)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    secrets: Sequence[str] = [
        options.api_key or "",
        options.event_secret or "",
        *outbox_secrets(options.outbox_url),
    ]
    try:
        report, secrets = run_async(
            lambda: run_bench(options), use_uvloop=options.use_uvloop
        )
    except BenchSetupError as exc:
        message = redact(str(exc), secrets)
        sys.stderr.write(f"{prog}: could not start: {message}\n")
        failure = StartFailure(
            problems=[message], config=run_config(options, options.base_url)
        )
        _write_json(options, failure, secrets, prog)
        return EXIT_COULD_NOT_START
    except KeyboardInterrupt:
        sys.stderr.write(f"{prog}: interrupted\n")
        return EXIT_INTERRUPTED
    sys.stdout.write(redact(format_summary(report), secrets))
    sys.stdout.flush()
    if not _write_json(options, report, secrets, prog):
        return EXIT_USAGE
    return report.exit_code
