"""The public surface: one sorted __all__, every name importable, py.typed shipped."""

from __future__ import annotations

import importlib
import pathlib
import pickle
import traceback
import types

import pytest

import rokt_async


def test_all_lists_every_public_name_once_in_order() -> None:
    """`__all__` is exactly the sorted set of public, non-module names."""
    public = {
        name
        for name, value in vars(rokt_async).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    } | {"__version__"}
    assert rokt_async.__all__ == sorted(public, key=_order)
    assert len(set(rokt_async.__all__)) == len(rokt_async.__all__)


def _order(name: str) -> tuple[int, str]:
    # constants first (as ruff's RUF022 sorts them), then classes, then dunders
    if name.startswith("__"):
        return (2, name)
    return (0 if name.isupper() else 1, name)


def test_every_exported_error_derives_from_rokt_error() -> None:
    """The exceptions the package exports are exactly the RoktError tree the
    library defines: each is a RoktError, and none of the tree is left out."""
    errors = [
        value
        for value in (getattr(rokt_async, n) for n in rokt_async.__all__)
        if isinstance(value, type)
        and issubclass(value, BaseException)
        and not issubclass(value, Warning)
    ]
    tree = {rokt_async.RoktError}
    todo = [rokt_async.RoktError]
    while todo:  # every subclass the library itself defines (not tests, the bench)
        for sub in todo.pop().__subclasses__():
            home = sub.__module__
            if home == "rokt_async" or home.startswith("rokt_async._"):
                tree.add(sub)
            todo.append(sub)
    assert len(errors) == len(set(errors))
    assert set(errors) == tree
    assert all(error.__name__.endswith("Error") for error in errors)


def test_package_ships_py_typed() -> None:
    """The py.typed marker is inside the package."""
    assert (pathlib.Path(rokt_async.__file__).parent / "py.typed").is_file()


def test_public_classes_show_the_package_not_private_modules() -> None:
    """Every exported class (errors, models, config) says it lives in rokt_async,
    so a traceback names ``rokt_async.UnprocessableEntityError``."""
    classes = [
        value
        for value in (getattr(rokt_async, n) for n in rokt_async.__all__)
        if isinstance(value, type)
    ]
    assert [c for c in classes if c.__module__ != "rokt_async"] == []
    error = rokt_async.UnprocessableEntityError(422, None)
    shown = "".join(traceback.format_exception_only(error))
    assert shown.startswith("rokt_async.UnprocessableEntityError: ")
    request = rokt_async.CancelRequest(item_reservation_id="r")
    assert pickle.loads(pickle.dumps(request)) == request  # noqa: S301 - our own bytes


def test_relabelled_models_still_decode_their_annotations() -> None:
    """Moving a model's __module__ leaves msgspec able to resolve its fields."""
    confirm = rokt_async.ConfirmRequest.from_json(
        b'{"cartId":"c","orderId":"o","items":[{"cartItemId":"i","quantity":1}]}'
    )
    assert confirm.items == (rokt_async.ConfirmItem(cart_item_id="i", quantity=1),)


def _defined_in(module: types.ModuleType) -> set[str]:
    """Public names ``module`` defines itself or re-exports from its package's
    private modules (not stdlib or third-party imports, not pytest hooks)."""
    package = module.__name__.split(".")[0]
    found = set()
    for name, value in vars(module).items():
        if name.startswith(("_", "pytest_")):
            continue
        if isinstance(value, types.ModuleType) or name == "annotations":
            continue
        home = getattr(value, "__module__", None)
        if home is None and name.isupper():  # a constant: kept where it is public
            home = module.__name__ if name in getattr(module, "__all__", ()) else None
        if isinstance(home, str) and home.split(".")[0] == package:
            found.add(name)
    return found


@pytest.mark.parametrize(
    "name", ["rokt_async", "rokt_async.emulator", "rokt_async.testing"]
)
def test_every_public_module_pins_its_all(name: str) -> None:
    """Each module users import by path has a sorted ``__all__`` naming exactly
    what it offers, and every name in it resolves."""
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported == sorted(exported, key=_order)
    assert all(hasattr(module, n) for n in exported)
    offered = _defined_in(module) - {"TYPE_CHECKING"}
    if name == "rokt_async.testing":  # helpers it imports for its own fixtures
        offered = {n for n in offered if getattr(module, n).__module__ == name}
    assert set(exported) - {"__version__"} == offered
