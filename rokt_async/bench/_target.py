"""Where the load goes: an embedded emulator subprocess, or a service at a URL.

The embedded emulator is ``python -m rokt_async.emulator`` on 127.0.0.1, port 0,
with a throwaway API key and event secrets generated for the run, so the
client's CPU and memory are measured without the server's. An emulator elsewhere
(``--base-url`` on a loopback host) is driven through its admin endpoints: faults
are set before the run and removed after it, and the ledger is read before and
after. Before any of that, a TCP connection to the target's host and port must
open, or the run does not start.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import signal
import sys
import tempfile
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, Self
from urllib.parse import urlsplit

import aiohttp
import msgspec

from .._config import is_loopback_host
from ..emulator import Ledger
from ._events import OAUTH
from ._stats import process_cpu_seconds

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from types import TracebackType

__all__ = [
    "DEFAULT_FAULT_PARAMS",
    "LEDGER_PATH",
    "BenchSetupError",
    "EmbeddedEmulator",
    "FaultRate",
    "RemoteTarget",
    "new_api_key",
    "new_event_secrets",
    "probe",
    "redact",
]

#: Parameters given to fault kinds that take some (the CLI sets only rates).
DEFAULT_FAULT_PARAMS: Final[Mapping[str, Mapping[str, float]]] = MappingProxyType(
    {"delay": {"max_ms": 100.0}, "503_retry_after": {"retry_after": 1.0}}
)
_START_TIMEOUT: Final = 30.0
_STOP_TIMEOUT: Final = 10.0
_ADMIN_TIMEOUT: Final = aiohttp.ClientTimeout(total=10.0)
_PROBE_TIMEOUT: Final = 5.0
#: The emulator's admin endpoint that serves its ledger.
LEDGER_PATH: Final = "/_emulator/ledger"
_ADMIN_ERRORS: Final = (aiohttp.ClientError, msgspec.DecodeError, TimeoutError)
_LEDGER: Final = msgspec.json.Decoder(Ledger)
_KEY_HEADER: Final = re.compile(r"(?i)(rokt-api-key[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+")
_AUTH_HEADER: Final = re.compile(
    r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?(?:basic|bearer)\s+)[^\s\"',}]+"
)
#: The embedded emulator's event app id and public key (not secrets).
BENCH_APP_ID: Final = "bench-app"
BENCH_PUBLIC_KEY: Final = "rpub-bench"


class BenchSetupError(Exception):
    """The run could not start: the emulator did not come up, a worker died."""


@dataclass(frozen=True, slots=True)
class FaultRate:
    """Inject ``kind`` into a seeded share ``rate`` of ``endpoint``'s requests."""

    endpoint: str
    kind: str
    rate: float
    params: Mapping[str, float] = field(default_factory=dict)

    def cli_spec(self) -> str:
        """The emulator's ``--fault ENDPOINT:KIND:RATE[:NAME=VALUE,...]`` value."""
        spec = f"{self.endpoint}:{self.kind}:{self.rate}"
        if self.params:
            spec += ":" + ",".join(f"{k}={v}" for k, v in self.params.items())
        return spec


def new_api_key() -> str:
    """A throwaway API key for the embedded emulator; valid for one run only."""
    return "bench-" + secrets.token_urlsafe(18)


def new_event_secrets() -> tuple[str, str]:
    """Throwaway (app secret, secret key) for the embedded emulator's Event API."""
    return "bench-" + secrets.token_urlsafe(18), "rsec-" + secrets.token_urlsafe(18)


def redact(text: str, secret_values: Iterable[str]) -> str:
    """``text`` with every secret value masked, and every ``rokt-api-key`` value
    and ``Authorization: Basic``/``Bearer`` credential."""
    for value in secret_values:
        if value:
            text = text.replace(value, "***")
    return _AUTH_HEADER.sub(r"\1***", _KEY_HEADER.sub(r"\1***", text))


async def _get_ledger(session: aiohttp.ClientSession, base_url: str) -> Ledger:
    async with session.get(f"{base_url}{LEDGER_PATH}") as response:
        response.raise_for_status()
        return _LEDGER.decode(await response.read())


