"""Header values the client makes or checks: the masked key and the session id.

Written for the mutants ``make mutate`` left alive in ``_headers.py`` (issue #11).
"""

from __future__ import annotations

import pytest

from rokt_async import RequestValidationError
from rokt_async._headers import Secret
from tests.conftest import A_PLACEMENTS, make_client


def test_secret_shows_only_stars_in_its_repr() -> None:
    """A secret's repr is ``'***'`` whatever it holds; its value is unchanged."""
    secret = Secret("rk-live-123")
    assert repr(secret) == "'***'"
    assert secret == "rk-live-123"


async def test_session_id_with_a_control_character_is_refused_naming_it() -> None:
    """A per-call session id holding CR/LF is refused before sending, by name."""
    async with make_client() as client:
        with pytest.raises(RequestValidationError) as caught:
            await client.any_placements(A_PLACEMENTS, session_id="s\r\nX: 1")
    assert str(caught.value) == "session_id contains a control or non-ASCII character"
