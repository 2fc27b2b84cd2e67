"""Package plumbing: the version fallback, ``python -m`` guards, ClientOptions."""

from __future__ import annotations

import importlib.util
import inspect
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import rokt_async
from rokt_async import RoktClient
from rokt_async._options import ClientOptions

if TYPE_CHECKING:
    from types import ModuleType

PACKAGE = Path(rokt_async.__file__).resolve().parent


def load_copy(path: Path, name: str) -> ModuleType:
    """Execute the module at ``path`` afresh as ``name`` (not ``__main__``)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_version_is_0_0_0_in_a_source_tree_never_installed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without the distribution's metadata on the path, the version is 0.0.0."""
    monkeypatch.setattr(sys, "path", [str(tmp_path)])  # no dist-info anywhere
    module = load_copy(PACKAGE / "_version.py", "rokt_async._version_uninstalled")
    assert module.__version__ == "0.0.0"


def test_version_is_the_installed_distributions_when_installed() -> None:
    """Installed (here, editable), the version comes from the metadata."""
    from importlib.metadata import version

    assert rokt_async.__version__ == version("rokt-async") != "0.0.0"


@pytest.mark.parametrize("path", ["__main__.py", "emulator/__main__.py"])
def test_importing_a_main_module_runs_no_command(path: str) -> None:
    """Imported rather than run, ``__main__`` defines ``main`` and starts nothing."""
    # Without its guard, the module would call main() with pytest's argv and
    # raise SystemExit here.
    name = "rokt_async." + path.removesuffix(".py").replace("/", ".") + "_imported"
    module = load_copy(PACKAGE / path, name)
    assert callable(module.main)


def test_client_options_lists_every_keyword_of_roktclient() -> None:
    """``from_env(**overrides)`` is typed by ClientOptions: the same keywords,
    with the same annotations, as ``RoktClient(...)`` itself."""
    parameters = inspect.signature(RoktClient).parameters
    assert all(p.kind is p.KEYWORD_ONLY for p in parameters.values())
    assert ClientOptions.__required_keys__ == frozenset()
    assert ClientOptions.__optional_keys__ == frozenset(parameters)
    # Both sides are unevaluated (``from __future__ import annotations``).
    offered = {
        name: getattr(hint, "__forward_arg__", hint)
        for name, hint in ClientOptions.__annotations__.items()
    }
    assert offered == {name: p.annotation for name, p in parameters.items()}
