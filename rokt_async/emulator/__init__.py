"""A stateful local Rokt Transactions API with fault injection, for tests and load.

Start it with ``python -m rokt_async.emulator --port 8080``, ``async with
Emulator() as emu:`` or ``with Emulator() as emu:`` (background thread), and point
a ``RoktClient`` at ``emu.url``. The rules it follows are documented in
``_state`` (business rules), ``_schema`` (the wire, written from Rokt's docs and
shared with nothing in the client), ``_app`` (auth, validation, admin endpoints)
and ``_faults`` (fault kinds); the ``Ledger`` tells what took effect. The resend
mode (``REPLAY``, ``REJECT``, ``DUPLICATE``) picks how a resent cart/confirm is
answered: ``Emulator(resend=...)``, ``emu.set_resend(...)``, ``--resend``.

The Event API is emulated too (``_events``, ``_tokens``, ``_event_rules``): an
OAuth 2.0 token endpoint (``/auth/oauth2/token``) whose tokens expire on the
emulator's clock, ``/v1/events`` (Bearer, ``Idempotency-Key``, 409 on a key seen
within 3 hours) and ``/v2/events`` (Basic key pairs), with the documented
validation, error bodies and partial failure (``refused_event_types``, fault
kind ``unprocessed``); the ledger counts every event applied.
"""

from __future__ import annotations

from ._app import RecordedRequest
from ._emulator import Emulator
from ._event_rules import MAX_BODY_BYTES, ROKT_VERSION
from ._event_settings import (
    DEFAULT_EVENT_KEYS,
    DEFAULT_OAUTH_APPS,
    TOKEN_DOCS,
    TOKEN_NO_EXPIRY,
    TOKEN_RESPONSES,
    TOKEN_STANDARD,
)
from ._events import IDEMPOTENCY_WINDOW
from ._faults import (
    ALL_ENDPOINTS,
    BAD_GATEWAY_HTML,
    DELAY,
    ENDPOINTS,
    EVENT_FAULT_KINDS,
    FAULT_KINDS,
    GATEWAY_TIMEOUT_AFTER,
    GATEWAY_TIMEOUT_BEFORE,
    IDLE_CLOSE,
    INTERNAL_ERROR,
    RESET_AFTER,
    RESET_BEFORE,
    SERVICE_UNAVAILABLE,
    TRUNCATE,
    UNPROCESSED,
    Fault,
    FaultPlan,
)
from ._inventory import CatalogItem
from ._ledger import Ledger, StockLine
from ._state import DUPLICATE, REJECT, REPLAY, RESEND_MODES

__all__ = [
    "ALL_ENDPOINTS",
    "BAD_GATEWAY_HTML",
    "DEFAULT_EVENT_KEYS",
    "DEFAULT_OAUTH_APPS",
    "DELAY",
    "DUPLICATE",
    "ENDPOINTS",
    "EVENT_FAULT_KINDS",
    "FAULT_KINDS",
    "GATEWAY_TIMEOUT_AFTER",
    "GATEWAY_TIMEOUT_BEFORE",
    "IDEMPOTENCY_WINDOW",
    "IDLE_CLOSE",
    "INTERNAL_ERROR",
    "MAX_BODY_BYTES",
    "REJECT",
    "REPLAY",
    "RESEND_MODES",
    "RESET_AFTER",
    "RESET_BEFORE",
    "ROKT_VERSION",
    "SERVICE_UNAVAILABLE",
    "TOKEN_DOCS",
    "TOKEN_NO_EXPIRY",
    "TOKEN_RESPONSES",
    "TOKEN_STANDARD",
    "TRUNCATE",
    "UNPROCESSED",
    "CatalogItem",
    "Emulator",
    "Fault",
    "FaultPlan",
    "Ledger",
    "RecordedRequest",
    "StockLine",
]
