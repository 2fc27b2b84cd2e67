"""examples/fastapi_checkout.py served by uvicorn on 127.0.0.1 and driven over HTTP.

The app's lifespan builds its RoktClient from ``ROKT_*``, pointed here at the
plugin's emulator (a real one on 127.0.0.1, reset before each test).
"""

from __future__ import annotations

import contextlib
import datetime
import difflib
import importlib.util
import socket
import threading
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import uvicorn

from examples import fastapi_checkout
from rokt_async import ConfigurationError, ConfirmRequest

with warnings.catch_warnings():
    # Starlette 1.10 asks for httpx2 behind its TestClient; requirements-dev.txt
    # pins httpx 0.28, which still works. Only this one warning is silenced.
    warnings.filterwarnings(
        "ignore", "Using `httpx` with `starlette.testclient` is deprecated"
    )
    from fastapi.testclient import TestClient

if TYPE_CHECKING:
    from collections.abc import Iterator

    from rokt_async.emulator import Emulator

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "fastapi_checkout.py"
#: The README line that says the fenced block after it is this file, verbatim.
INCLUDE = "<!-- include: examples/fastapi_checkout.py -->"
ENV_VARS = ("ROKT_API_KEY", "ROKT_TAG_ID", "ROKT_BASE_URL")
STARTUP_LIMIT = 10.0  # seconds uvicorn may take to bind and run the lifespan


@pytest.fixture
def emulator(rokt_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """The reset emulator, with ``ROKT_*`` pointing at it for ``from_env()``."""
    monkeypatch.setenv("ROKT_API_KEY", rokt_emulator.api_key)
    monkeypatch.setenv("ROKT_TAG_ID", rokt_emulator.tag_id)
    monkeypatch.setenv("ROKT_BASE_URL", rokt_emulator.url)
    return rokt_emulator


@pytest.fixture
def checkout(emulator: Emulator) -> Iterator[httpx.Client]:
    """The example app under real uvicorn in a thread, and an HTTP client for it."""
    with served(fastapi_checkout.app) as http:
        yield http


@contextlib.contextmanager
def served(app: Any) -> Iterator[httpx.Client]:
    """``app`` under real uvicorn on 127.0.0.1 in a thread, lifespan on, and an
    HTTP client for it; the server is stopped (and must stop) on exit."""
    config = uvicorn.Config(
        app,
        lifespan="on",
        log_config=None,  # leave the test run's logging configuration alone
        access_log=False,
        ws="none",
    )
    server = uvicorn.Server(config)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="uvicorn", daemon=True
        )
        thread.start()
        try:
            wait_started(server, thread)
            base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
            with httpx.Client(base_url=base_url, timeout=10.0) as http:
                yield http
        finally:
            server.should_exit = True
            thread.join(STARTUP_LIMIT)
    assert not thread.is_alive(), "uvicorn did not shut down"


def wait_started(server: uvicorn.Server, thread: threading.Thread) -> None:
    deadline = time.monotonic() + STARTUP_LIMIT
    while not server.started:
        if not thread.is_alive():
            pytest.fail("uvicorn exited during startup (see the captured log)")
        if time.monotonic() > deadline:
            pytest.fail(f"uvicorn did not start within {STARTUP_LIMIT} s")
        time.sleep(0.01)


def _reserve_body(cart_id: str, quantity: int = 2) -> dict[str, Any]:
    return {
        "cart_id": cart_id,
        "session_id": "shopper-1",
        "items": [{"cart_item_id": "parking", "quantity": quantity}],
    }


def _reserve(http: httpx.Client, cart_id: str) -> dict[str, Any]:
    answer = http.post("/cart/reserve", json=_reserve_body(cart_id))
    assert answer.status_code == 200, answer.text
    held: dict[str, Any] = answer.json()
    return held


def _held(reserved: dict[str, Any]) -> list[dict[str, str]]:
    return [
        {
            "cart_item_id": item["cart_item_id"],
            "item_reservation_id": item["item_reservation_id"],
        }
        for item in reserved["items"]
    ]


def _confirm_body(reserved: dict[str, Any], order_id: str) -> dict[str, Any]:
    return {
        "cart_id": reserved["cart_id"],
        "order_id": order_id,
        "session_id": "shopper-1",
        "items": _held(reserved),
    }


