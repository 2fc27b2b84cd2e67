"""A checkout backend on FastAPI: reserve, confirm and release through one RoktClient.

Against the local emulator (``python -m rokt_async.emulator --port 8080``):

    ROKT_API_KEY=test-key ROKT_TAG_ID=test-tag ROKT_BASE_URL=http://127.0.0.1:8080 \
        uvicorn examples.fastapi_checkout:app
"""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError as InvalidBodyError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from rokt_async import (
    APIError,
    ConfirmItem,
    ConfirmRequest,
    OutcomeUnknownError,
    ReleaseItem,
    ReleaseRequest,
    RequestValidationError,
    ReserveItem,
    ReserveRequest,
    RoktClient,
    RoktError,
)

log = logging.getLogger("checkout")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # One client per process, built and opened here, not at import: ROKT_API_KEY,
    # ROKT_TAG_ID and ROKT_BASE_URL are read now, and each lifespan has its own.
    async with RoktClient.from_env() as client:
        app.state.rokt = client
        # Stand-in for a durable queue: (endpoint, wire body, session id) of calls
        # whose outcome is unknown and that are safe to send again. A worker would
        # resend each, e.g. confirm_cart(ConfirmRequest.from_json(body),
        # session_id=sid). This list dies with the process and nothing here
        # drains it: persist it in a real app.
        app.state.to_resend = []
        yield


app = FastAPI(lifespan=lifespan)


def rokt(request: Request) -> RoktClient:
    client: RoktClient = request.app.state.rokt
    return client


Rokt = Annotated[RoktClient, Depends(rokt)]


class Line(BaseModel):
    cart_item_id: str
    quantity: int


class Held(BaseModel):
    cart_item_id: str
    item_reservation_id: str


class Cart(BaseModel):
    cart_id: str
    session_id: str  # the shopper's session, sent to Rokt as rokt-session-id


class ReserveBody(Cart):
    items: list[Line]


class ConfirmBody(Cart):
    order_id: str
    items: list[Held]


class ReleaseBody(Cart):
    items: list[Held]


@app.post("/cart/reserve")
async def reserve(body: ReserveBody, client: Rokt) -> dict[str, Any]:
    items = [ReserveItem(**line.model_dump()) for line in body.items]
    request = ReserveRequest(cart_id=body.cart_id, items=items)
    held = await client.reserve_cart(request, session_id=body.session_id)
    # {"cart_id", "items": [{"cart_item_id", "item_reservation_id", "quantity",
    #  "unit_price", "total_price", "currency", "expiration_date_time_utc"}]}
    return held.to_dict()


@app.post("/cart/confirm")
async def confirm(body: ConfirmBody, client: Rokt) -> dict[str, Any]:
    items = [ConfirmItem(**held.model_dump()) for held in body.items]
    request = ConfirmRequest(cart_id=body.cart_id, order_id=body.order_id, items=items)
    confirmed = await client.confirm_cart(request, session_id=body.session_id)
    return {"is_complete": confirmed.is_complete, **confirmed.to_dict()}


@app.post("/cart/release")
async def release(body: ReleaseBody, client: Rokt) -> dict[str, Any]:
    items = [ReleaseItem(**held.model_dump()) for held in body.items]
    request = ReleaseRequest(cart_id=body.cart_id, items=items)
    released = await client.release_cart(request, session_id=body.session_id)
    return {"is_complete": released.is_complete, **released.to_dict()}


@app.exception_handler(OutcomeUnknownError)  # Rokt may or may not have acted
async def outcome_unknown(request: Request, exc: OutcomeUnknownError) -> JSONResponse:
    if exc.resend_is_safe and exc.request is not None:
        resend = (exc.endpoint, exc.request.to_json(), exc.session_id)
        request.app.state.to_resend.append(resend)
    else:  # a resend could act twice (a reserve would hold stock again)
        log.error("rokt %s: outcome unknown for %s", exc.endpoint, exc.identifiers)
    return JSONResponse({"status": "reconciling", **exc.identifiers}, status_code=202)


@app.exception_handler(InvalidBodyError)  # our own API's body did not parse
async def bad_body(request: Request, exc: InvalidBodyError) -> JSONResponse:
    detail = jsonable_encoder(exc.errors())
    return JSONResponse({"status": "invalid", "detail": detail}, status_code=400)


@app.exception_handler(RequestValidationError)  # a request Rokt would refuse
async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    return JSONResponse({"status": "invalid", "detail": str(exc)}, status_code=400)


@app.exception_handler(RoktError)  # APIError, TransportError, ResponseDecodeError...
async def rokt_failed(request: Request, exc: RoktError) -> JSONResponse:
    if isinstance(exc, APIError) and 400 <= exc.status < 500:  # Rokt refused it
        codes = [error.code for error in exc.body.errors] if exc.body else []
        refused = {"status": "refused", "rokt_status": exc.status, "codes": codes}
        return JSONResponse(refused, status_code=502)
    log.warning("rokt unavailable: %s", exc)  # 5xx or no answer: try again later
    return JSONResponse({"status": "unavailable"}, status_code=503)
