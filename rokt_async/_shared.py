"""The state every view of one client shares: session, owner, loop and process.

It also holds the misuse checks run before every call: closed or unopened, used
in a forked child, used from another event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
import threading
from typing import TYPE_CHECKING

from ._budget import RetryBudget, StatsCounter
from ._errors import ClientClosedError, EventLoopMismatchError, ForkedProcessError

if TYPE_CHECKING:
    import aiohttp

__all__ = ["SharedState", "State"]

#: Bumped in a child after os.fork; a pool opened under another value is stale.
_fork_generation = 0


def _after_fork_in_child() -> None:  # pragma: no cover - runs in forked children
    global _fork_generation  # one counter, bumped in every forked child
    _fork_generation += 1


os.register_at_fork(after_in_child=_after_fork_in_child)


class State(enum.Enum):
    """Where a client is in its one-way life."""

    UNOPENED = "unopened"
    OPEN = "open"
    CLOSED = "closed"


class SharedState:
    """What every view of one client shares: the session, its state and counters."""

    __slots__ = (
        "budget",
        "created_at",
        "fork_generation",
        "loop",
        "owns_session",
        "pid",
        "session",
        "state",
        "stats",
        "thread",
    )

    def __init__(self, session: aiohttp.ClientSession | None, created_at: str) -> None:
        self.session = session
        self.owns_session = session is None
        self.state = State.UNOPENED
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread = 0
        self.pid = 0
        self.fork_generation = 0
        self.created_at = created_at
        self.stats = StatsCounter()
        self.budget = RetryBudget()

    def mark_open(self, session: aiohttp.ClientSession) -> None:
        """Record the session and where it opened: this loop, this process."""
        self.session = session
        self.loop = asyncio.get_running_loop()
        self.thread = threading.get_ident()
        self.pid = os.getpid()
        self.fork_generation = _fork_generation
        self.state = State.OPEN

    def abandon(self) -> None:
        """Close the sockets of a pool whose client was collected while open.

        Synchronous (nothing can be awaited from ``__del__``): the connector's own
        close, as aiohttp's ``__del__`` would run it, after which neither the
        session nor the connector warns again.
        """
        connector = getattr(self.session, "connector", None)
        close = getattr(connector, "_close", None)
        if callable(close):
            with contextlib.suppress(Exception):  # a closed loop, another thread
                close()

    def session_for_call(self) -> aiohttp.ClientSession:
        """The open session, or a ClientStateError saying how to fix the misuse."""
        session = self.session
        if self.state is not State.OPEN or session is None:
            raise ClientClosedError(
                f"RoktClient is {self.state.value}; use it inside `async with client:`"
                " and create a new client after closing one"
            )
        if self.fork_generation != _fork_generation:
            raise ForkedProcessError(
                f"RoktClient was opened in process {self.pid} and used in forked child"
                f" {os.getpid()}; create and open a new client in the child"
            )
        # A thread runs one loop at a time: on the opening thread with the opening
        # loop running, the caller is on that loop. (asyncio.get_running_loop() would
        # say so too, but it makes a getpid() system call on every use.)
        loop = self.loop
        if (
            threading.get_ident() != self.thread
            or loop is None
            or not loop.is_running()
        ):
            raise EventLoopMismatchError(_mismatch_message(self))
        return session


def _mismatch_message(shared: SharedState) -> str:
    """Where the client was created and opened, and who is asking: no secrets.

    Built only when raising, so the checks above stay as cheap as they are.
    """
    try:
        asking = _describe_loop(asyncio.get_running_loop())
    except RuntimeError:
        asking = "no running event loop"
    opened = "no event loop" if shared.loop is None else _describe_loop(shared.loop)
    here = threading.get_ident()
    where = "the same thread" if here == shared.thread else _describe_thread(here)
    return (
        f"RoktClient created at {shared.created_at} was opened on {opened} in"
        f" {_describe_thread(shared.thread)}, but is used from {asking} in {where}."
        " Open one client per event loop (e.g. in your app's lifespan) and use it"
        " only there; under pytest-asyncio, tests and fixtures whose loop scopes"
        " differ run on different loops"
    )


def _describe_loop(loop: asyncio.AbstractEventLoop) -> str:
    kind = type(loop)
    state = "closed" if loop.is_closed() else "running" if loop.is_running() else "idle"
    return f"{kind.__module__}.{kind.__qualname__} {id(loop):#x} ({state})"


def _describe_thread(ident: int) -> str:
    name = next((t.name for t in threading.enumerate() if t.ident == ident), None)
    return f"thread {ident}" if name is None else f"thread {name!r}"