def _why(exc: BaseException) -> str:
    """A short reason; never a ``ClientResponseError``'s repr (it holds headers)."""
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"HTTP {exc.status}"
    if isinstance(exc, msgspec.DecodeError):
        return "the answer is not a ledger"
    return type(exc).__name__


async def probe(url: str, timeout: float = _PROBE_TIMEOUT) -> None:
    """Open and close one TCP connection to ``url``'s host and port; send nothing.

    Raises:
        BenchSetupError: the connection was refused or did not open in time.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(host, port)
    except TimeoutError:
        raise BenchSetupError(
            f"cannot connect to {host}:{port}: no answer in {timeout:g} s"
        ) from None
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else type(exc).__name__
        raise BenchSetupError(f"cannot connect to {host}:{port}: {reason}") from None
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


class _AdminTarget:
    """What both targets share: an admin session to the emulator, closed on exit."""

    url: str
    _session: aiohttp.ClientSession | None
    #: Why ``ledger()`` last answered None.
    ledger_problem: str = "the emulator's ledger could not be read"

    async def ledger(self) -> Ledger | None:
        """The emulator's ledger now, or None (``ledger_problem`` says why)."""
        if self._session is None:
            return None
        try:
            return await _get_ledger(self._session, self.url)
        except _ADMIN_ERRORS as exc:
            self.ledger_problem = (
                f"the ledger could not be read (GET {LEDGER_PATH}: {_why(exc)})"
            )
            return None

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()
        await self._stop()

    async def _stop(self) -> None:
        """Stop what the target started; a remote target started nothing."""


class EmbeddedEmulator(_AdminTarget):
    """``python -m rokt_async.emulator`` on 127.0.0.1:0 as a child process.

    It accepts a throwaway API key, OAuth app (``bench-app``) and Basic key pair
    (``rpub-bench``), made for this run.

    Args:
        seed: seeds the emulator's identifiers and random faults.
        faults: rates to inject from the first request on.
        tag_id: the tag id it accepts.
    """

    def __init__(
        self, *, seed: int, faults: Sequence[FaultRate], tag_id: str = "bench-tag"
    ) -> None:
        self.api_key = new_api_key()
        self._app_secret, self._secret_key = new_event_secrets()
        self.tag_id = tag_id
        self.url = ""
        self._seed = seed
        self._faults = tuple(faults)
        self._process: asyncio.subprocess.Process | None = None
        self._session: aiohttp.ClientSession | None = None
        self._cpu_seconds: float | None = None

    def __repr__(self) -> str:
        return f"<EmbeddedEmulator {self.url or 'not started'}>"

    @property
    def secret_values(self) -> list[str]:
        """Every secret it was given: output must never show one."""
        return [self.api_key, self._app_secret, self._secret_key]

    def event_login(self, mode: str) -> tuple[str, str]:
        """(app id, app secret) for ``oauth``, (public, secret key) otherwise."""
        if mode == OAUTH:
            return BENCH_APP_ID, self._app_secret
        return BENCH_PUBLIC_KEY, self._secret_key

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        return None if self._process is None else self._process.pid

    @property
    def cpu_seconds(self) -> float | None:
        """CPU the emulator used, read when it stopped (None where unknown)."""
        return self._cpu_seconds

    async def __aenter__(self) -> Self:
        command = [
            sys.executable,
            "-m",
            "rokt_async.emulator",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--api-key",
            self.api_key,
            "--tag-id",
            self.tag_id,
            "--seed",
            str(self._seed),
            "--oauth-app",
            f"{BENCH_APP_ID}:{self._app_secret}",
            "--event-key",
            f"{BENCH_PUBLIC_KEY}:{self._secret_key}",
        ]
        for fault in self._faults:
            command += ["--fault", fault.cli_spec()]
        with tempfile.TemporaryFile() as errors:
            process = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=errors,
            )
            self._process = process
            try:
                line = await self._first_line(process)
            except BaseException:
                await self._stop()
                raise
            if not line.startswith("http://"):
                await self._stop()
                errors.seek(0)
                said = errors.read()[-2000:].decode(errors="replace").strip()
                raise BenchSetupError(
                    "the embedded emulator did not start: "
                    + redact(said or "no output", self.secret_values)
                )
        self.url = line
        self._session = aiohttp.ClientSession(timeout=_ADMIN_TIMEOUT)
        return self

    @staticmethod
    async def _first_line(process: asyncio.subprocess.Process) -> str:
        if process.stdout is None:
            return ""
        try:
            raw = await asyncio.wait_for(process.stdout.readline(), _START_TIMEOUT)
        except TimeoutError:
            return ""
        return raw.decode(errors="replace").strip()

    async def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        self._cpu_seconds = process_cpu_seconds(process.pid)
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), _STOP_TIMEOUT)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        if process.stdout is not None:
            await process.stdout.read()  # drain to EOF so the pipe closes cleanly

    async def apply_faults(self) -> None:
        """Nothing to do: the faults were given on its command line."""

    async def clear_faults(self) -> None:
        """Nothing to do: the emulator stops with the run."""


