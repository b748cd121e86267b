"""Route modules; `api.app.create_app` includes each module's `router`."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import Response


def json_response(body: Any) -> Response:
    """The service's JSON-ready answer as the response (its shape is the route's documented response
    model; serialised here once, rather than validated again against the model)."""
    return Response(orjson.dumps(body), media_type="application/json")
