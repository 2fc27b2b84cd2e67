"""The transactional outbox: confirms, releases and cancels that survive crashes,
outages and deploys.

    from rokt_async.outbox import Outbox, SQLiteStore

    outbox = Outbox(SQLiteStore("rokt-outbox.db"))
    await outbox.put_confirm(request, session_id=sid)   # returns once it is on disk
    async with rokt, outbox.worker(rokt, concurrency=32):
        ...                                             # drains until the block exits

``ProcrastinateStore(app)`` keeps the jobs in PostgreSQL through procrastinate
(``pip install "rokt-async[postgres]"``).
"""

from typing import TYPE_CHECKING, Any

from ._jobs import Job, JobState, NewJob, Settle
from ._outbox import Outbox, OutboxStats
from ._sqlite import SQLiteStore
from ._store import Store
from ._worker import Worker

if TYPE_CHECKING:
    from ._procrastinate import ProcrastinateStore

__all__ = [
    "Job",
    "JobState",
    "NewJob",
    "Outbox",
    "OutboxStats",
    "ProcrastinateStore",
    "SQLiteStore",
    "Settle",
    "Store",
    "Worker",
]


def __getattr__(name: str) -> Any:
    """``ProcrastinateStore`` on first use: it needs the ``postgres`` extra."""
    if name == "ProcrastinateStore":
        from ._procrastinate import ProcrastinateStore

        return ProcrastinateStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
