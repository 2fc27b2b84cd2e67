"""The ``rokt-async bench`` command line: parsing, validation and limits.

Every run is bounded: at most ``MAX_FLOWS`` flows and ``--max-seconds`` (300 s by
default, at most 3600) of wall time, whatever else is asked for.
"""

from __future__ import annotations

import argparse
import os
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from .._config import is_loopback_host
from ..emulator import FAULT_KINDS
from ._args import (
    MAX_SECONDS,
    Options,
    account_id,
    faults,
    mix,
    positive_int,
    seconds,
)
from ._events import (
    DEFAULT_ACCOUNT_ID,
    EMULATOR_EVENT_CREDENTIALS,
    EVENT_ENV,
    EVENT_MODES,
    OAUTH,
    OFF,
)
from ._outbox_store import DEFAULT_CONFIRMS, MAX_CONFIRMS, STORES, choose_store
from ._procs import has_uvloop
from ._verdict import EXIT_HELP, EXIT_USAGE

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "MAX_FLOWS",
    "MAX_SECONDS",
    "PROG",
    "Options",
    "build_parser",
    "output_problem",
    "parse_args",
]

#: The name ``--help`` and error messages use.
PROG: Final = "rokt-async bench"

MAX_FLOWS: Final = 10_000_000
DEFAULT_SECONDS: Final = 300.0
DEFAULT_DURATION: Final = 10.0
DEFAULT_WARMUP_SECONDS: Final = 3.0
MAX_CONCURRENCY: Final = 4096
MAX_PROCESSES: Final = 64

