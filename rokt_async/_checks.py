"""Checks a request Struct runs on itself when built: types, empty ids, items.

msgspec checks types only when decoding; a Struct built in Python takes whatever it
is given. These checks make a wrong type or an empty id a ``RequestValidationError``
at construction, naming the field, instead of a bare ``TypeError`` at send time.
Messages name types, never values (a value may be customer data).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from ._errors import RequestValidationError


def text(owner: str, field: str, value: object, *, optional: bool = False) -> None:
    """A non-empty str (or UNSET when ``optional``)."""
    if optional and value is msgspec.UNSET:
        return
    if not isinstance(value, str):
        raise RequestValidationError(
            f"{owner}.{field} must be a str, not {type(value).__name__}"
        )
    if not value:
        raise RequestValidationError(f"{owner}.{field} must not be empty")


def count(owner: str, field: str, value: object, *, optional: bool = False) -> None:
    """An int of at least 1 (bool refused), or UNSET when ``optional``."""
    if optional and value is msgspec.UNSET:
        return
    if not isinstance(value, int) or isinstance(value, bool):
        raise RequestValidationError(
            f"{owner}.{field} must be an int, not {type(value).__name__}"
        )
    if value < 1:
        raise RequestValidationError(f"{owner}.{field} must be at least 1")


def flag(owner: str, field: str, value: object) -> None:
    """A bool, or UNSET."""
    if value is not msgspec.UNSET and not isinstance(value, bool):
        raise RequestValidationError(
            f"{owner}.{field} must be a bool, not {type(value).__name__}"
        )


def attributes(owner: str, value: object) -> None:
    """A mapping of str to str, or UNSET."""
    if value is msgspec.UNSET:
        return
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise RequestValidationError(f"{owner}.attributes must map str to str")


def items(owner: str, value: object, kind: type[Any]) -> tuple[Any, ...]:
    """At least one ``kind`` from any sequence (a generator is refused: it would
    be consumed), returned as the tuple the frozen Struct stores."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise RequestValidationError(
            f"{owner}.items must be a sequence of {kind.__name__},"
            f" not {type(value).__name__}"
        )
    for index, item in enumerate(value):
        if not isinstance(item, kind):
            raise RequestValidationError(
                f"{owner}.items[{index}] must be a {kind.__name__},"
                f" not {type(item).__name__}"
            )
    if not value:
        raise RequestValidationError(f"{owner}.items must hold at least one item")
    return tuple(value)
