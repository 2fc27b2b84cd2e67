"""Procrastinate worker rows for the outbox's workers, kept alive by heartbeats.

procrastinate judges a job stalled when the worker row it was fetched for has no
recent heartbeat (or is gone). Each outbox worker name gets one such row, from
procrastinate's own ``register_worker``; a task of the store's sends the rows'
heartbeats while the store is open, and closing the store unregisters them.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Final

import psycopg
from procrastinate import sql
from procrastinate.exceptions import ProcrastinateException

if TYPE_CHECKING:
    from procrastinate import App, PsycopgConnector

__all__ = ["WorkerRows"]

_log: Final = logging.getLogger("rokt_async.outbox")
_EXISTS: Final = "SELECT 1 FROM procrastinate_workers WHERE id = %s FOR KEY SHARE"


class WorkerRows:
    """Worker name → procrastinate worker id, and the heartbeats of those ids."""

    def __init__(
        self, app: App, connector: PsycopgConnector, heartbeat_interval: float
    ) -> None:
        self._app = app
        self._connector = connector
        self.heartbeat_interval = heartbeat_interval
        self._ids: dict[str, int] = {}
        self._beating: asyncio.Task[None] | None = None

    async def id_for(self, conn: psycopg.AsyncConnection[Any], name: str) -> int:
        """The worker's row, inside ``conn``'s transaction (which keeps it from
        being pruned meanwhile); registered on first use, and again if it was
        pruned for want of heartbeats."""
        known = self._ids.get(name)
        if known is not None:
            found = await (await conn.execute(_EXISTS, (known,))).fetchone()
            if found is not None:
                return known
        (row,) = await self._connector.execute_query_all_async_with_connection(
            conn, sql.queries["register_worker"]
        )  # (procrastinate 3.8 has no execute_query_one_..._with_connection)
        worker_id = int(row["worker_id"])
        self._ids[name] = worker_id
        if self._beating is None:
            self._beating = asyncio.get_running_loop().create_task(
                self._beat(), name="rokt-outbox-heartbeat"
            )
        return worker_id

    async def _beat(self) -> None:
        manager = self._app.job_manager
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            for worker_id in list(self._ids.values()):
                try:
                    await manager.update_heartbeat(worker_id)
                except (ProcrastinateException, psycopg.Error) as exc:
                    _log.debug("outbox heartbeat failed: %s", type(exc).__name__)

    async def close(self) -> None:
        """Stop the heartbeats and unregister the rows: the jobs they still hold
        count as stalled at once."""
        beating, self._beating = self._beating, None
        if beating is not None:
            beating.cancel()
            await asyncio.wait([beating])
        ids, self._ids = list(self._ids.values()), {}
        for worker_id in ids:
            try:
                await self._app.job_manager.unregister_worker(worker_id)
            except (ProcrastinateException, psycopg.Error) as exc:
                # the app closed first: recovery finds the worker by its heartbeat
                _log.debug("outbox worker not unregistered: %s", type(exc).__name__)