def test_reserve_answers_reservation_ids_prices_and_expiry_when_stock_is_held(
    checkout: httpx.Client, emulator: Emulator
) -> None:
    """A reserve answers snake_case reservation ids, quantities, prices and expiry."""
    reserved = _reserve(checkout, "cart-1")

    assert reserved["cart_id"] == "cart-1"
    [item] = reserved["items"]
    assert item["cart_item_id"] == "parking"
    assert item["quantity"] == 2
    assert (item["unit_price"], item["total_price"], item["currency"]) == (
        10.0,
        20.0,
        "USD",
    )
    assert emulator.reservation_status(item["item_reservation_id"]) == "held"
    expires = datetime.datetime.fromisoformat(item["expiration_date_time_utc"])
    assert expires.timestamp() == pytest.approx(emulator.now() + 600, abs=5)
    [sent] = emulator.requests("reserve")
    assert sent.headers["rokt-session-id"] == "shopper-1"


def test_confirm_buys_each_reservation_once_when_rokt_answers(
    checkout: httpx.Client, emulator: Emulator
) -> None:
    """Reserve then confirm answers 200 complete and the emulator confirms once."""
    reserved = _reserve(checkout, "cart-1")

    answer = checkout.post("/cart/confirm", json=_confirm_body(reserved, "order-1"))

    assert answer.status_code == 200, answer.text
    confirmed = answer.json()
    assert confirmed["is_complete"] is True
    assert [item["success"] for item in confirmed["items"]] == [True]
    ledger = emulator.ledger()
    assert ledger.count("confirm") == 1
    assert ledger.confirmations("cart-1", "parking") == 1
    [sent] = emulator.requests("confirm")
    assert sent.headers["rokt-session-id"] == "shopper-1"


def test_release_gives_stock_back_when_cart_is_abandoned(
    checkout: httpx.Client, emulator: Emulator
) -> None:
    """Reserve then release answers 200 complete and the hold goes back on sale."""
    reserved = _reserve(checkout, "cart-1")
    body = {"cart_id": "cart-1", "session_id": "shopper-1", "items": _held(reserved)}

    answer = checkout.post("/cart/release", json=body)

    assert answer.status_code == 200, answer.text
    assert answer.json()["is_complete"] is True
    [held] = _held(reserved)
    assert emulator.reservation_status(held["item_reservation_id"]) == "released"
    ledger = emulator.ledger()
    assert (ledger.count("release"), ledger.count("confirm")) == (1, 0)


def test_confirm_answers_200_once_bought_when_first_reply_is_lost(
    checkout: httpx.Client, emulator: Emulator
) -> None:
    """A 504 after Rokt acted is retried: 200 complete, and bought exactly once."""
    reserved = _reserve(checkout, "cart-1")
    emulator.faults.fail_next("confirm", "504_after")

    answer = checkout.post("/cart/confirm", json=_confirm_body(reserved, "order-1"))

    assert answer.status_code == 200, answer.text
    assert answer.json()["is_complete"] is True
    assert len(emulator.requests("confirm")) == 2
    ledger = emulator.ledger()
    assert ledger.confirmations("cart-1", "parking") == 1
    assert ledger.duplicates == ()


def test_confirm_answers_202_reconciling_when_outcome_is_unknown(
    checkout: httpx.Client, emulator: Emulator
) -> None:
    """Every attempt ending in 504 answers 202 with the identifiers, kept to resend."""
    reserved = _reserve(checkout, "cart-1")
    [held] = _held(reserved)
    emulator.faults.set_rate("confirm", "504_before", 1.0)

    answer = checkout.post("/cart/confirm", json=_confirm_body(reserved, "order-1"))

    assert answer.status_code == 202, answer.text
    assert answer.json() == {
        "status": "reconciling",
        "cart_id": "cart-1",
        "order_id": "order-1",
        "cart_item_ids": "parking",
        "item_reservation_ids": held["item_reservation_id"],
    }
    assert emulator.ledger().count("confirm") == 0
    [(endpoint, body, session_id)] = fastapi_checkout.app.state.to_resend
    resend = ConfirmRequest.from_json(body)
    assert endpoint == "confirm"
    sent = {r.headers["rokt-session-id"] for r in emulator.requests("confirm")}
    assert sent == {session_id}  # every attempt, and the resend, in one session
    assert (resend.cart_id, resend.order_id) == ("cart-1", "order-1")