_EPILOG: Final = """\
faults: comma-separated KIND=RATE entries, each applied to every endpoint the
flows call, or ENDPOINT:KIND=RATE for one endpoint (placements, reserve,
confirm, release, events, token). A RATE is the seeded share of requests that
get the fault, e.g. 504_before=0.02,confirm:504_after=0.01. KIND is one of:
{kinds}.
delay waits up to 100 ms; 503_retry_after asks for 1 s. events:unprocessed=RATE
answers a share of event batches 200 with every event an unprocessed record.

A reserve that fails ambiguously (504, reset) is not retried by default, so
faults on reserve show up as failed flows; confirm and release are retried with
byte-identical bodies, and the ledger check proves no cart line is bought twice.

Each confirmed order also sends one conversion event through the client's
background event sender: --events oauth (the default) sends to /v1/events with a
token and an Idempotency-Key per batch, so the ledger must show each event
applied once; --events basic sends to /v2/events (at least once: duplicates
allowed, none lost); --events off sends none.

With --base-url, the API key and tag id come from ROKT_API_KEY and ROKT_TAG_ID
(an emulator's defaults, test-key and test-tag, on a loopback host when unset),
and the event credentials from ROKT_EVENT_APP_ID and ROKT_EVENT_APP_SECRET
(oauth) or ROKT_EVENT_PUBLIC_KEY and ROKT_EVENT_SECRET_KEY (basic), with the
emulator's defaults on a loopback host when unset. No secret is ever printed.
--json PATH writes the results as JSON: docs/bench-json.md describes the fields.

--outbox sqlite|postgres adds a phase after the flows, on one client at
--concurrency: --outbox-confirms carts (2,000) confirmed directly, and as many
put with outbox.put_confirm and drained by outbox.worker(client,
concurrency=...). It reports put latency, drain and direct confirms/s and their
ratio (target >= 0.7x on SQLite: printed, never part of the exit status).
sqlite is a temporary file, removed after, unless --outbox-url
sqlite:///PATH names one; postgres needs --outbox-url postgresql://... on a
loopback host and the postgres extra. A job put that does not end done,
failed or unknown fails the run (exit 1).

{exit_help}"""


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """The argument parser (its ``--help`` is the CLI's reference)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Load-test rokt_async's RoktClient with realistic checkout flows"
        " (placements/any -> reserve -> confirm, or -> release) against the"
        " emulator, then check the emulator's ledger.",
        epilog=_EPILOG.format(
            kinds=textwrap.fill(
                ", ".join(sorted(FAULT_KINDS)),
                width=79,
                initial_indent="  ",
                subsequent_indent="  ",
            ),
            exit_help=EXIT_HELP,
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    amount = parser.add_mutually_exclusive_group()
    amount.add_argument(
        "--flows", type=positive_int, help=f"measured flows to run (<= {MAX_FLOWS:,})"
    )
    amount.add_argument(
        "--duration",
        type=seconds,
        help=f"seconds of measured load (default {DEFAULT_DURATION:g})",
    )
    add(
        "--max-seconds",
        type=seconds,
        default=DEFAULT_SECONDS,
        help="hard cap on the run's wall time, warm-up included (default 300)",
    )
    add("--concurrency", type=positive_int, default=64, help="flows in flight (64)")
    add(
        "--warmup",
        type=int,
        default=None,
        help="flows before measuring (default 4 x concurrency, at most flows/5)",
    )
    add(
        "--warmup-seconds",
        type=float,
        default=None,
        help="the warm-up also lasts at least this long (default 3 with"
        " --duration, 0 with --flows)",
    )
    add(
        "--mix",
        type=mix,
        default={"confirm": 0.8, "release": 0.2},
        help="shares of flows that confirm or release (confirm=0.8,release=0.2)",
    )
    add("--faults", type=faults, default=(), help="fault rates (see below)")
    add(
        "--events",
        choices=EVENT_MODES,
        default=OAUTH,
        help="a conversion event per confirmed order, sent with OAuth credentials"
        " to /v1/events (oauth, the default), with a Basic key pair to /v2/events"
        " (basic), or not at all (off)",
    )
    add(
        "--account-id",
        type=account_id,
        default=DEFAULT_ACCOUNT_ID,
        help=f"the Rokt account the events are for ({DEFAULT_ACCOUNT_ID})",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--emulator",
        action="store_true",
        help="start an emulator on 127.0.0.1 in a child process (the default)",
    )
    where.add_argument("--base-url", help="an emulator (or service) already running")
    add(
        "--i-know-this-is-production",
        action="store_true",
        dest="production",
        help="allow a --base-url that is not a loopback address",
    )
    add("--uvloop", action="store_true", help="run the client on uvloop")
    add(
        "--processes",
        type=positive_int,
        default=1,
        help="client processes sharing the load, each with its own pool (1)",
    )
    add(
        "--json",
        dest="json_path",
        metavar="PATH",
        help="write results as JSON (its folder must exist)",
    )
    add(
        "--outbox",
        choices=STORES,
        help="also put and drain confirms through the outbox on this store, next"
        " to direct confirms (see below)",
    )
    add(
        "--outbox-url",
        metavar="URL",
        help="the outbox's store: sqlite:///PATH or postgresql://... (loopback);"
        " default with --outbox sqlite: a temporary file, removed after",
    )
    add(
        "--outbox-confirms",
        type=positive_int,
        default=None,
        metavar="N",
        help=f"carts for each of direct and outbox confirms ({DEFAULT_CONFIRMS:,};"
        f" <= {MAX_CONFIRMS:,})",
    )
    add("--seed", type=int, default=1, help="seeds the flows and the emulator (1)")
    add("--quiet", action="store_true", help="no progress display")
    return parser


def _check_base_url(
    parser: argparse.ArgumentParser, url: str, production: bool
) -> bool:
    """Validate ``--base-url``; returns whether its host is loopback."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        parser.error("--base-url must be an absolute http(s) URL")
    try:
        _ = parts.port  # ValueError: not a number, or out of range
    except ValueError:
        parser.error("--base-url has an invalid port")
    if parts.username or parts.password or parts.query or parts.fragment:
        parser.error("--base-url must not carry credentials, a query or a fragment")
    loopback = is_loopback_host(parts.hostname)
    if not loopback and not production:
        parser.error(
            f"--base-url host {parts.hostname} is not a loopback address; this"
            " sends real traffic. Add --i-know-this-is-production if you mean it"
        )
    return loopback


def output_problem(path: str) -> str | None:
    """Why the JSON could not be written to ``path``, or None when it can be."""
    target = Path(path)
    folder = target.parent
    if target.is_dir():
        return "is a folder"
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        return f"folder {folder} {what}"
    if target.exists():
        return None if os.access(target, os.W_OK) else "is not writable"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"folder {folder} is not writable"
    return None


