"""Error messages and attributes, to the character: clipping, details, classes.

Written for the mutants ``make mutate`` left alive in ``_errors.py`` (issue #11).
"""

from __future__ import annotations

import pytest

from rokt_async import (
    APIError,
    ErrorBody,
    ErrorDetail,
    GatewayTimeoutError,
    OutcomeUnknownError,
    RedirectError,
)
from rokt_async._errors import error_class


def test_description_of_exactly_200_characters_is_quoted_whole() -> None:
    """A description at the 200-character limit is not clipped."""
    description = "d" * 200
    error = APIError(400, ErrorBody(description=description))
    assert str(error) == f"HTTP 400: {description}"


def test_detail_without_message_is_its_code_alone() -> None:
    """An error detail with no message is quoted as its code, without a colon."""
    body = ErrorBody(description="bad", errors=(ErrorDetail(code="InvalidCart"),))
    assert str(APIError(400, body)) == "HTTP 400: bad [InvalidCart]"


@pytest.mark.parametrize(("count", "tail"), [(5, "e4]"), (6, "e4; 1 more]")])
def test_details_past_five_are_counted(count: int, tail: str) -> None:
    """Five details are quoted; a sixth is counted as ``1 more``, never ``0 more``."""
    errors = tuple(ErrorDetail(code=f"e{i}") for i in range(count))
    assert str(APIError(400, ErrorBody(description="bad", errors=errors))).endswith(
        tail
    )


def test_api_error_keeps_the_path_it_was_given() -> None:
    """``APIError.path`` is the refused path, also named in the message."""
    error = APIError(409, None, path="/v1/cart/confirm")
    assert error.path == "/v1/cart/confirm"
    assert str(error) == "POST /v1/cart/confirm -> HTTP 409: no Rokt error body"


@pytest.mark.parametrize("status", [300, 399])
def test_3xx_statuses_are_redirect_errors(status: int) -> None:
    """Every 3xx, the first and the last, maps to RedirectError."""
    assert error_class(status) is RedirectError


def test_outcome_unknown_error_keeps_endpoint_and_session_id() -> None:
    """OutcomeUnknownError carries the endpoint and the session id it was given."""
    last = GatewayTimeoutError(504, None)
    error = OutcomeUnknownError(
        "confirm: outcome unknown",
        endpoint="confirm",
        identifiers={"cart_id": "c1"},
        attempts=2,
        last_error=last,
        resend_is_safe=True,
        session_id="shopper-7",
    )
    assert (error.endpoint, error.session_id) == ("confirm", "shopper-7")
