"""The public surface: one sorted __all__, every name importable, py.typed shipped."""

from __future__ import annotations

import pathlib
import pickle
import traceback
import types

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
    """Every exception the package exports is a RoktError."""
    errors = [
        value
        for value in (getattr(rokt_async, n) for n in rokt_async.__all__)
        if isinstance(value, type)
        and issubclass(value, BaseException)
        and not issubclass(value, Warning)
    ]
    assert len(errors) >= 20
    assert all(issubclass(error, rokt_async.RoktError) for error in errors)
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
