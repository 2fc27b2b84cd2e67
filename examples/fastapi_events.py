"""Purchase events from a FastAPI handler through the background event sender.

The handler never waits on Rokt: ``sender.add`` queues the event and returns;
batches go out in the background. Against the local emulator
(``python -m rokt_async.emulator --port 8080``):

    ROKT_EVENT_PUBLIC_KEY=rpub-test ROKT_EVENT_SECRET_KEY=rsec-test \
    ROKT_ACCOUNT_ID=12345 ROKT_BASE_URL=http://127.0.0.1:8080 \
        uvicorn examples.fastapi_events:app
"""

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel

from rokt_async import (
    Event,
    EventQueueFullError,
    EventSender,
    RequestValidationError,
    RoktClient,
)

log = logging.getLogger("purchases")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # ROKT_EVENT_PUBLIC_KEY/ROKT_EVENT_SECRET_KEY (or ROKT_EVENT_APP_ID/
    # ROKT_EVENT_APP_SECRET) alone make an events-only client.
    async with (
        RoktClient.from_env() as rokt,
        rokt.event_sender(account_id=os.environ["ROKT_ACCOUNT_ID"]) as sender,
    ):
        app.state.events = sender
        yield
    # Leaving the block flushed the queue (within close_timeout); whatever Rokt
    # did not take is on sender.undelivered: persist it in a real app.
    if sender.undelivered:
        log.error("%d purchase events undelivered", len(sender.undelivered))


app = FastAPI(lifespan=lifespan)


def events(request: Request) -> EventSender:
    sender: EventSender = request.app.state.events
    return sender


Events = Annotated[EventSender, Depends(events)]


class Purchase(BaseModel):
    order_id: str
    email: str


@app.post("/purchases", status_code=202)
async def purchased(body: Purchase, sender: Events) -> dict[str, str]:
    try:
        event = Event(
            client_event_id=body.order_id,  # Rokt drops a repeat of the same id
            event_type="conversion",
            event_time=datetime.now(UTC),
            object_data={
                "email": body.email,
                "transactionid": body.order_id,
                "conversiontype": "purchase",
            },
        )
        sender.add(event)  # synchronous: queues, never waits on Rokt
    except RequestValidationError as exc:  # a rule Rokt documents, broken
        raise HTTPException(400, str(exc)) from None
    except EventQueueFullError:
        raise HTTPException(503, "event queue full; retry later") from None
    return {"queued": body.order_id}


@app.get("/events/stats")
async def stats(sender: Events) -> dict[str, int]:
    counts = sender.stats
    return {
        "added": counts.added,
        "queued": counts.queued,
        "delivered": counts.delivered,
        "unprocessed": counts.unprocessed,
        "undelivered": counts.undelivered,
    }
