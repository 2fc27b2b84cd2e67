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
- ``GET /_emulator/event-credentials``: the accepted ids, never the secrets,
  ``{"event_keys": [public keys], "oauth_apps": [app ids]}``, sorted.
- ``POST /_emulator/event-credentials``: ``{"event_keys"?: {public: secret},
  "oauth_apps"?: {app_id: secret}}``, like ``Emulator.set_event_credentials()``
  (a field left out keeps its pairs); answers as GET does.
- ``GET /_emulator/event-settings``: ``{"token_ttl", "token_response",
  "refused_event_types": [sorted]}``.
- ``POST /_emulator/event-settings``: any of those fields, like
  ``set_token_options()`` and ``set_refused_event_types()``; answers as GET does.
- ``POST /_emulator/revoke-tokens``: like ``Emulator.revoke_tokens()``; answers
  ``{"revoked": <tokens ended>}``.

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

    from ._events import EventsDesk
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
    def events(self) -> EventsDesk:
        """The Event API's settings and tokens."""

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
    "/_emulator/event-credentials": ("GET", "POST"),
    "/_emulator/event-settings": ("GET", "POST"),
    "/_emulator/revoke-tokens": ("POST",),
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
    if path in _EVENT_PATHS:
        return await _event_admin(app.events, request)
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


_EVENT_PATHS: Final = frozenset(
    {
        "/_emulator/event-credentials",
        "/_emulator/event-settings",
        "/_emulator/revoke-tokens",
    }
)


async def _event_admin(desk: EventsDesk, request: BaseRequest) -> web.Response:
    """The Event API's admin paths; method already checked."""
    path = request.path.lower()
    if path == "/_emulator/revoke-tokens":
        return ok(_wire.ENCODER.encode({"revoked": desk.revoke_tokens()}))
    if request.method == "POST":
        body = await request.read()
        try:
            if path == "/_emulator/event-credentials":
                credentials = _wire.EVENT_CREDENTIALS.decode(body)
                desk.configure(
                    event_keys=credentials.event_keys,
                    oauth_apps=credentials.oauth_apps,
                )
            else:
                options = _wire.EVENT_SETTINGS.decode(body)
                desk.configure(
                    token_ttl=options.token_ttl,
                    token_response=options.token_response,
                    refused_event_types=options.refused_event_types,
                )
        except msgspec.DecodeError as exc:  # ValidationError is a subclass
            return bad_request("ValidationError", str(exc))
        except ValueError as exc:
            return bad_request("InvalidValue", str(exc))
    settings = desk.settings
    if path == "/_emulator/event-credentials":
        answer: object = _wire.EventCredentialIds(
            event_keys=sorted(settings.event_keys),
            oauth_apps=sorted(settings.oauth_apps),
        )
    else:
        answer = _wire.EventSettingsCommand(
            token_ttl=settings.token_ttl,
            token_response=settings.token_response,
            refused_event_types=sorted(settings.refused_event_types),
        )
    return ok(_wire.ENCODER.encode(answer))
