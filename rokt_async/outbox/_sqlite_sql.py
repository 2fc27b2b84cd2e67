"""The SQL of ``SQLiteStore``: its one table, and the statements that read and
change it, each a function of a ``sqlite3.Connection`` inside a transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from ._jobs import Job

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Sequence

    from ._jobs import NewJob, Settle

__all__ = [
    "claim",
    "create",
    "get",
    "insert",
    "recover",
    "settle_many",
    "started",
    "unclaim",
]

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS rokt_outbox_jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    key TEXT NOT NULL UNIQUE,
    cart TEXT NOT NULL,
    body BLOB NOT NULL,
    session_id TEXT,
    resend_safe INTEGER NOT NULL,
    created_at REAL NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    lease_until REAL,
    worker TEXT,
    sending INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    error_body TEXT,
    reason TEXT
);
CREATE INDEX IF NOT EXISTS rokt_outbox_due ON rokt_outbox_jobs (state, next_attempt_at);
CREATE INDEX IF NOT EXISTS rokt_outbox_cart ON rokt_outbox_jobs (cart, id);
"""
COLUMNS: Final = (
    "id, kind, key, cart, body, session_id, resend_safe, created_at, state,"
    " attempts, next_attempt_at, updated_at, last_error, error_body, reason"
)
_INSERT: Final = (
    "INSERT INTO rokt_outbox_jobs (kind, key, cart, body, session_id, resend_safe,"
    " created_at, state, next_attempt_at, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT (key) DO NOTHING"
)
#: Due pending jobs that are the oldest unsettled job of their cart.
_DUE: Final = """
SELECT j.id, j.kind, j.key, j.cart, j.body, j.session_id, j.resend_safe,
    j.created_at, j.state, j.attempts, j.next_attempt_at, j.updated_at,
    j.last_error, j.error_body, j.reason
FROM rokt_outbox_jobs AS j
WHERE j.state = 'pending' AND j.next_attempt_at <= ?
  AND NOT EXISTS (
    SELECT 1 FROM rokt_outbox_jobs AS k
    WHERE k.cart = j.cart AND k.id != j.id
      AND (k.state = 'in_flight' OR (k.id < j.id AND k.state = 'pending')))
ORDER BY j.next_attempt_at, j.id
LIMIT ?
"""
#: A job safe to resend is claimed with its attempt recorded as started.
_CLAIM: Final = (
    "UPDATE rokt_outbox_jobs SET state = 'in_flight', lease_until = ?, worker = ?,"
    " sending = resend_safe, attempts = attempts + resend_safe, updated_at = ?"
    " WHERE id IN ({ids})"
)
#: Once per lease: a job whose claim recorded the attempt is not counted again.
_STARTED: Final = (
    "UPDATE rokt_outbox_jobs SET sending = 1, attempts = attempts + 1 - sending,"
    " updated_at = ? WHERE id = ? AND state = 'in_flight' AND worker = ?"
)
_UNCLAIM: Final = (
    "UPDATE rokt_outbox_jobs SET state = 'pending', updated_at = ?,"
    " next_attempt_at = ?, lease_until = NULL, worker = NULL,"
    " attempts = attempts - sending, sending = 0"
    " WHERE id = ? AND state = 'in_flight' AND worker = ?"
)
_SETTLE: Final = (
    "UPDATE rokt_outbox_jobs SET state = ?, updated_at = ?,"
    " next_attempt_at = COALESCE(?, next_attempt_at), lease_until = NULL,"
    " worker = NULL, sending = 0, last_error = COALESCE(?, last_error),"
    " error_body = ?, reason = ? WHERE id = ? AND state = 'in_flight' AND worker = ?"
)
_GET: Final = f"SELECT {COLUMNS} FROM rokt_outbox_jobs WHERE id = ?"
LEASE_LOST: Final = (
    "the worker's lease ran out mid-send (the process died or stalled), and"
    " sending it again could act twice"
)


def create(db: sqlite3.Connection) -> None:
    """The table and indexes, statement by statement (``executescript`` would
    commit the caller's open transaction first)."""
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)


def insert(db: sqlite3.Connection, job: NewJob) -> int:
    db.execute(
        _INSERT,
        (
            job.kind,
            job.key,
            job.cart,
            job.body,
            job.session_id,
            int(job.resend_safe),
            job.created_at,
            job.created_at,
            job.created_at,
        ),
    )
    (job_id,) = db.execute(
        "SELECT id FROM rokt_outbox_jobs WHERE key = ?", (job.key,)
    ).fetchone()
    return int(job_id)


def get(db: sqlite3.Connection, job_id: int) -> Job | None:
    row = db.execute(_GET, (job_id,)).fetchone()
    return None if row is None else Job.from_row(row)


def claim(
    db: sqlite3.Connection, *, now: float, lease: float, limit: int, worker: str
) -> list[Job]:
    due = db.execute(_DUE, (now, limit)).fetchall()
    if not due:
        return []
    ids = [row[0] for row in due]
    marks = ",".join("?" * len(ids))
    db.execute(_CLAIM.format(ids=marks), (now + lease, worker, now, *ids))
    # Each row as _CLAIM left it: in flight, the attempt of a job safe to resend
    # counted (in Job's column order: 6 resend_safe, 8 state, 9 attempts).
    claimed = [
        Job.from_row((*row[:8], "in_flight", row[9] + row[6], row[10], now, *row[12:]))
        for row in due
    ]
    claimed.sort(key=lambda job: job.id)
    return claimed


def started(
    db: sqlite3.Connection, job_id: int, now: float, worker: str | None
) -> bool:
    return bool(db.execute(_STARTED, (now, job_id, worker)).rowcount)


def unclaim(
    db: sqlite3.Connection, leased: Sequence[tuple[int, str | None]], now: float
) -> None:
    db.executemany(_UNCLAIM, [(now, now, job_id, worker) for job_id, worker in leased])


def settle_many(
    db: sqlite3.Connection, leased: Sequence[tuple[Settle, str | None]]
) -> list[bool]:
    """End each lease the given worker still holds (one statement for all);
    for each, whether it did."""
    ids = [settle.job_id for settle, _ in leased]
    held = dict(
        db.execute(
            "SELECT id, worker FROM rokt_outbox_jobs WHERE state = 'in_flight'"
            f" AND id IN ({','.join('?' * len(ids))})",
            ids,
        )
    )
    still = [w is not None and held.get(s.job_id) == w for s, w in leased]
    db.executemany(
        _SETTLE,
        [
            (
                s.state.value,
                s.now,
                s.next_attempt_at,
                s.last_error,
                s.error_body,
                s.reason,
                s.job_id,
                worker,
            )
            for (s, worker), ok in zip(leased, still, strict=True)
            if ok
        ],
    )
    return still


def recover(db: sqlite3.Connection, now: float) -> int:
    unknown = db.execute(
        "UPDATE rokt_outbox_jobs SET state = 'unknown', updated_at = ?,"
        " lease_until = NULL, worker = NULL, sending = 0, reason = ?"
        " WHERE state = 'in_flight' AND lease_until < ? AND sending = 1"
        " AND resend_safe = 0",
        (now, LEASE_LOST, now),
    ).rowcount
    back = db.execute(
        "UPDATE rokt_outbox_jobs SET state = 'pending', updated_at = ?,"
        " next_attempt_at = ?, lease_until = NULL, worker = NULL, sending = 0"
        " WHERE state = 'in_flight' AND lease_until < ?",
        (now, now, now),
    ).rowcount
    return int(unknown + back)
