"""The admin endpoints under ``/_emulator/``, for control from another process.

They are not recorded, never faulted and need no credentials (the emulator binds
loopback by default):

- ``GET /_emulator/ledger``: the ``Ledger`` as JSON.
- ``POST /_emulator/reset``: like ``Emulator.reset()``; answers ``{}``.
- ``POST /_emulator/faults``: one command mirroring ``FaultPlan``, answers ``{}``:
  ``{"action": "fail_next", "endpoint", "kind", "count"?, "params"?}``,
  ``{"action": "set_rate", "endpoint", "kind", "rate", "params"?}`` or
  ``{"action": "clear", "endpoint"?}``.
- ``POST /_emulator/clock``: ``{"advance": seconds}``; answers ``{"now": seconds}``.
- ``GET /_emulator/resend``: the resend mode, ``{"mode": "replay"}``.
- ``POST /_emulator/resend``: ``{"mode": "replay" | "reject" | "duplicate"}``,
  like ``Emulator.set_resend()``; answers the new mode as GET does.

Malformed or unknown commands get 400 with Rokt's error body (``ValidationError``
for the wrong shape, ``InvalidValue`` for a value the plan, clock or resend mode
refuses); other paths 404, other methods 405.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Protocol

import msgspec

from . import _wire
from ._responses import EMPTY_OBJECT, bad_request, error, not_allowed, ok

if TYPE_CHECKING:
    from collections.abc import Mapping

    from aiohttp import web
    from aiohttp.web_request import BaseRequest

    from ._faults import FaultPlan
    from ._ledger import Ledger

__all__ = ["Controls", "handle_admin"]


class Controls(Protocol):
    """What the admin endpoints drive; ``_app.App`` is one (this module does not
    import it, so the two modules form no import circle)."""

    @property
    def faults(self) -> FaultPlan:
        """The fault plan the commands change."""

    @property
    def resend(self) -> str:
        """The resend mode now."""

    def set_resend(self, mode: str) -> None:
        """Change the resend mode; ValueError for an unknown one."""

    def reset(self) -> None:
        """Back to the start."""

    def advance(self, seconds: float) -> float:
        """Move emulator time forward; returns the new time."""

    def ledger(self) -> Ledger:
        """A snapshot of effects, stock and counts."""


_METHODS: Final[Mapping[str, tuple[str, ...]]] = {
    "/_emulator/ledger": ("GET",),
    "/_emulator/reset": ("POST",),
    "/_emulator/faults": ("POST",),
    "/_emulator/clock": ("POST",),
    "/_emulator/resend": ("GET", "POST"),
}


async def handle_admin(app: Controls, request: BaseRequest) -> web.Response:
    """Answer a request whose path is not an API path."""
    path = request.path.lower()
    method = request.method
    allowed = _METHODS.get(path)
    if allowed is None:
        return error(404, "Not Found", "NotFound", "no such path", request.path)
    if method not in allowed:
        return not_allowed(", ".join(allowed), method)
    if path == "/_emulator/ledger":
        return ok(_wire.ENCODER.encode(app.ledger()))
    if method == "GET":  # /_emulator/resend
        return ok(_wire.ENCODER.encode(_wire.ResendMode(app.resend)))
    body = await request.read()
    try:
        if path == "/_emulator/reset":
            app.reset()
        elif path == "/_emulator/resend":
            command = _wire.RESEND.decode(body)
            app.set_resend(command.mode)
            return ok(_wire.ENCODER.encode(command))
        elif path == "/_emulator/clock":
            now = app.advance(_wire.CLOCK.decode(body).advance)
            return ok(_wire.ENCODER.encode({"now": now}))
        else:
            _apply_fault_command(app, _wire.FAULTS.decode(body))
    except msgspec.DecodeError as exc:  # ValidationError is a subclass
        return bad_request("ValidationError", str(exc))
    except ValueError as exc:
        return bad_request("InvalidValue", str(exc))
    return ok(EMPTY_OBJECT)


def _apply_fault_command(
    app: Controls, command: _wire.FaultFailNext | _wire.FaultSetRate | _wire.FaultClear
) -> None:
    faults = app.faults
    if isinstance(command, _wire.FaultFailNext):
        faults.fail_next(
            command.endpoint, command.kind, command.count, **command.params
        )
    elif isinstance(command, _wire.FaultSetRate):
        faults.set_rate(command.endpoint, command.kind, command.rate, **command.params)
    else:
        faults.clear(command.endpoint)
