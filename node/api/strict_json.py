"""JSON request bodies with each member name at most once in every object.

``{"delta": -1, "delta": -100000}`` is ambiguous: a proxy, a log or an audit tool that reads the first
``delta`` disagrees with a parser that keeps the last. Every ``/v1`` route parses its JSON body here and
answers 422 naming the repeated key; the check is a length comparison per object, inside the standard
library's C decoder (node.core.json_text, which the compare stream and CloudEvents use too).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from node.core import json_text


class DuplicateJsonKey(HTTPException):
    """An HTTPException, so that FastAPI's body reading lets it through; node.api.problems renders it
    as the 422 ``invalid_request`` problem naming ``key``."""

    def __init__(self, key: str) -> None:
        super().__init__(status_code=422, detail=f"duplicate key {key!r} in the JSON body")
        self.key = key


def loads_unique(body: bytes | str) -> Any:
    """``json.loads`` refusing a repeated member name, as DuplicateJsonKey (rendered by node.api.problems)."""
    try:
        return json_text.loads_unique(body)
    except json_text.DuplicateKey as exc:
        raise DuplicateJsonKey(exc.key) from None


class StrictJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = loads_unique(await self.body())
        return self._json


class StrictJsonRoute(APIRoute):
    """The route class of every /v1 router: its handler sees a StrictJsonRequest."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict
