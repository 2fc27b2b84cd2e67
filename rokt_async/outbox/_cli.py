"""``rokt-async outbox status|list|resend|drop|work``: the operator's commands.

The store is given by URL: ``sqlite:///path/to/file.db`` (a relative path after
``sqlite:///``, an absolute one after ``sqlite:////``) or ``postgresql://...``
(the ``postgres`` extra). ``work`` runs a worker as its own process, with the
client built from ``ROKT_*`` (``RoktClient.from_env``); SIGTERM or SIGINT stop it
gracefully: no new claims, sends in flight finish within ``--stop-timeout``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import signal
import sys
from typing import TYPE_CHECKING, Any, Final

from .._client import RoktClient
from .._errors import ConfigurationError
from ._jobs import JobState
from ._outbox import Outbox
from ._sqlite import SQLiteStore

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ._jobs import Job
    from ._store import Store

__all__ = ["main", "open_store"]

_SQLITE: Final = "sqlite:///"


def open_store(url: str) -> Store:
    """The store a URL names.

    Raises:
        ConfigurationError: a URL of another kind.
    """
    if url.startswith(_SQLITE):
        return SQLiteStore(url[len(_SQLITE) :])
    if url.startswith(("postgresql://", "postgres://")):
        # The postgres extra: imported only when a PostgreSQL URL is given.
        module = importlib.import_module("rokt_async.outbox._procrastinate")
        store: Store = module.store_from_url(url)
        return store
    raise ConfigurationError(
        "the store URL must start with sqlite:/// or postgresql://"
    )


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="Inspect, resolve and drain a rokt-async outbox."
    )
    parser.add_argument(
        "--store", required=True, help="sqlite:///PATH or postgresql://..."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser(
        "status", help="jobs per state and the oldest pending job's age"
    )
    listing = commands.add_parser("list", help="jobs, oldest first, as JSON lines")
    listing.add_argument("--state", choices=[s.value for s in JobState])
    listing.add_argument("--limit", type=int, default=100)
    for name, summary in (
        ("resend", "send a failed or unknown job again"),
        ("drop", "forget a job that is not in flight"),
    ):
        command = commands.add_parser(name, help=summary)
        command.add_argument("job_id", type=int)
    work = commands.add_parser("work", help="drain the outbox until SIGTERM")
    work.add_argument("--concurrency", type=int, default=32)
    work.add_argument("--stop-timeout", type=float, default=10.0)
    work.add_argument("--lease", type=float, default=60.0)
    work.add_argument("--poll-interval", type=float, default=0.5)
    return parser


def main(argv: Sequence[str] | None = None, prog: str = "rokt-async outbox") -> int:
    """Run one command; returns the exit status (0 done, 1 no such job, 2 usage)."""
    args = build_parser(prog).parse_args(argv)
    try:
        store = open_store(args.store)
    except ConfigurationError as exc:
        sys.stderr.write(f"{prog}: error: {exc}\n")
        return 2
    return asyncio.run(_run(args, Outbox(store)))


async def _run(args: argparse.Namespace, outbox: Outbox) -> int:
    try:
        if args.command == "status":
            stats = await outbox.stats()
            print(json.dumps(_plain(stats)))  # noqa: T201 - the command's output
            return 0
        if args.command == "list":
            for job in await outbox.jobs(args.state, args.limit):
                print(json.dumps(_job(job)))  # noqa: T201
            return 0
        if args.command in ("resend", "drop"):
            change = outbox.resend if args.command == "resend" else outbox.drop
            if await change(args.job_id):
                return 0
            sys.stderr.write(f"no job {args.job_id} that can be {args.command}\n")
            return 1
        return await _work(args, outbox)
    finally:
        await outbox.close()


async def _work(args: argparse.Namespace, outbox: Outbox) -> int:
    try:
        client = RoktClient.from_env()
    except ConfigurationError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    async with client:
        worker = outbox.worker(
            client,
            concurrency=args.concurrency,
            stop_timeout=args.stop_timeout,
            lease=args.lease,
            poll_interval=args.poll_interval,
        )
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, lambda: loop.create_task(worker.stop()))
        sys.stderr.write("outbox worker started\n")
        sys.stderr.flush()
        await worker.run_until_stopped()
    sys.stderr.write(f"outbox worker stopped after {worker.sent} sends\n")
    return 0


def _plain(stats: Any) -> dict[str, Any]:
    return {name: getattr(stats, name) for name in stats.__dataclass_fields__}


def _job(job: Job) -> dict[str, Any]:
    plain = _plain(job)
    plain["body"] = job.body.decode()
    plain["state"] = job.state.value
    return plain
