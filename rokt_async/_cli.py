"""The ``rokt-async`` command: ``bench``, ``emulator`` and ``--version``.

Each command is also a module of its own: ``python -m rokt_async.bench`` and
``python -m rokt_async.emulator``; ``python -m rokt_async`` is this group. A
command's arguments go to it untouched, ``--help`` included.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Final

from ._version import __version__

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = ["COMMANDS", "PROG", "build_parser", "main"]

PROG: Final = "rokt-async"
#: Each command and the one-line summary ``--help`` lists.
COMMANDS: Final = {
    "bench": "load-test RoktClient against an emulator, then check its ledger",
    "emulator": "serve a local Rokt Transactions API emulator (Ctrl-C stops it)",
    "outbox": "inspect, resolve and drain a durable outbox (status, list, work...)",
}
_EPILOG: Final = f"""\
Run `{PROG} COMMAND --help` for a command's options. Each command is also
`python -m rokt_async.COMMAND`.
"""


def _bench(argv: Sequence[str]) -> int:
    from .bench import main  # here, so that only the command that runs is imported

    return main(argv, prog=f"{PROG} bench")


def _emulator(argv: Sequence[str]) -> int:
    from .emulator.__main__ import main

    return main(argv, prog=f"{PROG} emulator")


def _outbox(argv: Sequence[str]) -> int:
    from .outbox._cli import main

    return main(argv, prog=f"{PROG} outbox")


_RUN: Final[dict[str, Callable[[Sequence[str]], int]]] = {
    "bench": _bench,
    "emulator": _emulator,
    "outbox": _outbox,
}


def build_parser() -> argparse.ArgumentParser:
    """The group's parser: ``--help``, ``--version`` and the list of commands."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="The tools that come with rokt-async, the asyncio client for"
        " Rokt's\nTransactions API: a local emulator and a load bench.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(
        title="commands", dest="command", metavar="COMMAND"
    )
    for name, summary in COMMANDS.items():
        commands.add_parser(name, help=summary, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``rokt-async`` from the command line; returns the exit status.

    Args:
        argv: the arguments (``sys.argv[1:]`` when None).

    Returns:
        The command's exit status; 0 for ``--help`` and ``--version``, 2 for no
        command or an unknown one.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in _RUN:
        try:
            return _RUN[args[0]](args[1:])
        except SystemExit as exc:  # a command's argparse: --help or a usage error
            return exc.code if isinstance(exc.code, int) else 2
    parser = build_parser()
    try:
        parser.parse_args(args)  # --help, --version and unknown commands end here
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    parser.print_usage(sys.stderr)
    sys.stderr.write(f"{PROG}: error: choose a command: {' or '.join(COMMANDS)}\n")
    return 2
