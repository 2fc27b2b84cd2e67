"""The aiohttp responses the emulator builds: JSON bodies and Rokt error bodies."""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from ._wire import error_body

__all__ = ["EMPTY_OBJECT", "JSON", "bad_request", "error", "not_allowed", "ok"]

JSON: Final = "application/json"
EMPTY_OBJECT: Final = b"{}"


def ok(body: bytes) -> web.Response:
    """200 with a JSON body."""
    return web.Response(status=200, body=body, content_type=JSON)


def error(
    status: int, description: str, code: str, message: str, value: Any = None
) -> web.Response:
    """``status`` with Rokt's error body holding one ``(code, message, value)``."""
    body = error_body(description, [(code, message, value)])
    return web.Response(status=status, body=body, content_type=JSON)


def bad_request(code: str, message: str, value: Any = None) -> web.Response:
    """400 with Rokt's error body."""
    return error(400, "Bad Request", code, message, value)


def not_allowed(allowed: str, method: str) -> web.Response:
    """405 with Rokt's error body and an ``Allow`` header."""
    response = error(
        405, "Method Not Allowed", "MethodNotAllowed", f"use {allowed}", method
    )
    response.headers["Allow"] = allowed
    return response
