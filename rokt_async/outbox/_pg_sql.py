"""The SQL of ``ProcrastinateStore``: its side table, and jobs read back as ``Job``.

A job is one row of procrastinate's ``procrastinate_jobs`` (status, cart lock,
next attempt as ``scheduled_at``, the worker holding it) joined to one row of
``rokt_outbox_jobs``, which keeps what procrastinate has no column for: the
operation key (unique for good, where a queueing lock covers only ``todo``), the
body byte for byte, the "attempt started" flag, and what an operator reads.
"""

from __future__ import annotations

from typing import Any, Final

from ._jobs import Job

__all__ = [
    "CLAIMED",
    "COUNTS",
    "DROP",
    "HELD",
    "INSERT",
    "JOB",
    "JOBS",
    "LEASE_LOST",
    "LOCK",
    "LOCK_MANY",
    "LOCK_PREFIX",
    "MARK_CLAIMED",
    "OLDEST",
    "QUEUE",
    "RECOVERY_QUEUE",
    "RECOVERY_TASK",
    "RESENT",
    "SCHEMA",
    "SCHEMA_LOCK",
    "SEND_TASK",
    "SETTLED",
    "STARTED",
    "UNCLAIMED",
    "job_from_row",
]

#: The procrastinate queue, task and lock prefix of outbox jobs. Locks are global
#: in procrastinate, so a cart's lock is prefixed to stay clear of the app's own.
QUEUE: Final = "rokt_outbox"
SEND_TASK: Final = "rokt_async.outbox.send"
LOCK_PREFIX: Final = "rokt_outbox:"
#: The periodic task that recovers stalled jobs, in a queue of its own.
RECOVERY_QUEUE: Final = "rokt_outbox_recovery"
RECOVERY_TASK: Final = "rokt_async.outbox.recover_stalled"

#: Taken while the side table is created, so two processes never race on it.
SCHEMA_LOCK: Final = 0x726F6B74  # "rokt"

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS rokt_outbox_jobs (
    key text PRIMARY KEY,
    job_id bigint UNIQUE REFERENCES procrastinate_jobs (id) ON DELETE CASCADE,
    kind text NOT NULL,
    cart text NOT NULL,
    body bytea NOT NULL,
    session_id text,
    resend_safe boolean NOT NULL,
    created_at double precision NOT NULL,
    updated_at double precision NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    sending boolean NOT NULL DEFAULT false,
    unknown boolean NOT NULL DEFAULT false,
    worker text,
    lease_until double precision,
    last_error text,
    error_body text,
    reason text
)
"""

INSERT: Final = """
INSERT INTO rokt_outbox_jobs
    (key, kind, cart, body, session_id, resend_safe, created_at, updated_at)
VALUES (%(key)s, %(kind)s, %(cart)s, %(body)s, %(session_id)s, %(resend_safe)s,
        %(created_at)s, %(created_at)s)
ON CONFLICT (key) DO NOTHING
RETURNING key
"""

#: procrastinate's status and our flag as one of our states.
_STATE: Final = """CASE j.status
    WHEN 'todo' THEN 'pending'
    WHEN 'doing' THEN 'in_flight'
    WHEN 'succeeded' THEN 'done'
    ELSE CASE WHEN s.unknown AND j.status = 'failed' THEN 'unknown' ELSE 'failed' END
