"""Route modules; `api.app.create_app` includes each module's `router`."""

from __future__ import annotations

import weakref
from typing import Any

import orjson
from fastapi.responses import Response

from api.service import result_of
from normbank.reasoning import Judgement


def json_response(body: Any) -> Response:
    """The service's JSON-ready answer as the response (its shape is the route's documented response
    model; serialised here once, rather than validated again against the model)."""
    return Response(orjson.dumps(body), media_type="application/json")


# A result's JSON, made once per answer: the reasoner remembers answers and shares them between contexts
# that decide a behaviour alike, so a full query over a large setting serves mostly results it has
# serialised before. Kept as long as the reasoner keeps the answer.
_RESULT_JSON: weakref.WeakKeyDictionary[Judgement, bytes] = weakref.WeakKeyDictionary()


def result_json(j: Judgement) -> bytes:
    """The serialised RESULT of a judgement (`api.service.result_of`)."""
    data = _RESULT_JSON.get(j)
    if data is None:
        data = _RESULT_JSON[j] = orjson.dumps(result_of(j))
    return data


def result_fragment(j: Judgement) -> orjson.Fragment:
    return orjson.Fragment(result_json(j))


def result_response(j: Judgement, rest: dict[str, Any]) -> Response:
    """A RESULT with more fields (a JudgeResponse): the result's cached JSON object, extended."""
    return Response(result_json(j)[:-1] + b"," + orjson.dumps(rest)[1:], media_type="application/json")
