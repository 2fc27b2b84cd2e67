"""Command line: ``python -m rokt_async.emulator``, serving until Ctrl-C or SIGTERM.

``rokt-async emulator`` is the same command. It prints its URL on one line as soon
as it serves, then nothing per request. It binds 127.0.0.1 unless ``--host`` says
otherwise, and never prints the API key it was given (``--help`` shows the
default, ``test-key``, a public test value, and the default tag id). It
keeps no copies of the requests it serves (the ledger still counts them), so long
load runs do not grow it.

Examples::

    python -m rokt_async.emulator --port 8080
    python -m rokt_async.emulator --port 0 --resend duplicate
    python -m rokt_async.emulator --port 0 --seed 7 --fault confirm:504_after:0.1 \\
        --fault '*:delay:0.2:max_ms=50' --fail-next reserve:reset_before:2
    python -m rokt_async.emulator --port 0 --event-key rpub-1:rsec-1 \\
        --oauth-app app-1:app-secret-1 --token-ttl 60 --token-response docs \\
        --refuse-event-type signup --fault events:unprocessed:0.1

The Event API's secrets (``--event-key``, ``--oauth-app``) are never printed
either; without those flags it accepts the public test values ``--help`` shows.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import signal
import sys
from typing import TYPE_CHECKING, Final

from ._emulator import Emulator
from ._event_settings import (
    DEFAULT_EVENT_KEYS,
    DEFAULT_OAUTH_APPS,
    DEFAULT_TOKEN_TTL,
    TOKEN_RESPONSES,
    TOKEN_STANDARD,
)
from ._inventory import CatalogItem
from ._state import REPLAY, RESEND_MODES

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = ["DEFAULT_API_KEY", "DEFAULT_TAG_ID", "PROG", "main", "parse_args"]

#: What it accepts unless told otherwise; ``rokt-async bench --base-url`` on a
#: loopback host sends the same when ROKT_API_KEY and ROKT_TAG_ID are unset.
DEFAULT_API_KEY: Final = "test-key"
DEFAULT_TAG_ID: Final = "test-tag"
PROG: Final = "python -m rokt_async.emulator"


def _pairs(pairs: Mapping[str, str]) -> str:
    """Public test pairs as ``ID:SECRET``, for ``--help`` only."""
    return ", ".join(f"{name}:{secret}" for name, secret in pairs.items())


_EPILOG: Final = f"""\
Unless --api-key and --tag-id say otherwise, it accepts only the headers
  rokt-api-key: {DEFAULT_API_KEY}
  rokt-tag-id: {DEFAULT_TAG_ID}
which is what rokt-async bench --base-url sends to a loopback host when
ROKT_API_KEY and ROKT_TAG_ID are unset. Unless --event-key and --oauth-app say
otherwise, the Event API accepts
  /v2/events: Authorization: Basic base64({_pairs(DEFAULT_EVENT_KEYS)})
  /auth/oauth2/token: Authorization: Basic base64({_pairs(DEFAULT_OAUTH_APPS)})