class RemoteTarget(_AdminTarget):
    """A service at ``base_url``: an emulator when the host is loopback.

    Faults and the ledger need the emulator's admin endpoints, so they are used
    only on a loopback host; nothing but the API calls goes anywhere else.
    """

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        tag_id: str,
        faults: Sequence[FaultRate],
        event_id: str = "",
        event_secret: str = "",
    ) -> None:
        self.url = base_url.rstrip("/")
        self.api_key = api_key
        self.tag_id = tag_id
        self._event_id = event_id
        self._event_secret = event_secret
        self.cpu_seconds: float | None = None
        self._faults = tuple(faults)
        self._session: aiohttp.ClientSession | None = None
        self.is_emulator = is_loopback_host(urlsplit(self.url).hostname or "")
        if not self.is_emulator:
            self.ledger_problem = (
                "not checked: the host is not loopback, and the bench reads a"
                " ledger only from an emulator on this machine"
            )

    def __repr__(self) -> str:
        return f"<RemoteTarget {self.url}>"

    @property
    def secret_values(self) -> list[str]:
        """Every secret it was given: output must never show one."""
        return [self.api_key, self._event_secret]

    def event_login(self, mode: str) -> tuple[str, str]:
        """The event credentials it was given (the options chose the mode)."""
        return self._event_id, self._event_secret

    async def __aenter__(self) -> Self:
        """Check the target takes connections; open the admin session on loopback.

        Raises:
            BenchSetupError: no TCP connection to the target's host and port.
        """
        await probe(self.url)
        if self.is_emulator:
            self._session = aiohttp.ClientSession(timeout=_ADMIN_TIMEOUT)
        return self

    async def _set_rates(self, rates: Iterable[FaultRate]) -> None:
        if self._session is None:
            return
        for fault in rates:
            body = {
                "action": "set_rate",
                "endpoint": fault.endpoint,
                "kind": fault.kind,
                "rate": fault.rate,
                "params": dict(fault.params),
            }
            url = f"{self.url}/_emulator/faults"
            async with self._session.post(url, json=body) as response:
                if response.status != 200:
                    text = (await response.text())[:500]
                    raise BenchSetupError(f"the emulator refused a fault: {text}")

    async def apply_faults(self) -> None:
        """Set the run's fault rates on the emulator.

        Raises:
            BenchSetupError: the emulator refused one, or could not be asked.
        """
        try:
            await self._set_rates(self._faults)
        except _ADMIN_ERRORS as exc:
            raise BenchSetupError(
                f"the faults could not be set (POST /_emulator/faults: {_why(exc)})"
            ) from None

    async def clear_faults(self) -> None:
        """Set the run's fault rates back to 0 (best effort: the run is over)."""
        with contextlib.suppress(BenchSetupError, *_ADMIN_ERRORS):
            await self._set_rates(
                FaultRate(f.endpoint, f.kind, 0.0, f.params) for f in self._faults
            )