def test_confirm_answers_502_with_rokt_code_when_cart_is_unknown(
    checkout: httpx.Client, emulator: Emulator
) -> None:
    """Rokt's 422 for a cart it never saw answers 502 carrying ``UnknownCart``."""
    body = {
        "cart_id": "never-reserved",
        "order_id": "order-1",
        "session_id": "shopper-1",
        "items": [{"cart_item_id": "parking", "item_reservation_id": "res-x"}],
    }

    answer = checkout.post("/cart/confirm", json=body)

    assert answer.status_code == 502, answer.text
    assert answer.json() == {
        "status": "refused",
        "rokt_status": 422,
        "codes": ["UnknownCart"],
    }
    assert emulator.ledger().count("confirm") == 0


def test_reserve_answers_503_when_rokt_fails(
    checkout: httpx.Client, emulator: Emulator
) -> None:
    """A 500 from Rokt (not retried) answers 503 unavailable."""
    emulator.faults.fail_next("reserve", "500")

    answer = checkout.post("/cart/reserve", json=_reserve_body("cart-1"))

    assert answer.status_code == 503, answer.text
    assert answer.json() == {"status": "unavailable"}


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"cart_id": "cart-1", "session_id": "s"}, id="no-items-field"),
        pytest.param(_reserve_body("cart-1", quantity=0), id="rokt-refuses-quantity-0"),
        pytest.param(
            {**_reserve_body("cart-1"), "session_id": "bad\nid"}, id="session-id-lf"
        ),
    ],
)
def test_reserve_answers_400_without_calling_rokt_when_body_is_invalid(
    checkout: httpx.Client, emulator: Emulator, body: dict[str, Any]
) -> None:
    """A body FastAPI or rokt_async refuses answers 400 and nothing reaches Rokt."""
    answer = checkout.post("/cart/reserve", json=body)

    assert answer.status_code == 400, answer.text
    assert answer.json()["status"] == "invalid"
    assert emulator.requests("reserve") == []


def test_each_lifespan_serves_when_two_test_clients_run_in_a_row(
    emulator: Emulator,
) -> None:
    """Two TestClient lifespans in a row each open their own client and reserve."""
    for n in (1, 2):
        with TestClient(fastapi_checkout.app) as client:
            answer = client.post("/cart/reserve", json=_reserve_body(f"cart-{n}"))
            assert answer.status_code == 200, answer.text
    assert len(emulator.requests("reserve")) == 2


def test_import_succeeds_when_rokt_environment_is_unset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Importing the example reads no ROKT_* variable; starting its lifespan does."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    spec = importlib.util.spec_from_file_location("fresh_checkout", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)

    spec.loader.exec_module(module)  # a second, independent copy of the module

    with (
        pytest.raises(ConfigurationError, match="ROKT_API_KEY is not set"),
        TestClient(module.app),
    ):
        pass


def test_readme_quickstart_is_the_example_verbatim_when_included() -> None:
    """README.md's block marked as examples/fastapi_checkout.py is that file exactly."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    expected = EXAMPLE.read_text(encoding="utf-8")

    block = included_block(readme)

    if block != expected:
        diff = difflib.unified_diff(
            block.splitlines(keepends=True),
            expected.splitlines(keepends=True),
            "README.md",
            "examples/fastapi_checkout.py",
        )
        pytest.fail(
            "README.md's quickstart differs from examples/fastapi_checkout.py:"
            f" paste the file verbatim into the ```python block under {INCLUDE}\n"
            + "".join(diff),
            pytrace=False,
        )


def included_block(readme: str, include: str = INCLUDE) -> str:
    """The text of the ```python block right after the include line."""
    lines = readme.splitlines(keepends=True)
    starts = [n for n, line in enumerate(lines) if line.strip() == include]
    if len(starts) != 1:
        pytest.fail(
            f"README.md must have exactly one line {include} (found {len(starts)}),"
            " followed by a ```python block holding that file: paste it there",
            pytrace=False,
        )
    rest = iter(lines[starts[0] + 1 :])
    fence = next((line for line in rest if line.strip()), "")
    if fence.rstrip("\r\n") != "```python":
        pytest.fail(
            f"the line after {include} in README.md must open a ```python block"
            " holding that file: paste it there",
            pytrace=False,
        )
    body: list[str] = []
    for line in rest:
        if line.rstrip("\r\n") == "```":
            return "".join(body)
        body.append(line)
    pytest.fail(f"README.md: the ```python block after {include} is never closed")