END"""
_FROM: Final = (
    " FROM procrastinate_jobs AS j JOIN rokt_outbox_jobs AS s ON s.job_id = j.id"
)
# Built from this module's constants only; every value is a placeholder.
_SELECT: Final = (
    "SELECT j.id, s.kind, s.key, s.cart, s.body, s.session_id, s.resend_safe,"  # noqa: S608
    f" s.created_at, {_STATE}, s.attempts,"
    " COALESCE(EXTRACT(EPOCH FROM j.scheduled_at)::float8, s.created_at),"
    f" s.updated_at, s.last_error, s.error_body, s.reason{_FROM}"
)
JOB: Final = f"{_SELECT} WHERE j.id = %s"
CLAIMED: Final = f"{_SELECT} WHERE j.id = ANY(%s::bigint[]) ORDER BY j.id"
JOBS: Final = (
    f"{_SELECT} WHERE (%(state)s::text IS NULL OR {_STATE} = %(state)s)"
    " ORDER BY j.id LIMIT %(limit)s"
)
COUNTS: Final = f"SELECT {_STATE}, count(*){_FROM} GROUP BY 1"
OLDEST: Final = f"SELECT min(s.created_at){_FROM} WHERE j.status = 'todo'"
#: Jobs leased by our workers whose lease ran out (the caller's clock), or that
#: procrastinate found stalled; locked, skipping any a worker is settling now.
HELD: Final = (
    "SELECT j.id, j.worker_id, COALESCE(s.lease_until < %(now)s, false),"
    f" s.sending, s.resend_safe, now(){_FROM}"
    " WHERE j.status = 'doing' AND j.queue_name = %(queue)s"
    " AND (s.lease_until < %(now)s OR j.id = ANY(%(ids)s::bigint[]))"
    " ORDER BY j.id FOR UPDATE OF j SKIP LOCKED"
)
#: Lock one outbox job: its status, worker and the server's time.
LOCK: Final = (
    "SELECT j.status::text, j.worker_id, now() FROM procrastinate_jobs AS j"
    " JOIN rokt_outbox_jobs AS s ON s.job_id = j.id WHERE j.id = %s FOR UPDATE OF j"
)
#: A job safe to resend is claimed with its attempt recorded as started.
#: Lock outbox jobs, in id order: each one's status, worker and the server's time.
LOCK_MANY: Final = (
    "SELECT j.id, j.status::text, j.worker_id, now() FROM procrastinate_jobs AS j"
    " JOIN rokt_outbox_jobs AS s ON s.job_id = j.id WHERE j.id = ANY(%s::bigint[])"
    " ORDER BY j.id FOR UPDATE OF j"
)
MARK_CLAIMED: Final = (
    "UPDATE rokt_outbox_jobs SET sending = resend_safe,"
    " attempts = attempts + resend_safe::int, worker = %s, lease_until = %s,"
    " updated_at = %s WHERE job_id = ANY(%s::bigint[])"
)
#: Once per lease: a job whose claim recorded the attempt is not counted again.
STARTED: Final = (
    "UPDATE rokt_outbox_jobs SET sending = true,"
    " attempts = attempts + 1 - sending::int, updated_at = %s WHERE job_id = %s"
)
#: A claimed job not sent after all: its claim's attempt taken back.
UNCLAIMED: Final = (
    "UPDATE rokt_outbox_jobs SET attempts = attempts - sending::int, sending = false,"
    " worker = NULL, lease_until = NULL, updated_at = %s WHERE job_id = %s"
)
SETTLED: Final = (
    "UPDATE rokt_outbox_jobs SET sending = false, worker = NULL, lease_until = NULL,"
    " updated_at = %(now)s, unknown = %(unknown)s,"
    " last_error = COALESCE(%(last_error)s, last_error),"
    " error_body = %(error_body)s, reason = %(reason)s WHERE job_id = %(id)s"
)
RESENT: Final = (
    "UPDATE rokt_outbox_jobs SET unknown = false, reason = NULL, updated_at = %s"
    " WHERE job_id = %s"
)
DROP: Final = (
    "DELETE FROM procrastinate_jobs AS j USING rokt_outbox_jobs AS s"
    " WHERE j.id = %s AND s.job_id = j.id AND j.status <> 'doing' RETURNING j.id"
)
LEASE_LOST: Final = (
    "the worker's lease ran out mid-send (the process died or stalled), and"
    " sending it again could act twice"
)


def job_from_row(row: tuple[Any, ...]) -> Job:
    return Job.from_row(row)
