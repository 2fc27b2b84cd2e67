"""The shared msgspec Encoder and one typed Decoder per response, built once.

``strict=False`` lets responses carry numeric strings where the schema says number
(one of Rokt's published samples sends ``"quantity": "15"``).
"""

from __future__ import annotations

from typing import Final, TypeVar

import msgspec

from ._errors import ResponseDecodeError, clip
from ._event_models import EventsAnswer, EventsErrorBody, TokenAnswer
from ._models import (
    ConfirmResponse,
    ErrorBody,
    ErrorDetail,
    PlacementsResponse,
    ReleaseResponse,
    ReserveResponse,
)

T = TypeVar("T")


ENCODER: Final = msgspec.json.Encoder()
RESERVE: Final = msgspec.json.Decoder(ReserveResponse, strict=False)
CONFIRM: Final = msgspec.json.Decoder(ConfirmResponse, strict=False)
RELEASE: Final = msgspec.json.Decoder(ReleaseResponse, strict=False)
PLACEMENTS: Final = msgspec.json.Decoder(PlacementsResponse, strict=False)
EVENTS: Final = msgspec.json.Decoder(EventsAnswer, strict=False)
TOKEN: Final = msgspec.json.Decoder(TokenAnswer, strict=False)
_ERROR_BODY: Final = msgspec.json.Decoder(ErrorBody, strict=False)
_EVENTS_ERROR_BODY: Final = msgspec.json.Decoder(EventsErrorBody, strict=False)


def decode_ok(data: bytes, decoder: msgspec.json.Decoder[T], status: int) -> T:
    """Decode a 2xx body, or raise ``ResponseDecodeError`` saying what was wrong."""
    if not data:
        raise ResponseDecodeError(f"HTTP {status} with an empty body", status=status)
    try:
        return decoder.decode(data)
    except msgspec.ValidationError as exc:  # JSON of the wrong shape
        raise ResponseDecodeError(
            f"HTTP {status} body has the wrong shape: {clip(str(exc))}",
            status=status,
        ) from None
    except UnicodeDecodeError:  # a string field that is not UTF-8
        raise ResponseDecodeError(
            f"HTTP {status} body is not valid UTF-8 ({len(data)} bytes)", status=status
        ) from None
    except (ValueError, RecursionError) as exc:  # msgspec.DecodeError: not JSON
        what = "nested too deeply" if isinstance(exc, RecursionError) else "not JSON"
        raise ResponseDecodeError(
            f"HTTP {status} body is {what} ({len(data)} bytes)", status=status
        ) from None


def decode_answer(
    status: int,
    body: bytes | None,
    decoder: msgspec.json.Decoder[T] | None,
    max_bytes: int,
    empty: T | None = None,
) -> T:
    """The typed answer of a 2xx; None where no body is documented (``decoder``
    None, and then ``T`` is None); ``empty`` for an empty body when given.

    ``body`` is None when it was larger than ``max_bytes``.
    """
    if decoder is None:
        return None  # type: ignore[return-value]  # T is None for such endpoints
    if empty is not None and body == b"":
        return empty
    if body is None:
        raise ResponseDecodeError(
            f"HTTP {status} body is larger than {max_bytes} bytes", status=status
        )
    return decode_ok(body, decoder, status)


def parse_error_body(data: bytes) -> ErrorBody | None:
    """Rokt's error JSON, or None for proxy HTML, empty or malformed bodies."""
    if not data:
        return None
    try:
        body = _ERROR_BODY.decode(data)
    # msgspec's DecodeError and ValidationError, and UnicodeDecodeError for a
    # string that is not UTF-8, are all ValueErrors: the status still classifies.
    except (ValueError, RecursionError):
        return None
    if body.description or body.errors:
        return body
    return _events_error_body(data) or body


def _events_error_body(data: bytes) -> ErrorBody | None:
    """The Event API's ``{"data": {"code", "message"}}`` as an ``ErrorBody``:
    ``description`` is the message, ``errors`` one detail with both."""
    try:
        problem = _EVENTS_ERROR_BODY.decode(data).data
    except (ValueError, RecursionError):
        return None
    if problem is None or not (problem.code or problem.message):
        return None
    detail = ErrorDetail(code=problem.code, message=problem.message)
    return ErrorBody(description=problem.message, errors=(detail,))
