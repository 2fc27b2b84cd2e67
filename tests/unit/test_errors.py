"""The status -> class table and what error objects carry and say."""

from __future__ import annotations

import pytest

from rokt_async import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ErrorBody,
    ErrorDetail,
    GatewayTimeoutError,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    RateLimitError,
    RedirectError,
    RequestTimeoutError,
    RoktError,
    ServerError,
    UnprocessableEntityError,
)
from rokt_async._errors import error_class

STATUS_TABLE = {
    301: RedirectError,
    302: RedirectError,
    307: RedirectError,
    308: RedirectError,
    400: BadRequestError,
    401: AuthenticationError,
    402: APIError,
    403: PermissionDeniedError,
    404: NotFoundError,
    405: APIError,
    409: ConflictError,
    418: APIError,
    422: UnprocessableEntityError,
    429: RateLimitError,
    500: ServerError,
    501: ServerError,
    502: ServerError,
    503: ServerError,
    504: GatewayTimeoutError,
    599: ServerError,
}


@pytest.mark.parametrize(("status", "cls"), sorted(STATUS_TABLE.items()))
def test_status_maps_to_its_class(status: int, cls: type[APIError]) -> None:
    """Each status maps to exactly the class of the documented table."""
    assert error_class(status) is cls


def test_api_error_message_names_rokts_codes_and_messages_not_values() -> None:
    """The message holds status, description, each code and message and the
    request id, but never errors[].value."""
    body = ErrorBody(
        description="Invalid cart",
        errors=(ErrorDetail(code="E1", message="bad", value="jane@example.com"),),
    )
    error = BadRequestError(400, body, "req-1")
    assert str(error) == "HTTP 400: Invalid cart [E1: bad] (request id req-1)"
    assert "jane@example.com" not in str(error)
    assert (error.status, error.body, error.request_id, error.attempts) == (
        400,
        body,
        "req-1",
        1,
    )


def test_api_error_without_body_says_so() -> None:
    """A non-JSON error body still yields its class with body None."""
    error = ServerError(502, None)
    assert str(error) == "HTTP 502: no Rokt error body"
    assert error.body is None


def test_request_timeout_is_a_builtin_timeout_error() -> None:
    """RequestTimeoutError can be caught as TimeoutError without shadowing it."""
    assert issubclass(RequestTimeoutError, TimeoutError)
    assert RequestTimeoutError.__name__ != TimeoutError.__name__


def test_outcome_unknown_error_carries_identifiers_and_last_status() -> None:
    """OutcomeUnknownError keeps identifiers, attempts and the last status."""
    last = GatewayTimeoutError(504, None)
    error = OutcomeUnknownError(
        "confirm: outcome unknown",
        endpoint="confirm",
        identifiers={"cart_id": "c1", "order_id": "o1"},
        attempts=4,
        last_error=last,
        resend_is_safe=True,
    )
    assert isinstance(error, RoktError)
    assert (error.identifiers, error.attempts, error.last_status) == (
        {"cart_id": "c1", "order_id": "o1"},
        4,
        504,
    )


def test_api_error_message_names_the_refused_path_and_a_hint() -> None:
    """A 404 names the method and path and says to check base_url; 401 and 403
    name the setting to check without its value."""
    missing = NotFoundError(404, None, path="/v1/v1/cart/confirm")
    assert str(missing) == (
        "POST /v1/v1/cart/confirm -> HTTP 404: no Rokt error body;"
        " no such endpoint: check base_url (the host's root, without /v1)"
    )
    assert "check api_key" in str(AuthenticationError(401, None))
    assert "check tag_id" in str(PermissionDeniedError(403, None))


def test_api_error_message_quotes_at_most_200_characters_a_piece() -> None:
    """A long description or message is cut, and at most five errors are listed."""
    body = ErrorBody(
        description="d" * 1000,
        errors=tuple(ErrorDetail(code=f"C{n}", message="m" * 1000) for n in range(7)),
    )
    text = str(UnprocessableEntityError(422, body))
    assert "d" * 198 not in text
    assert "d" * 197 + "..." in text
    assert text.count("C") == 5
    assert text.endswith("; 2 more]")
