"""The bench's command-line values: ``Options`` and each option's checked type.

Each function turns one option's text into its value, or raises
``argparse.ArgumentTypeError`` saying what is wrong (argparse then exits with
status 2); ``_cli`` builds the parser from them and checks the options together.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Final

from ..emulator import ALL_ENDPOINTS, EVENT_FAULT_KINDS, FAULT_KINDS
from ._events import DEFAULT_ACCOUNT_ID, OAUTH
from ._target import DEFAULT_FAULT_PARAMS, FaultRate

__all__ = [
    "FAULT_ENDPOINTS",
    "MAX_SECONDS",
    "Options",
    "account_id",
    "faults",
    "mix",
    "positive_int",
    "seconds",
]

#: The cap on ``--max-seconds`` (and so on ``--duration``).
MAX_SECONDS: Final = 3600.0
#: Endpoints a ``--faults`` entry may name (``*`` is every endpoint).
FAULT_ENDPOINTS: Final = (
    ALL_ENDPOINTS,
    "placements",
    "reserve",
    "confirm",
    "release",
    "events",
    "token",
)
_MAX_ACCOUNT_ID: Final = 64


@dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    """A validated command line. No secret is shown in a repr.

    ``events`` is ``oauth``, ``basic`` or ``off``; ``event_id`` and
    ``event_secret`` are the event credentials for ``--base-url`` (None: the
    embedded emulator makes its own, or events are off). ``outbox`` is
    ``sqlite``, ``postgres`` or None (no outbox phase); ``outbox_url`` its store
    (None: a temporary SQLite file), which may hold a password.
    """

    flows: int | None
    duration: float | None
    time_limit: float
    warmup: int
    warmup_seconds: float
    concurrency: int
    processes: int
    mix: dict[str, float]
    faults: tuple[FaultRate, ...]
    base_url: str | None
    api_key: str | None = field(repr=False)
    tag_id: str | None
    use_uvloop: bool
    json_path: str | None
    seed: int
    quiet: bool
    events: str = OAUTH
    account_id: str = DEFAULT_ACCOUNT_ID
    event_id: str | None = None
    event_secret: str | None = field(default=None, repr=False)
    outbox: str | None = None
    outbox_url: str | None = field(default=None, repr=False)
    outbox_confirms: int = 2_000

    @property
    def release_share(self) -> float:
        """Share of flows that release instead of confirming."""
        return self.mix["release"]

    def fault_specs(self) -> list[str]:
        """The faults as the user wrote them, for the report."""
        return [
            f"{f.kind}={f.rate:g}"
            if f.endpoint == ALL_ENDPOINTS
            else f"{f.endpoint}:{f.kind}={f.rate:g}"
            for f in self.faults
        ]


def mix(text: str) -> dict[str, float]:
    """``--mix confirm=SHARE,release=SHARE`` (either may be left out)."""
    shares: dict[str, float] = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or name not in ("confirm", "release"):
            raise argparse.ArgumentTypeError(
                f"expected confirm=SHARE,release=SHARE, got {pair!r}"
            )
        try:
            share = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name}: not a number") from None
        if not 0.0 <= share <= 1.0:
            raise argparse.ArgumentTypeError(f"{name}={share}: use a share in [0, 1]")
        shares[name] = share
    if not shares:
        raise argparse.ArgumentTypeError("give confirm=SHARE and/or release=SHARE")
    if "confirm" not in shares:
        shares["confirm"] = 1.0 - shares["release"]
    if "release" not in shares:
        shares["release"] = 1.0 - shares["confirm"]
    if abs(shares["confirm"] + shares["release"] - 1.0) > 1e-9:
        raise argparse.ArgumentTypeError("the confirm and release shares must add to 1")
    return {"confirm": shares["confirm"], "release": shares["release"]}


def faults(text: str) -> tuple[FaultRate, ...]:
    """``--faults [ENDPOINT:]KIND=RATE,...``: rates checked, parameters given."""
    found: list[FaultRate] = []
    totals: dict[str, float] = {}
    for entry in filter(None, (e.strip() for e in text.split(","))):
        target, sep, value = entry.partition("=")
        endpoint, colon, kind = target.rpartition(":")
        endpoint = endpoint if colon else ALL_ENDPOINTS
        if not sep or kind not in FAULT_KINDS | EVENT_FAULT_KINDS:
            raise argparse.ArgumentTypeError(
                f"expected [ENDPOINT:]KIND=RATE with KIND one of"
                f" {', '.join(sorted(FAULT_KINDS | EVENT_FAULT_KINDS))}; got {entry!r}"
            )
        if kind in EVENT_FAULT_KINDS and endpoint != "events":
            raise argparse.ArgumentTypeError(
                f"{entry!r}: {kind} applies to the events endpoint only"
                f" (events:{kind}=RATE)"
            )
        if endpoint not in FAULT_ENDPOINTS:
            raise argparse.ArgumentTypeError(
                f"{endpoint!r}: use one of {', '.join(FAULT_ENDPOINTS)}"
            )
        try:
            rate = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{entry!r}: not a number") from None
        if not 0.0 <= rate <= 1.0:
            raise argparse.ArgumentTypeError(f"{entry!r}: use a rate in [0, 1]")
        totals[endpoint] = totals.get(endpoint, 0.0) + rate
        params = dict(DEFAULT_FAULT_PARAMS.get(kind, {}))
        found.append(FaultRate(endpoint, kind, rate, params))
    shared = totals.get(ALL_ENDPOINTS, 0.0)
    for endpoint, total in totals.items():
        own = 0.0 if endpoint == ALL_ENDPOINTS else total
        if own + shared > 1.0 + 1e-9:
            raise argparse.ArgumentTypeError(
                f"fault rates for {endpoint} add up to more than 1"
            )
    return tuple(found)


def account_id(text: str) -> str:
    """``--account-id``: 1 to 64 printable characters, as the Event API takes."""
    if not 0 < len(text) <= _MAX_ACCOUNT_ID or not text.isprintable():
        raise argparse.ArgumentTypeError(
            f"use 1 to {_MAX_ACCOUNT_ID} printable characters"
        )
    return text


def positive_int(text: str) -> int:
    """A whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def seconds(text: str) -> float:
    """Seconds in (0, ``MAX_SECONDS``]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 < value <= MAX_SECONDS:
        raise argparse.ArgumentTypeError(f"{value} must be in (0, {MAX_SECONDS:g}]")
    return value
