"""The ``--outbox`` options: which store, at which URL, and what output must hide.

``--outbox sqlite`` alone is a temporary file; ``--outbox-url`` names a store by
its scheme (``sqlite:///PATH``, ``postgresql://...``). A PostgreSQL store must be
on this machine (the bench's worker drains every job in it) and needs the
``postgres`` extra. Reports show a store's URL with its password masked.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Final
from urllib.parse import parse_qs, unquote, urlsplit

from .._config import is_loopback_host

__all__ = [
    "DEFAULT_CONFIRMS",
    "MAX_CONFIRMS",
    "POSTGRES",
    "SQLITE",
    "SQLITE_PREFIX",
    "STORES",
    "choose_store",
    "outbox_secrets",
    "shown_url",
]

SQLITE: Final = "sqlite"
POSTGRES: Final = "postgres"
STORES: Final = (SQLITE, POSTGRES)
#: ``--outbox-confirms``: carts for each of direct and outbox confirms.
DEFAULT_CONFIRMS: Final = 2_000
MAX_CONFIRMS: Final = 100_000
SQLITE_PREFIX: Final = "sqlite:///"
_PG_PREFIXES: Final = ("postgresql://", "postgres://")
_PG_MODULE: Final = "rokt_async.outbox._procrastinate"


def _kind_of(url: str) -> str | None:
    if url.startswith(SQLITE_PREFIX):
        return SQLITE
    if url.startswith(_PG_PREFIXES):
        return POSTGRES
    return None


def choose_store(kind: str | None, url: str | None) -> tuple[str, str | None]:
    """``--outbox`` and ``--outbox-url`` checked together: (store, URL or None).

    ``--outbox-url`` alone names its store by its scheme; ``sqlite`` alone is a
    temporary file; ``postgres`` needs a URL on this machine and the
    ``postgres`` extra.

    Raises:
        ValueError: the message to print (the command line exits with status 2).
    """
    named = None if url is None else _kind_of(url)
    if url is not None and named is None:
        raise ValueError("--outbox-url must start with sqlite:/// or postgresql://")
    if kind is not None and named is not None and kind != named:
        raise ValueError(f"--outbox {kind} does not match --outbox-url {named}")
    chosen = kind or named
    if chosen is None:
        raise ValueError("give --outbox sqlite|postgres or --outbox-url")
    if chosen == POSTGRES:
        if url is None:
            raise ValueError(
                "--outbox postgres needs a PostgreSQL to use:"
                " --outbox-url postgresql://USER@127.0.0.1:PORT/DBNAME"
            )
        _check_postgres(url)
    elif url is not None:
        folder = Path(url[len(SQLITE_PREFIX) :]).parent
        if not url[len(SQLITE_PREFIX) :] or not folder.is_dir():
            raise ValueError(f"--outbox-url: folder {folder} does not exist")
    return chosen, url


def _host(netloc: str) -> str:
    """The host of ``host``, ``host:port``, ``[v6]`` or ``[v6]:port``."""
    if netloc.startswith("["):
        return netloc[1:].partition("]")[0]
    return netloc.rpartition(":")[0] if netloc.count(":") == 1 else netloc


def _check_postgres(url: str) -> None:
    parts = urlsplit(url)
    named = parts.netloc.rpartition("@")[2].split(",")  # libpq takes several
    hosts = [unquote(_host(part)) for part in named]
    for given in parse_qs(parts.query).get("host", []):
        hosts += given.split(",")
    for host in filter(None, hosts):
        if not host.startswith("/") and not is_loopback_host(host):
            raise ValueError(
                f"--outbox-url host {host} is not a loopback address: the bench's"
                " worker would drain any job in that database"
            )
    try:
        importlib.import_module(_PG_MODULE)
    except ImportError as exc:
        raise ValueError(
            "--outbox postgres needs the postgres extra: pip install"
            f" 'rokt-async[postgres]' ({exc})"
        ) from None


def shown_url(url: str) -> str:
    """``url`` as reports show it: password masked, query left out (a SQLite
    URL holds neither, and is shown as given)."""
    if url.startswith(SQLITE_PREFIX):
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return parts._replace(query="", fragment="").geturl()
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{user}:***@{host}", query="", fragment="").geturl()


def outbox_secrets(url: str | None) -> list[str]:
    """The password in a store URL (in its user info or its query), if any."""
    if url is None:
        return []
    parts = urlsplit(url)
    found = [parts.password or "", *parse_qs(parts.query).get("password", [])]
    both = [form for value in found if value for form in (value, unquote(value))]
    return list(dict.fromkeys(both))  # as written, and percent-decoded
