"""The ``rokt-async bench`` command line: parsing, validation and limits.

Every run is bounded: at most ``MAX_FLOWS`` flows and ``--max-seconds`` (300 s by
default, at most 3600) of wall time, whatever else is asked for.
"""

from __future__ import annotations

import argparse
import os
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from .._config import is_loopback_host
from ..emulator import ALL_ENDPOINTS, FAULT_KINDS
from ._procs import has_uvloop
from ._target import DEFAULT_FAULT_PARAMS, FaultRate
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
MAX_SECONDS: Final = 3600.0
DEFAULT_SECONDS: Final = 300.0
DEFAULT_DURATION: Final = 10.0
DEFAULT_WARMUP_SECONDS: Final = 3.0
MAX_CONCURRENCY: Final = 4096
MAX_PROCESSES: Final = 64
#: Endpoints a ``--faults`` entry may name (``*`` is every endpoint).
FAULT_ENDPOINTS: Final = (ALL_ENDPOINTS, "placements", "reserve", "confirm", "release")

_EPILOG: Final = """\
faults: comma-separated KIND=RATE entries, each applied to every endpoint the
flows call, or ENDPOINT:KIND=RATE for one endpoint (placements, reserve,
confirm, release). A RATE is the seeded share of requests that get the
fault, e.g. 504_before=0.02,confirm:504_after=0.01. KIND is one of:
{kinds}.
delay waits up to 100 ms; 503_retry_after asks for 1 s.

A reserve that fails ambiguously (504, reset) is not retried by default, so
faults on reserve show up as failed flows; confirm and release are retried with
byte-identical bodies, and the ledger check proves no cart line is bought twice.

With --base-url, the API key and tag id come from ROKT_API_KEY and ROKT_TAG_ID
(an emulator's defaults, test-key and test-tag, on a loopback host when unset).
--json PATH writes the results as JSON: docs/bench-json.md describes the fields.

{exit_help}"""


@dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    """A validated command line. ``api_key`` is never shown in a repr."""

    flows: int | None
    duration: float | None
    time_limit: float
    warmup: int
    warmup_seconds: float
    concurrency: int
    processes: int
    mix: dict[str, float]
    faults: tuple[FaultRate, ...]
    base_url: str | None
    api_key: str | None = field(repr=False)
    tag_id: str | None
    use_uvloop: bool
    json_path: str | None
    seed: int
    quiet: bool

    @property
    def release_share(self) -> float:
        """Share of flows that release instead of confirming."""
        return self.mix["release"]

    def fault_specs(self) -> list[str]:
        """The faults as the user wrote them, for the report."""
        return [
            f"{f.kind}={f.rate:g}"
            if f.endpoint == ALL_ENDPOINTS
            else f"{f.endpoint}:{f.kind}={f.rate:g}"
            for f in self.faults
        ]


def _mix(text: str) -> dict[str, float]:
    shares: dict[str, float] = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or name not in ("confirm", "release"):
            raise argparse.ArgumentTypeError(
                f"expected confirm=SHARE,release=SHARE, got {pair!r}"
            )
        try:
            share = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name}: not a number") from None
        if not 0.0 <= share <= 1.0:
            raise argparse.ArgumentTypeError(f"{name}={share}: use a share in [0, 1]")
        shares[name] = share
    if not shares:
        raise argparse.ArgumentTypeError("give confirm=SHARE and/or release=SHARE")
    if "confirm" not in shares:
        shares["confirm"] = 1.0 - shares["release"]
    if "release" not in shares:
        shares["release"] = 1.0 - shares["confirm"]
    if abs(shares["confirm"] + shares["release"] - 1.0) > 1e-9:
        raise argparse.ArgumentTypeError("the confirm and release shares must add to 1")
    return {"confirm": shares["confirm"], "release": shares["release"]}


def _faults(text: str) -> tuple[FaultRate, ...]:
    faults: list[FaultRate] = []
    totals: dict[str, float] = {}
    for entry in filter(None, (e.strip() for e in text.split(","))):
        target, sep, value = entry.partition("=")
        endpoint, colon, kind = target.rpartition(":")
        endpoint = endpoint if colon else ALL_ENDPOINTS
        if not sep or kind not in FAULT_KINDS:
            raise argparse.ArgumentTypeError(
                f"expected [ENDPOINT:]KIND=RATE with KIND one of"
                f" {', '.join(sorted(FAULT_KINDS))}; got {entry!r}"
            )
        if endpoint not in FAULT_ENDPOINTS:
            raise argparse.ArgumentTypeError(
                f"{endpoint!r}: use one of {', '.join(FAULT_ENDPOINTS)}"
            )
        try:
            rate = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{entry!r}: not a number") from None
        if not 0.0 <= rate <= 1.0:
            raise argparse.ArgumentTypeError(f"{entry!r}: use a rate in [0, 1]")
        totals[endpoint] = totals.get(endpoint, 0.0) + rate
        params = dict(DEFAULT_FAULT_PARAMS.get(kind, {}))
        faults.append(FaultRate(endpoint, kind, rate, params))
    shared = totals.get(ALL_ENDPOINTS, 0.0)
    for endpoint, total in totals.items():
        own = 0.0 if endpoint == ALL_ENDPOINTS else total
        if own + shared > 1.0 + 1e-9:
            raise argparse.ArgumentTypeError(
                f"fault rates for {endpoint} add up to more than 1"
            )
    return tuple(faults)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 < value <= MAX_SECONDS:
        raise argparse.ArgumentTypeError(f"{value} must be in (0, {MAX_SECONDS:g}]")
    return value


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
        "--flows", type=_positive_int, help=f"measured flows to run (<= {MAX_FLOWS:,})"
    )
    amount.add_argument(
        "--duration",
        type=_seconds,
        help=f"seconds of measured load (default {DEFAULT_DURATION:g})",
    )
    add(
        "--max-seconds",
        type=_seconds,
        default=DEFAULT_SECONDS,
        help="hard cap on the run's wall time, warm-up included (default 300)",
    )
    add("--concurrency", type=_positive_int, default=64, help="flows in flight (64)")
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
        type=_mix,
        default={"confirm": 0.8, "release": 0.2},
        help="shares of flows that confirm or release (confirm=0.8,release=0.2)",
    )
    add("--faults", type=_faults, default=(), help="fault rates (see below)")
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
        type=_positive_int,
        default=1,
        help="client processes sharing the load, each with its own pool (1)",
    )
    add(
        "--json",
        dest="json_path",
        metavar="PATH",
        help="write results as JSON (its folder must exist)",
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
    api_key = tag_id = None
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
    )
