"""Configuration of the pytest plugin: ini options, markers and the session's env.

``rokt_async.testing`` holds the fixtures and hooks; this module reads what the
partner configured and owns the session's one emulator and the environment it
exports. See ``rokt_async.testing`` for the documented surface.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, Final

import pytest

from .emulator import REPLAY, RESEND_MODES, Emulator

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "EMULATOR_MARKER",
    "ENV_VARS",
    "RESEND_MARKER",
    "PluginState",
    "add_ini_options",
    "caller_site",
    "close_plugin_state",
    "marker_options",
    "plugin_state",
    "register_markers",
]

RESEND_MARKER: Final = "rokt_resend"
EMULATOR_MARKER: Final = "rokt_emulator"
#: What ``RoktClient.from_env()`` reads; set for the session unless opted out.
ENV_VARS: Final = ("ROKT_API_KEY", "ROKT_TAG_ID", "ROKT_BASE_URL")

_INI_RESEND: Final = "rokt_emulator_resend"
_INI_ENV: Final = "rokt_emulator_env"
#: ini option → (Emulator keyword, parser, help). Unset options keep the default.
_INI_SETTINGS: Final[Mapping[str, tuple[str, type[Any], str]]] = {
    "rokt_emulator_api_key": ("api_key", str, "the only API key accepted (test-key)"),
    "rokt_emulator_tag_id": ("tag_id", str, "the only tag id accepted (test-tag)"),
    "rokt_emulator_reservation_ttl": (
        "reservation_ttl",
        float,
        "seconds a reservation lives (600)",
    ),
    "rokt_emulator_default_stock": (
        "default_stock",
        int,
        "stock of every item not in a catalog (1000000)",
    ),
}
#: Emulator keywords a ``rokt_emulator`` marker may set (host, port, clock: no).
_MARKER_OPTIONS: Final = (
    "api_key",
    "catalog",
    "currency",
    "default_stock",
    "default_unit_price",
    "placements_result",
    "reservation_ttl",
    "resend",
    "seed",
    "tag_id",
)
_STATE: Final = pytest.StashKey["PluginState"]()
_HERE: Final = (__file__, os.path.join(os.path.dirname(__file__), "testing.py"))


def add_ini_options(parser: pytest.Parser) -> None:
    """Register the plugin's ini options."""
    parser.addini(
        _INI_RESEND,
        f"rokt_emulator's resend mode, one of {', '.join(RESEND_MODES)}",
        default=REPLAY,
    )
    for name, (_, _, help_text) in _INI_SETTINGS.items():
        parser.addini(name, f"the session's rokt_emulator: {help_text}", default="")
    parser.addini(
        _INI_ENV,
        "set ROKT_API_KEY, ROKT_TAG_ID and ROKT_BASE_URL to the session's"
        " rokt_emulator before collection (default true)",
        type="bool",
        default=True,
    )


def register_markers(config: pytest.Config) -> None:
    """Register ``rokt_resend`` and ``rokt_emulator`` (for ``--strict-markers``)."""
    config.addinivalue_line(
        "markers",
        f"{RESEND_MARKER}(mode): rokt_emulator answers resent confirms by mode, "
        f"one of {', '.join(RESEND_MODES)}, for this test",
    )
    config.addinivalue_line(
        "markers",
        f"{EMULATOR_MARKER}(**options): this test gets its own rokt_emulator, built "
        f"with these Emulator options: {', '.join(_MARKER_OPTIONS)}",
    )


def plugin_state(config: pytest.Config) -> PluginState:
    """The plugin's state for this run, made (and the ini checked) on first use.

    Raises:
        pytest.UsageError: an ini option has an unusable value.
    """
    state = config.stash.get(_STATE, None)
    if state is None:
        state = PluginState(_ini_options(config), bool(config.getini(_INI_ENV)))
        config.stash[_STATE] = state
        config.add_cleanup(state.close)  # also for runs that never configure
    return state


def close_plugin_state(config: pytest.Config) -> None:
    """Restore the environment and stop the session's emulator, if there is one."""
    state = config.stash.get(_STATE, None)
    if state is not None:
        state.close()


def _ini_options(config: pytest.Config) -> dict[str, Any]:
    resend = str(config.getini(_INI_RESEND)).strip()
    if resend not in RESEND_MODES:
        raise pytest.UsageError(
            f"{_INI_RESEND} must be one of {', '.join(RESEND_MODES)}, got {resend!r}"
        )
    options: dict[str, Any] = {"resend": resend}
    for name, (keyword, parse, _) in _INI_SETTINGS.items():
        text = str(config.getini(name)).strip()
        if text:
            try:
                options[keyword] = parse(text)
            except ValueError:
                raise pytest.UsageError(
                    f"{name} must be a {parse.__name__}, got {text!r}"
                ) from None
    try:
        Emulator(**options)  # checks ranges without serving
    except ValueError as exc:
        raise pytest.UsageError(f"rokt_emulator ini options: {exc}") from None
    return options


def marker_options(node: pytest.Item, defaults: Mapping[str, Any]) -> dict[str, Any]:
    """Emulator options from ``rokt_emulator`` markers (closest wins), or {}.

    Raises:
        pytest.UsageError: a marker has positional or unknown arguments.
    """
    options: dict[str, Any] = {}
    for marker in node.iter_markers(EMULATOR_MARKER):
        unknown = sorted(set(marker.kwargs) - set(_MARKER_OPTIONS))
        if marker.args or unknown:
            raise pytest.UsageError(
                f"{EMULATOR_MARKER} takes keyword arguments among"
                f" {', '.join(_MARKER_OPTIONS)}; got {marker.args or unknown}"
            )
        options = {**marker.kwargs, **options}
    return {**defaults, **options} if options else {}


def caller_site() -> str:
    """``file:line`` of the first caller outside the plugin."""
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_code.co_filename in _HERE:
        frame = frame.f_back
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


class PluginState:
    """The session's emulator (started once, when first needed) and exported env."""

    def __init__(self, options: dict[str, Any], export_env: bool) -> None:
        self.options: Final = options
        self.export_env: Final = export_env
        self._emulator: Emulator | None = None
        self._saved_env: dict[str, str | None] | None = None

    def emulator(self) -> Emulator:
        """The session's emulator, serving from its own thread."""
        if self._emulator is None:
            self._emulator = Emulator(**self.options).__enter__()
        return self._emulator

    def set_env(self) -> None:
        """Point ``ROKT_*`` at the session's emulator, if enabled; once per run."""
        if not self.export_env or self._saved_env is not None:
            return
        emulator = self.emulator()
        self._saved_env = {name: os.environ.get(name) for name in ENV_VARS}
        os.environ.update(
            ROKT_API_KEY=emulator.api_key,
            ROKT_TAG_ID=emulator.tag_id,
            ROKT_BASE_URL=emulator.url,
        )

    def close(self) -> None:
        """Put the environment back as it was and stop the emulator. Idempotent."""
        saved, self._saved_env = self._saved_env, None
        for name, value in (saved or {}).items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        emulator, self._emulator = self._emulator, None
        if emulator is not None:
            emulator.close()
