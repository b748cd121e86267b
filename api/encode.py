"""JSON bytes for the hot routes (/v1/judge, /v1/query), written straight from their response models.

FastAPI validates a returned model against the route's `response_model` and serialises it with pydantic.
The reasoning routes build their models from the reasoner's output without validation
(`api.service._built`), so both steps are pure overhead there: the routes return these bytes instead,
and keep `response_model` for the OpenAPI document. The bytes are exactly what pydantic would write for
the model (same keys, same order, same numbers; `tests/api/test_encode.py` checks it on every reasoning
case), because every model in these responses is a plain one: no aliases, computed fields or custom
serialisers, so a model is its `__dict__`.

orjson (when installed) writes them about four times faster than pydantic's serialiser from a model;
without it, pydantic's own serialiser writes the same bytes. /v1/judge writes an answer's part (most of
its bytes) once per answer, kept with the answer like its RESULT model, and per request only the fields
after it (`extended`).
"""

from __future__ import annotations

import pydantic_core
from fastapi.responses import Response
from pydantic import BaseModel

try:
    import orjson
except ImportError:  # pragma: no cover - exercised where orjson is absent
    orjson = None


def _fields(obj):
    if isinstance(obj, BaseModel):
        return obj.__dict__
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def dumps(model: BaseModel) -> bytes:
    if orjson is not None:
        return orjson.dumps(model, default=_fields)
    return model.__pydantic_serializer__.to_json(model)


def extended(obj: bytes, fields: dict) -> bytes:
    """The JSON object `obj` (bytes `dumps` wrote) with `fields` after its own keys: the bytes `dumps`
    writes for a model holding `obj`'s fields, then these. The reasoning routes write an answer's result
    once (`api.service.result_json`) and add each request's own fields to it."""
    if orjson is not None:
        tail = orjson.dumps(fields, default=_fields)
    else:
        tail = pydantic_core.to_json(fields)
    if obj == b"{}":
        return tail
    return obj[:-1] + b"," + tail[1:] if fields else obj


def json_response(model: BaseModel | bytes) -> Response:
    return Response(model if isinstance(model, bytes) else dumps(model), media_type="application/json")