The URL it serves is printed on the first line of stdout (--port 0 picks a free
port).
"""


def _credential(text: str) -> tuple[str, str]:
    """``ID:SECRET`` → the pair (the secret may hold ``:``, the id may not)."""
    name, sep, secret = text.partition(":")
    if not sep or not name or not secret:
        raise argparse.ArgumentTypeError("expected ID:SECRET")  # never echo it
    return name, secret


def _params(text: str) -> dict[str, float]:
    params: dict[str, float] = {}
    for pair in filter(None, text.split(",")):
        name, sep, value = pair.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {pair!r}")
        try:
            params[name.strip()] = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name}: not a number") from None
    return params


def _fault_spec(text: str) -> tuple[str, str, float, dict[str, float]]:
    """``ENDPOINT:KIND:NUMBER[:NAME=VALUE,...]`` → its four parts."""
    parts = text.split(":", 3)
    if len(parts) < 3:
        raise argparse.ArgumentTypeError(
            f"expected ENDPOINT:KIND:NUMBER[:NAME=VALUE,...], got {text!r}"
        )
    try:
        number = float(parts[2])
    except ValueError:
        raise argparse.ArgumentTypeError(f"{parts[2]!r} is not a number") from None
    params = _params(parts[3]) if len(parts) == 4 else {}
    return parts[0], parts[1], number, params


def _item_spec(text: str) -> tuple[str, CatalogItem]:
    """``ID=STOCK[:PRICE[:CURRENCY]]`` → a catalog entry."""
    item_id, sep, rest = text.partition("=")
    if not sep or not item_id:
        raise argparse.ArgumentTypeError(
            f"expected ID=STOCK[:PRICE[:CURRENCY]], got {text!r}"
        )
    stock, _, rest = rest.partition(":")
    price, _, currency = rest.partition(":")
    try:
        item = CatalogItem(
            stock=int(stock),
            unit_price=float(price) if price else None,
            currency=currency or None,
        )
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None
    return item_id, item


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _flag(text: str) -> bool:
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def parse_args(
    argv: Sequence[str] | None = None, prog: str = PROG
) -> argparse.Namespace:
    """The command line, parsed; exits with a usage message when it is wrong."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="A stateful local Rokt Transactions API with fault injection.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    add("--port", type=int, default=8080, help="port to bind; 0 picks a free one")
    add(
        "--api-key",
        default=DEFAULT_API_KEY,
        help="the rokt-api-key accepted (default %(default)s)",
    )
    add(
        "--tag-id",
        default=DEFAULT_TAG_ID,
        help="the rokt-tag-id accepted (default %(default)s)",
    )
    add("--reservation-ttl", type=float, default=600.0, help="reservation lifetime, s")
    add("--seed", type=int, default=0, help="seeds identifiers and random faults")
    add("--default-stock", type=int, default=1_000_000, help="stock of unseen items")
    add("--unit-price", type=float, default=10.0, help="unit price of unseen items")
    add("--currency", default="USD", help="currency of items that name none")
    add(
        "--item",
        type=_item_spec,
        action="append",
        default=[],
        metavar="ID=STOCK[:PRICE[:CURRENCY]]",
        help="seed a catalog item (repeatable)",
    )
    add(
        "--placements-result",
        type=_flag,
        default=None,
        metavar="true|false",
        help="force the placements/any answer",
    )
    add(
        "--keepalive-timeout",
        type=float,
        default=75.0,
        help="seconds an idle connection is kept open",
    )
    add(
        "--resend",
        choices=RESEND_MODES,
        default=REPLAY,
        help="answer to a resent cart/confirm: the first confirmation (replay, "
        "the default), failed as AlreadyConfirmed (reject), or quantity-only "
        "items bought again (duplicate)",
    )
    add(
        "--event-key",
        type=_credential,
        action="append",
        default=[],
        metavar="PUBLIC:SECRET",
        help="a Basic key pair /v2/events accepts (repeatable; replaces the "
        "default rpub-test:rsec-test)",
    )
    add(
        "--oauth-app",
        type=_credential,
        action="append",
        default=[],
        metavar="APP_ID:SECRET",
        help="an app the OAuth token endpoint accepts (repeatable; replaces the "
        "default test-app:test-app-secret)",
    )
    add(
        "--token-ttl",
        type=float,
        default=DEFAULT_TOKEN_TTL,
        metavar="SECONDS",
        help="seconds of emulator time a token lives (default %(default)s)",
    )
    add(
        "--token-response",
        choices=TOKEN_RESPONSES,
        default=TOKEN_STANDARD,
        help="how a token is answered: access_token, token_type and expires_in "
        "(standard, the default), only Access_token as in the docs' sample "
        "(docs), or no expires_in (no_expiry)",
    )
    add(
        "--refuse-event-type",
        action="append",
        default=[],
        metavar="EVENT_TYPE",
        help="answer events of this eventType as unprocessed records (repeatable)",
    )
    add(
        "--fault",
        type=_fault_spec,
        action="append",
        default=[],
        metavar="ENDPOINT:KIND:RATE[:NAME=VALUE,...]",
        help="inject KIND into a seeded share RATE of ENDPOINT's requests (repeatable)",
    )
    add(
        "--fail-next",
        type=_fault_spec,
        action="append",
        default=[],
        metavar="ENDPOINT:KIND:COUNT[:NAME=VALUE,...]",
        help="inject KIND into the next COUNT requests to ENDPOINT (repeatable)",
    )
    return parser.parse_args(argv)


def build(args: argparse.Namespace) -> Emulator:
    """The emulator the parsed arguments describe, faults planned.

    Raises:
        ValueError: a fault or setting is out of range.
    """
    emulator = Emulator(
        host=args.host,
        port=args.port,
        api_key=args.api_key,
        tag_id=args.tag_id,
        reservation_ttl=args.reservation_ttl,
        seed=args.seed,
        default_stock=args.default_stock,
        default_unit_price=args.unit_price,
        currency=args.currency,
        catalog=dict(args.item),
        placements_result=args.placements_result,
        keepalive_timeout=args.keepalive_timeout,
        resend=args.resend,
        event_keys=dict(args.event_key) if args.event_key else DEFAULT_EVENT_KEYS,
        oauth_apps=dict(args.oauth_app) if args.oauth_app else DEFAULT_OAUTH_APPS,
        token_ttl=args.token_ttl,
        token_response=args.token_response,
        refused_event_types=args.refuse_event_type,
        # Recorded requests are read in-process (Emulator.requests()); no admin
        # endpoint serves them, so a CLI emulator keeping them would only grow.
        max_recorded=0,
    )
    for endpoint, kind, rate, params in args.fault:
        emulator.faults.set_rate(endpoint, kind, rate, **params)
    for endpoint, kind, count, params in args.fail_next:
        if count != int(count):
            raise ValueError(f"--fail-next count must be whole, got {count}")
        emulator.faults.fail_next(endpoint, kind, int(count), **params)
    return emulator


async def serve(emulator: Emulator) -> None:
    """Serve until SIGINT or SIGTERM, printing the URL once it is bound."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with emulator:
            sys.stdout.write(emulator.url + "\n")
            sys.stdout.flush()
            await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def main(argv: Sequence[str] | None = None, *, prog: str = PROG) -> int:
    """Run the emulator from the command line; returns the exit status.

    Args:
        argv: the arguments (``sys.argv[1:]`` when None).
        prog: the command's name in ``--help`` and usage messages.

    Returns:
        0 after Ctrl-C or SIGTERM, 1 when it cannot serve on the address, 2 for a
        bad command line.
    """
    args = parse_args(argv, prog)
    if not _is_loopback(args.host):
        sys.stderr.write(f"warning: serving on non-loopback address {args.host}\n")
    try:
        emulator = build(args)
    except ValueError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    try:
        asyncio.run(serve(emulator))
    except OSError as exc:
        sys.stderr.write(f"error: cannot serve on {args.host}:{args.port}: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