def parse_args(argv: Sequence[str], prog: str = PROG) -> Options:
    """Parse and validate; exits with status 2 and a message when it is wrong.

    A ``--json`` PATH that cannot be written is refused on one line, without the
    usage text, before anything runs.
    """
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if args.json_path is not None:
        problem = output_problem(args.json_path)
        if problem is not None:
            parser.exit(
                EXIT_USAGE, f"{prog}: error: --json {args.json_path}: {problem}\n"
            )
    flows: int | None = args.flows
    duration: float | None = args.duration
    if flows is None and duration is None:
        duration = DEFAULT_DURATION
    if flows is not None and flows > MAX_FLOWS:
        parser.error(f"--flows is capped at {MAX_FLOWS:,}")
    if duration is not None and duration > args.max_seconds:
        parser.error("--duration is longer than --max-seconds; raise --max-seconds")
    if args.concurrency > MAX_CONCURRENCY:
        parser.error(f"--concurrency is capped at {MAX_CONCURRENCY}")
    if args.processes > MAX_PROCESSES:
        parser.error(f"--processes is capped at {MAX_PROCESSES}")
    if args.processes > args.concurrency:
        parser.error("--processes must not exceed --concurrency")
    if flows is not None and args.processes > flows:
        parser.error("--processes must not exceed --flows")
    if args.uvloop and not has_uvloop():
        parser.error("--uvloop: uvloop is not installed (pip install uvloop)")
    warmup = args.warmup
    if warmup is None:
        warmup = 4 * args.concurrency
        if flows is not None:
            warmup = min(warmup, flows // 5)
    elif not 0 <= warmup <= MAX_FLOWS:
        parser.error(f"--warmup must be in [0, {MAX_FLOWS:,}]")
    warmup_seconds = args.warmup_seconds
    if warmup_seconds is None:
        warmup_seconds = DEFAULT_WARMUP_SECONDS if flows is None else 0.0
    if not 0.0 <= warmup_seconds <= args.max_seconds / 2:
        parser.error("--warmup-seconds must be in [0, --max-seconds / 2]")
    api_key = tag_id = event_id = event_secret = None
    if args.base_url is not None:
        loopback = _check_base_url(parser, args.base_url, args.production)
        if args.faults and not loopback:
            parser.error("--faults needs an emulator: its host must be loopback")
        api_key = os.environ.get("ROKT_API_KEY") or None
        tag_id = os.environ.get("ROKT_TAG_ID") or None
        if not loopback and (api_key is None or tag_id is None):
            parser.error("set ROKT_API_KEY and ROKT_TAG_ID for a non-loopback host")
        api_key = api_key or "test-key"
        tag_id = tag_id or "test-tag"
        if args.events != OFF:
            event_id, event_secret = _event_env(parser, args.events, loopback)
    outbox, outbox_url = _outbox_options(parser, args)
    return Options(
        flows=flows,
        duration=duration,
        time_limit=args.max_seconds,
        warmup=warmup,
        warmup_seconds=warmup_seconds,
        concurrency=args.concurrency,
        processes=args.processes,
        mix=args.mix,
        faults=args.faults,
        base_url=args.base_url,
        api_key=api_key,
        tag_id=tag_id,
        use_uvloop=args.uvloop,
        json_path=args.json_path,
        seed=args.seed,
        quiet=args.quiet,
        events=args.events,
        account_id=args.account_id,
        event_id=event_id,
        event_secret=event_secret,
        outbox=outbox,
        outbox_url=outbox_url,
        outbox_confirms=args.outbox_confirms or DEFAULT_CONFIRMS,
    )


def _outbox_options(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> tuple[str | None, str | None]:
    """``--outbox``, ``--outbox-url`` and ``--outbox-confirms`` checked together."""
    if args.outbox is None and args.outbox_url is None:
        if args.outbox_confirms is not None:
            parser.error("--outbox-confirms needs --outbox or --outbox-url")
        return None, None
    if args.outbox_confirms is not None and args.outbox_confirms > MAX_CONFIRMS:
        parser.error(f"--outbox-confirms is capped at {MAX_CONFIRMS:,}")
    try:
        return choose_store(args.outbox, args.outbox_url)
    except ValueError as exc:
        parser.error(str(exc))


def _event_env(
    parser: argparse.ArgumentParser, mode: str, loopback: bool
) -> tuple[str, str]:
    """The ``--base-url`` event credentials: the environment's, else (loopback
    only) the emulator's public test values."""
    id_name, secret_name = EVENT_ENV[mode]
    event_id = os.environ.get(id_name) or None
    secret = os.environ.get(secret_name) or None
    if not loopback and (event_id is None or secret is None):
        parser.error(
            f"set {id_name} and {secret_name} for a non-loopback host, or use"
            " --events off"
        )
    default_id, default_secret = EMULATOR_EVENT_CREDENTIALS[mode]
    return event_id or default_id, secret or default_secret
