"""How ``ProcrastinateStore`` ends leases, on the caller's transaction: with
procrastinate's own ``retry_job`` and ``finish_job``, plus the side table's
record (``_pg_sql.SETTLED``)."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from procrastinate import sql

from . import _pg_sql as q
from ._jobs import JobState

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import psycopg
    from procrastinate import PsycopgConnector

    from ._jobs import Settle

__all__ = ["end", "finish", "retry", "take_back"]


async def _query(
    connector: PsycopgConnector,
    conn: psycopg.AsyncConnection[Any],
    query: str,
    **arguments: Any,
) -> None:
    """One of procrastinate's own queries, run on our transaction."""
    await connector.execute_query_all_async_with_connection(
        conn, sql.queries[query], **arguments
    )


async def retry(
    connector: PsycopgConnector,
    conn: psycopg.AsyncConnection[Any],
    job_id: int,
    at: datetime.datetime,
) -> None:
    """Back to ``todo`` from ``at`` (procrastinate's ``retry_job``)."""
    await _query(
        connector,
        conn,
        "retry_job",
        job_id=job_id,
        retry_at=at,
        new_priority=None,
        new_queue_name=None,
        new_lock=None,
    )


async def finish(
    connector: PsycopgConnector,
    conn: psycopg.AsyncConnection[Any],
    job_id: int,
    status: str,
) -> None:
    """``succeeded`` or ``failed`` (procrastinate's ``finish_job``)."""
    await _query(
        connector, conn, "finish_job", job_id=job_id, status=status, delete_job=False
    )


async def end(
    connector: PsycopgConnector,
    conn: psycopg.AsyncConnection[Any],
    settles: Sequence[Settle],
    expected: Mapping[int, int | None],
) -> list[bool]:
    """End each lease still held by the procrastinate worker row ``expected``
    names for it (the rows locked first, in id order); for each, whether it was."""
    cur = await conn.execute(q.LOCK_MANY, (sorted(expected),))
    held = {row[0]: row for row in await cur.fetchall()}
    still: list[bool] = []
    for s in settles:
        row = held.get(s.job_id)
        if row is None or row[1] != "doing" or row[2] != expected[s.job_id]:
            still.append(False)  # recovery took it back: left as is
            continue
        if s.state is JobState.PENDING:  # the delay, on the server's clock
            wait = (s.next_attempt_at or s.now) - s.now
            await retry(
                connector,
                conn,
                s.job_id,
                row[3] + datetime.timedelta(seconds=max(0.0, wait)),
            )
        else:
            status = "succeeded" if s.state is JobState.DONE else "failed"
            await finish(connector, conn, s.job_id, status)
        still.append(True)
    async with conn.cursor() as cursor:
        await cursor.executemany(
            q.SETTLED,
            [
                {
                    "id": s.job_id,
                    "now": s.now,
                    "unknown": s.state is JobState.UNKNOWN,
                    "last_error": s.last_error,
                    "error_body": s.error_body,
                    "reason": s.reason,
                }
                for s, ok in zip(settles, still, strict=True)
                if ok
            ],
        )
    return still


async def take_back(
    connector: PsycopgConnector,
    conn: psycopg.AsyncConnection[Any],
    held: Sequence[Any],
    now: float,
) -> None:
    """Recover one expired or stalled lease (a row of ``_pg_sql.HELD``) by the
    resend rules: ``unknown`` when a send had started and resending is not safe,
    else back to ``todo`` at once."""
    job_id, _, _, sending, safe, server_now = held
    unknown = sending and not safe
    if unknown:
        await finish(connector, conn, job_id, "failed")
    else:
        await retry(connector, conn, job_id, server_now)
    await conn.execute(
        q.SETTLED,
        {
            "id": job_id,
            "now": now,
            "unknown": unknown,
            "last_error": None,
            "error_body": None,
            "reason": q.LEASE_LOST if unknown else None,
        },
    )
