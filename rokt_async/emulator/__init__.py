"""A stateful local Rokt Transactions API with fault injection, for tests and load.

Start it with ``python -m rokt_async.emulator --port 8080``, ``async with
Emulator() as emu:`` or ``with Emulator() as emu:`` (background thread), and point
a ``RoktClient`` at ``emu.url``. The rules it follows are documented in
``_state`` (business rules), ``_schema`` (the wire, written from Rokt's docs and
shared with nothing in the client), ``_app`` (auth, validation, admin endpoints)
and ``_faults`` (fault kinds); the ``Ledger`` tells what took effect. The resend
mode (``REPLAY``, ``REJECT``, ``DUPLICATE``) picks how a resent cart/confirm is
answered: ``Emulator(resend=...)``, ``emu.set_resend(...)``, ``--resend``.
"""

from __future__ import annotations

from ._app import RecordedRequest
from ._emulator import Emulator
from ._faults import (
    ALL_ENDPOINTS,
    BAD_GATEWAY_HTML,
    DELAY,
    ENDPOINTS,
    FAULT_KINDS,
    GATEWAY_TIMEOUT_AFTER,
    GATEWAY_TIMEOUT_BEFORE,
    IDLE_CLOSE,
    INTERNAL_ERROR,
    RESET_AFTER,
    RESET_BEFORE,
    SERVICE_UNAVAILABLE,
    TRUNCATE,
    Fault,
    FaultPlan,
)
from ._inventory import CatalogItem
from ._ledger import Ledger, StockLine
from ._state import DUPLICATE, REJECT, REPLAY, RESEND_MODES

__all__ = [
    "ALL_ENDPOINTS",
    "BAD_GATEWAY_HTML",
    "DELAY",
    "DUPLICATE",
    "ENDPOINTS",
    "FAULT_KINDS",
    "GATEWAY_TIMEOUT_AFTER",
    "GATEWAY_TIMEOUT_BEFORE",
    "IDLE_CLOSE",
    "INTERNAL_ERROR",
    "REJECT",
    "REPLAY",
    "RESEND_MODES",
    "RESET_AFTER",
    "RESET_BEFORE",
    "SERVICE_UNAVAILABLE",
    "TRUNCATE",
    "CatalogItem",
    "Emulator",
    "Fault",
    "FaultPlan",
    "Ledger",
    "RecordedRequest",
    "StockLine",
]
