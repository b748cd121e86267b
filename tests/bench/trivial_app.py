"""The framework's ceiling for bench_http.py: a FastAPI app whose one endpoint does no work.

    NORMBANK_TRIVIAL_BYTES=2800 uvicorn tests.bench.trivial_app:app

`POST /v1/trivial` takes the same JSON body as `/v1/judge` (parsed into a typed request model of the same
shape) and returns a prebuilt typed response model shaped like a judge answer (a behaviour, a verdict, a
label distribution, a list of frames with their constraint texts) whose JSON is as large as
`NORMBANK_TRIVIAL_BYTES` (default 2,800: the issue's reference size). FastAPI serialises it through the
response model on every request, exactly as it does for the real routes; nothing else happens.
"""

from __future__ import annotations

import os
from typing import Literal, Optional, Union

from fastapi import FastAPI
from pydantic import BaseModel, Field

Value = Union[str, int, float, list[Union[str, int, float]]]


class Party(BaseModel):
    role: Optional[str] = None
    attributes: dict[str, Value] = Field(default_factory=dict)
    behaviors: list[str] = Field(default_factory=list)


class TrivialRequest(BaseModel):
    setting: str
    behavior: str
    person: Party = Field(default_factory=Party)
    other: Party = Field(default_factory=Party)
    environment: dict[str, Value] = Field(default_factory=dict)


class TrivialSource(BaseModel):
    name: str
    licence: Optional[str] = None
    row: Optional[int] = None


class TrivialFrame(BaseModel):
    id: str
    label: Literal["expected", "normal", "taboo"]
    support: int
    constraints: list[str]
    state: Literal["true", "false", "unknown"]
    matched: list[str]
    failed: list[str]
    unknown: list[str]
    statement: Optional[str] = None
    source: TrivialSource


class TrivialResponse(BaseModel):
    behavior: str
    status: Literal["applies", "conditional", "excluded", "unknown"]
    verdict: Optional[Literal["expected", "normal", "taboo"]] = None
    distribution: dict[Literal["expected", "normal", "taboo"], int]
    confidence: Optional[float] = None
    contested: bool
    frames: list[TrivialFrame]
    statement: str
    setting: str


def payload(size: int) -> TrivialResponse:
    """A judge-shaped answer whose JSON is `size` bytes (exactly, unless size is below the empty shape)."""
    constraint = "[PERSON]'s age bracket is less than 'young adult'"
    out = TrivialResponse(behavior="drink alcohol", status="applies", verdict="normal",
                          distribution={"expected": 0, "normal": 1, "taboo": 0}, confidence=1.0, contested=False,
                          frames=[], statement="", setting="restaurant")
    i = 0
    while len(out.model_dump_json()) < size:
        frame = TrivialFrame(id=f"{i:016x}", label="taboo", support=1, constraints=[constraint],
                             state="unknown", matched=[], failed=[], unknown=[constraint],
                             statement=f"In a restaurant, drinking alcohol is taboo if {constraint}.",
                             source=TrivialSource(name="normbank", licence="CC BY-SA 4.0", row=i + 1))
        out.frames.append(frame)
        if len(out.model_dump_json()) > size:
            out.frames.pop()
            break
        i += 1
    out.statement = "x" * max(0, size - len(out.model_dump_json()))  # pad to the exact size
    return out


app = FastAPI(title="trivial")
PAYLOAD = payload(int(os.environ.get("NORMBANK_TRIVIAL_BYTES", "2800")))


@app.post("/v1/trivial", response_model=TrivialResponse)
async def trivial(request: TrivialRequest) -> TrivialResponse:
    return PAYLOAD
