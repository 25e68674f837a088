"""A fake OpenAI-compatible chat-completions server (real FastAPI on loopback) for tests.

``chat_app(reply)`` answers ``POST /v1/chat/completions`` with ``reply(messages)`` in the
OpenAI shape. ``app.state.plan`` is a list of statuses to answer first (e.g. ``[503, 503]``:
two failures, then normal replies); ``app.state.always`` (a status) fails every request;
``app.state.calls`` records the request bodies and ``app.state.auth`` the last Authorization.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

Reply = Callable[[list[dict[str, str]]], str]


def chat_app(reply: Reply) -> FastAPI:
    app = FastAPI()
    app.state.plan = []
    app.state.always = None
    app.state.calls = []
    app.state.auth = None

    @app.post("/v1/chat/completions")
    async def complete(request: Request) -> Any:
        body = await request.json()
        app.state.calls.append(body)
        app.state.auth = request.headers.get("authorization")
        if app.state.always is not None:
            return JSONResponse({"error": "down"}, status_code=app.state.always)
        if app.state.plan:
            return JSONResponse({"error": "planned"}, status_code=app.state.plan.pop(0))
        content = reply(body["messages"])
        return {"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}

    return app
