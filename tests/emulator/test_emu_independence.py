"""The emulator shares no code with the client: it imports nothing from
``rokt_async`` outside ``rokt_async.emulator``, so a wire mistake in the client
is caught by the emulator instead of mirrored by it."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Final

import pytest

import rokt_async.emulator

PACKAGE: Final = "rokt_async.emulator"
ROOT: Final = Path(rokt_async.emulator.__file__).resolve().parent


def imported_modules(source: str, package: str) -> list[str]:
    """Every module ``source`` imports, relative imports resolved from ``package``.

    ``from X import name`` counts as importing ``X.name`` too, since ``name`` may be
    a module (``from .. import _models``).
    """
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            found.append(base)
            found.extend(f"{base}.{alias.name}" for alias in node.names)
    return found


def foreign(modules: list[str]) -> list[str]:
    """The modules of ``rokt_async`` outside the emulator, in order."""
    return [
        name
        for name in modules
        if (name == "rokt_async" or name.startswith("rokt_async."))
        and name != PACKAGE
        and not name.startswith(PACKAGE + ".")
    ]


def package_of(path: Path) -> str:
    """The dotted package a file under ``ROOT`` belongs to."""
    parts = path.relative_to(ROOT).parent.parts
    return ".".join((PACKAGE, *parts))


SOURCES: Final = sorted(ROOT.rglob("*.py"))


def test_emulator_has_sources_to_check() -> None:
    """The walk finds the emulator's modules (an empty walk would prove nothing)."""
    names = {path.name for path in SOURCES}
    assert {"_app.py", "_schema.py", "_state.py", "_wire.py"} <= names


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: path.name)
def test_emulator_module_imports_nothing_from_the_client(path: Path) -> None:
    """No emulator module imports ``rokt_async`` outside ``rokt_async.emulator``."""
    modules = imported_modules(path.read_text(encoding="utf-8"), package_of(path))
    assert foreign(modules) == []


@pytest.mark.parametrize(
    "source",
    [
        "from .. import _models",
        "from .._models import ConfirmRequest",
        "from .._codec import ENCODER",
        "import rokt_async",
        "import rokt_async._models as models",
        "from rokt_async import RoktClient",
        "from rokt_async._models import ConfirmedItem",
        "if True:\n    from .._checks import text",
        "def f():\n    from .. import _codec",
    ],
)
def test_walk_flags_import_when_it_reaches_the_client(source: str) -> None:
    """Absolute, relative and nested imports of the client are all caught."""
    assert foreign(imported_modules(source, PACKAGE)) != []


@pytest.mark.parametrize(
    "source",
    [
        "from . import _wire",
        "from ._schema import ConfirmRequest",
        "from rokt_async.emulator import Emulator",
        "from rokt_async.emulator._state import State",
        "import msgspec",
        "from aiohttp import web",
    ],
)
def test_walk_allows_import_when_it_stays_in_the_emulator(source: str) -> None:
    """Imports inside the emulator and of third-party packages pass."""
    assert foreign(imported_modules(source, PACKAGE)) == []
