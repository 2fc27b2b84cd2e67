"""Outbox worker processes on PostgreSQL, ``rokt-async outbox --store
postgresql://... work``, and a record of which process claimed which job.

``tests/outbox/_processes.py`` starts the processes; this adds the
``postgresql://`` URL of a test's DSN, a stop that reads the worker's last line,
and what the database recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import subprocess
from typing import TYPE_CHECKING

import psycopg
from psycopg.conninfo import conninfo_to_dict

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


#: The last line ``rokt-async outbox work`` writes: how many sends it started.
_STOPPED = re.compile(rb"outbox worker stopped after (\d+) sends")

#: Every claim of an outbox job, as the database saw it: a row per lease, with
#: the claiming worker's name (``host:pid:id``, the worker's own). Test-only
#: objects, dropped again by ``claims_recorded``.
_RECORD_CLAIMS = """
CREATE TABLE rokt_test_claims (
    job_id bigint NOT NULL,
    worker text NOT NULL,
    at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE FUNCTION rokt_test_record_claim() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rokt_test_claims (job_id, worker) VALUES (NEW.job_id, NEW.worker);
    RETURN NULL;
END $$;
CREATE TRIGGER rokt_test_record_claim AFTER UPDATE ON rokt_outbox_jobs
FOR EACH ROW WHEN (
    NEW.worker IS NOT NULL AND NEW.lease_until IS DISTINCT FROM OLD.lease_until
) EXECUTE FUNCTION rokt_test_record_claim();
"""
_FORGET_CLAIMS = """
DROP TRIGGER IF EXISTS rokt_test_record_claim ON rokt_outbox_jobs;
DROP FUNCTION IF EXISTS rokt_test_record_claim();
DROP TABLE IF EXISTS rokt_test_claims;
"""


def store_url(dsn: str) -> str:
    """The ``postgresql://`` URL of a ``host=... port=...`` DSN (no password)."""
    parts = conninfo_to_dict(dsn)
    return (
        f"postgresql://{parts['user']}@{parts['host']}:{parts['port']}"
        f"/{parts['dbname']}"
    )


def stop(process: subprocess.Popen[bytes], limit: float = 15.0) -> tuple[int, int]:
    """SIGTERM; then the exit status and the sends the worker says it started
    (-1 if it did not say). Killed after ``limit`` seconds."""
    process.terminate()
    try:
        _, rest = process.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    found = _STOPPED.search(rest)
    return process.returncode, -1 if found is None else int(found.group(1))


def kill(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL a worker not yet stopped (after a failure), and reap it."""
    if process.returncode is not None:
        return  # stopped and reaped
    process.kill()
    process.communicate()


@contextlib.asynccontextmanager
async def claims_recorded(dsn: str) -> AsyncIterator[None]:
    """Record every claim of an outbox job in ``rokt_test_claims`` while inside
    (the side table must exist: use the store once first)."""
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute(_FORGET_CLAIMS)
        await conn.execute(_RECORD_CLAIMS)
        try:
            yield
        finally:
            await conn.execute(_FORGET_CLAIMS)


async def claims(dsn: str) -> list[tuple[int, int]]:
    """(job id, pid of the claiming worker process) for every claim recorded."""
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT job_id, worker FROM rokt_test_claims ORDER BY at"
        )
        rows = await cur.fetchall()
    # A worker's name is host:pid:id (rokt_async.outbox._worker).
    return [(int(job_id), int(worker.rsplit(":", 2)[1])) for job_id, worker in rows]


async def started_per_job(dsn: str) -> dict[int, int]:
    """How many times procrastinate started each outbox job (``todo`` to
    ``doing``), from its own event history."""
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT s.job_id, count(e.id) FILTER (WHERE e.type = 'started')"
            " FROM rokt_outbox_jobs AS s"
            " LEFT JOIN procrastinate_events AS e ON e.job_id = s.job_id"
            " GROUP BY s.job_id"
        )
        return {int(job_id): int(n) for job_id, n in await cur.fetchall()}


async def workers_registered(dsn: str, n: int, limit: float) -> None:
    """Wait until ``n`` procrastinate worker rows exist (bounded by ``limit``): an
    outbox worker process registers its row on its first claim."""
    async with (
        await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn,
        asyncio.timeout(limit),
    ):
        while True:
            cur = await conn.execute("SELECT count(*) FROM procrastinate_workers")
            row = await cur.fetchone()
            if row is not None and row[0] >= n:
                return
            await asyncio.sleep(0.02)
