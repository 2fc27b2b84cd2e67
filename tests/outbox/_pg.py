"""A throwaway PostgreSQL for the outbox's PostgreSQL tests.

One server per session, on 127.0.0.1 in a temp dir, from the machine's own
``initdb`` and ``pg_ctl`` (on PATH, else the newest /usr/lib/postgresql/*/bin).
initdb refuses to run as root, so as root (CI) the server runs as ``nobody`` (or
a user made for it).
If it cannot start, the tests that need it skip with the reason, except under
``CI=true``, where they fail. The tests share one database with procrastinate's
schema, emptied before each test.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import psycopg
import pytest
import pytest_asyncio
from procrastinate import App, PsycopgConnector
from procrastinate.schema import SchemaManager

from rokt_async.outbox._procrastinate import ProcrastinateStore

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

__all__ = ["PgServer", "open_app", "pg_app", "pg_dsn", "pg_server", "pg_store"]

_DATABASE = "rokt_test"
#: CASCADE empties the store's side table too (it references procrastinate_jobs).
_EMPTY = (
    "TRUNCATE procrastinate_jobs, procrastinate_events, procrastinate_workers,"
    " procrastinate_periodic_defers RESTART IDENTITY CASCADE"
)


@dataclass(frozen=True)
class PgServer:
    host: str
    port: int

    def dsn(self, dbname: str) -> str:
        return f"host={self.host} port={self.port} user=postgres dbname={dbname}"


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"PostgreSQL is required under CI: {reason}", pytrace=False)
    pytest.skip(f"no PostgreSQL for these tests: {reason}")


def _binaries() -> Path | None:
    """The directory holding initdb and pg_ctl."""
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl:
        return Path(initdb).parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0,
    )
    return versions[-1].parent if versions else None


def _run_as() -> dict[str, Any]:
    """``subprocess`` options that run the server as an unprivileged user when we
    are root (initdb refuses root); none otherwise."""
    if os.geteuid() != 0:
        return {}
    try:
        user = pwd.getpwnam("nobody")
    except KeyError:  # a machine without it: make one of our own
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "rokt-pg"],  # noqa: S607
            check=True,
            capture_output=True,
        )
        user = pwd.getpwnam("rokt-pg")
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start(binaries: Path, base: Path, run_as: dict[str, Any]) -> PgServer:
    data, log = base / "data", base / "server.log"
    options: dict[str, Any] = {
        **run_as,
        "check": True,
        "capture_output": True,
        "cwd": base,
        "env": {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C"},
        "timeout": 60,
    }
    subprocess.run(  # noqa: S603 - the machine's own initdb
        [
            str(binaries / "initdb"),
            *("-D", str(data), "-U", "postgres", "-A", "trust"),
            *("--no-locale", "-E", "UTF8", "--no-sync"),
        ],
        **options,
    )
    port = _free_port()
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(
            f"\nlisten_addresses = '127.0.0.1'\nport = {port}\n"
            "unix_socket_directories = ''\nmax_connections = 200\n"
            "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
        )
    subprocess.run(  # noqa: S603 - the machine's own pg_ctl
        [str(binaries / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "start"],
        **options,
    )
    return PgServer("127.0.0.1", port)


def _stop(binaries: Path, base: Path, run_as: dict[str, Any]) -> None:
    subprocess.run(  # noqa: S603 - the machine's own pg_ctl
        [str(binaries / "pg_ctl"), "-D", str(base / "data"), "-m", "immediate", "stop"],
        **run_as,
        capture_output=True,
        cwd=base,
        timeout=60,
    )


def _make_database(server: PgServer) -> None:
    with psycopg.connect(server.dsn("postgres"), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {_DATABASE}")
    with psycopg.connect(server.dsn(_DATABASE), autocommit=True) as conn:
        conn.execute(SchemaManager.get_schema())


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A PostgreSQL server for the session, with the test database."""
    binaries = _binaries()
    if binaries is None:
        _unavailable("initdb and pg_ctl are not installed (apt-get install postgresql)")
    run_as = _run_as()
    # As root, under /tmp (mkdtemp: a fresh 0700 directory), wherever TMPDIR points:
    # the server's own user must be able to reach its directory.
    under = "/tmp" if run_as else None  # noqa: S108
    base = Path(tempfile.mkdtemp(prefix="rokt-pg-", dir=under))
    if run_as:
        os.chown(base, run_as["user"], run_as["group"])
    try:
        try:
            server = _start(binaries, base, run_as)
            _make_database(server)
        except (OSError, subprocess.SubprocessError, psycopg.Error) as exc:
            log = base / "server.log"
            tail = log.read_text()[-800:] if log.exists() else ""
            stderr = getattr(exc, "stderr", b"") or b""
            _unavailable(f"{exc!r} {stderr.decode(errors='replace')[-800:]} {tail}")
        yield server
    finally:
        _stop(binaries, base, run_as)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def pg_dsn(pg_server: PgServer) -> str:
    """The test database, emptied for this test (every job, event and worker
    row gone; ids start again at 1)."""
    dsn = pg_server.dsn(_DATABASE)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(_EMPTY)
    return dsn


def open_app(dsn: str) -> App:
    """An app on its own pool (open it with ``async with app.open_async()``)."""
    return App(connector=PsycopgConnector(conninfo=dsn, min_size=1, max_size=8))


@pytest_asyncio.fixture
async def pg_app(pg_dsn: str) -> AsyncIterator[App]:
    """An open procrastinate app on this test's database."""
    app = open_app(pg_dsn)
    async with app.open_async():
        yield app


@pytest_asyncio.fixture
async def pg_store(pg_app: App) -> AsyncIterator[ProcrastinateStore]:
    """A store on ``pg_app``, closed after the test."""
    store = ProcrastinateStore(pg_app)
    yield store
    await store.close()
