"""`normbank mcp`: the bank as a Model Context Protocol server, built on the official SDK's `MCPServer`.

It runs in process over the same database and indexes as `normbank serve` and answers through
`api.service`, the functions the HTTP routes call. A tool's arguments are the fields of the HTTP API's
own request model (so the MCP tool and the endpoint take the same thing, with the same limits), its
result carries the endpoint's JSON as structured content plus a short text for the model, and any error
comes back as a tool error whose structured content is the HTTP error envelope (same code, same message).
"""

from __future__ import annotations

import inspect
import json
import logging
from dataclasses import dataclass
from typing import Annotated, Any, Callable, Optional
from urllib.parse import unquote

import anyio.to_thread
from mcp.server.mcpserver import MCPServer, UserMessage
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from mcp_types import INTERNAL_ERROR, INVALID_PARAMS, CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field
from sqlalchemy.engine import Engine

import normbank
from api import service
from api.errors import envelope_of, error_body
from api.models import (
    DimensionOut, GroundRequest, GroundResponse, JudgeRequest, JudgeResponse, Name, QueryRequest, QueryResponse,
    SearchRequest, SearchResponse, SettingDetail, SettingsPublic,
)
from api.retrieval import Retriever
from normbank.config import Settings
from schema.engine import make_engine
from schema.frames import FrameCache

INSTRUCTIONS = """normbank holds situational social norms: in a setting (restaurant, hospital...), a behaviour is
expected, normal or taboo depending on the people's roles, attributes and the environment. Use
ground_situation to find the norms that bear on a free-text situation (it returns a prompt-ready text
citing each norm by id), judge_behavior for one behaviour in a known setting, norms_for_setting for all
of them, search_norms for free-text lookup, list_settings / describe_setting to learn the vocabulary."""

log = logging.getLogger("normbank.mcp")

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
NOT_FOUND_ERROR = -32002  # MCP's code for a resource that does not exist


@dataclass
class Bank:
    """What every tool reads: the database, the compiled frames and the vector indexes."""

    engine: Engine
    cache: FrameCache
    retriever: Retriever

    def read(self, answer: Callable[..., dict], *args: Any, **kwargs: Any) -> dict:
        """`answer(conn, ...)` on a connection of its own."""
        with self.engine.connect() as conn:
            return answer(conn, *args, **kwargs)


class SettingDescription(SettingDetail):
    """A setting with the vocabulary a context may use: its roles, the behaviours the bank judges there and
    the dimensions (attributes and environment facts) with their known values."""

    behavior_names: list[str] = Field(..., description="Behaviours with at least one frame in this setting.")
    dimensions: list[DimensionOut] = Field(..., description="Attributes (person, other) and environment facts.")


class NormbankMCP(MCPServer):
    """MCPServer whose tool failures carry the HTTP API's error envelope."""

    _arguments: dict[str, set[str]] | None = None  # each tool's argument names

    async def call_tool(self, name: str, arguments: dict[str, Any], context=None):
        if self._arguments is None:
            self._arguments = {t.name: set(t.input_schema.get("properties", {})) for t in await self.list_tools()}
        extra = sorted(set(arguments) - self._arguments.get(name, set(arguments)))
        if extra:  # the API's request models refuse unknown fields; so does the tool
            return error_result(error_body("invalid_request", f"{extra[0]}: Extra inputs are not permitted",
                                           [{"loc": [e], "msg": "Extra inputs are not permitted", "type": "extra_forbidden"}
                                            for e in extra]))
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            if exc.__cause__ is None:  # the SDK's own refusal (an unknown tool)
                raise
            return error_result(envelope_of(exc.__cause__, f"MCP tool {name}")[1])


def error_result(body: dict) -> CallToolResult:
    error = body["error"]
    return CallToolResult(content=[TextContent(type="text", text=f"{error['code']}: {error['message']}")],
                          structured_content=body, is_error=True)


def mcp_error(exc: Exception, where: str) -> MCPError:
    """A resource or prompt failure as a protocol error carrying the HTTP envelope as its data."""
    status, body = envelope_of(exc, where)
    code = NOT_FOUND_ERROR if status == 404 else INVALID_PARAMS if status == 422 else INTERNAL_ERROR
    return MCPError(code=code, message=f"{body['error']['code']}: {body['error']['message']}", data=body)


def _signature(model: type[BaseModel], output: type[BaseModel]) -> inspect.Signature:
    """The request model's fields as keyword parameters, with their types, limits and descriptions."""
    params = []
    for name, field in model.model_fields.items():
        annotation = field.rebuild_annotation()
        if field.description:
            annotation = Annotated[annotation, Field(description=field.description)]
        default = inspect.Parameter.empty if field.is_required() else field.get_default(call_default_factory=True)
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation))
    return inspect.Signature(params, return_annotation=Annotated[CallToolResult, output])


def add_model_tool(server: MCPServer, name: str, model: type[BaseModel], output: type[BaseModel],
                   answer: Callable[[BaseModel], dict], render: Callable[[dict], str], description: str) -> None:
    """A tool taking `model`'s fields, answering `answer(request)` (run on a worker thread by the SDK)."""

    def tool(**arguments: Any) -> CallToolResult:
        data = answer(model.model_validate(arguments))
        return CallToolResult(content=[TextContent(type="text", text=render(data))], structured_content=data)

    tool.__name__ = name
    tool.__signature__ = _signature(model, output)  # type: ignore[attr-defined]
    server.add_tool(tool, name=name, description=description, annotations=READ_ONLY)


# -- the text an LLM reads beside the structured content --------------------------------------------
def _verdict(r: dict) -> str:
    confidence = "" if r.get("confidence") is None else f", confidence {r['confidence']:.2f}"
    return f"{r['behavior']}: {r['status']}, {r.get('verdict') or 'no verdict'}{confidence}"


def render_query(data: dict) -> str:
    lines = [f"{data['setting']['name']}: {len(data['results'])} of {data['total']} behaviours"]
    lines += [f"- {_verdict(r)}" for r in data["results"]]
    if data.get("next_cursor"):
        lines.append(f"more: call again with cursor={data['next_cursor']}")
    return "\n".join(lines)


def render_search(data: dict) -> str:
    hits = [f"- [{h['id']}] {h['text']} ({h['label']}{', ' + h['setting'] if h.get('setting') else ''})"
            for h in data["results"]]
    return "\n".join(hits) or "no norms found"


def render_settings(data: dict) -> str:
    return "\n".join(f"- {s['name']}: {s['frames']} frames over {s['behaviors']} behaviours" for s in data["data"])


def render_description(data: dict) -> str:
    return (f"{data['name']}: {data['frames']} frames over {data['behaviors']} behaviours\n"
            f"roles: {', '.join(data['roles']) or '-'}\nbehaviours: {', '.join(data['behavior_names']) or '-'}\n"
            f"dimensions: {', '.join(sorted({d['name'] for d in data['dimensions']}))}")


class DescribeSetting(BaseModel):
    name: Name = Field(..., description="The setting's name as list_settings gives it, e.g. 'restaurant'.")


def describe_setting(bank: Bank, name: str) -> dict:
    detail = bank.read(service.setting, name)
    compiled = bank.cache.get(detail["name"])
    return {**detail, "behavior_names": sorted(compiled.by_behavior), "dimensions": bank.read(service.taxonomy)["dimensions"]}


class NoArguments(BaseModel):
    pass


PROMPT = """Say how the people in the situation below should act, or answer the user's question about it. Ground
your answer in the norms listed after it:
cite every norm you rely on by its id in square brackets, say when a norm only applies under a condition
the situation leaves open (and ask about it), and do not invent norms that are not listed.

Situation: {situation}

{grounding}"""


# -- the server -------------------------------------------------------------------------------------
def create_mcp(bank: Bank) -> MCPServer:
    """A fresh MCP server answering from `bank`."""
    server = NormbankMCP("normbank", title="normbank: situational social norms", version=normbank.__version__,
                         instructions=INSTRUCTIONS, log_level="WARNING")
    _add_tools(server, bank)
    _add_resources(server, bank)
    _add_prompt(server, bank)
    return server


def _add_tools(server: MCPServer, bank: Bank) -> None:
    cache, retriever = bank.cache, bank.retriever
    add_model_tool(
        server, "ground_situation", GroundRequest, GroundResponse,
        lambda r: service.ground(cache, retriever, r), lambda d: d["prompt"],
        "Find the social norms that bear on a situation described in free text (optionally with the setting, the "
        "person acting, the other person and the environment). Returns the top-k norms with their status "
        "(applies / conditional), what to find out (`ask`) and `prompt`: a compact text citing each norm by id, "
        "ready to put in front of a model.")
    add_model_tool(
        server, "judge_behavior", JudgeRequest, JudgeResponse,
        lambda r: service.judge(cache, r, retriever), lambda d: d["statement"],
        "Judge one behaviour in a setting for a context: is it expected, normal or taboo here, how sure, with the "
        "frames as evidence, the open conditions and what would change the verdict.")
    add_model_tool(
        server, "norms_for_setting", QueryRequest, QueryResponse,
        lambda r: service.query(cache, r, retriever), render_query,
        "Every behaviour of a setting judged for a context, `applies` first, a page at a time: pass the answer's "
        "`next_cursor` as `cursor` for the next page. Filter by `behavior`, `label` or `status`.")
    add_model_tool(
        server, "search_norms", SearchRequest, SearchResponse,
        lambda r: service.search(cache, retriever, **r.model_dump()), render_search,
        "Search the norms' texts for a free-text query (hybrid dense and full-text retrieval), best first; no "
        "context is applied. Optionally only one setting or one label.")
    add_model_tool(
        server, "list_settings", NoArguments, SettingsPublic,
        lambda r: bank.read(service.settings), render_settings,
        "List the settings the bank knows, with how many frames and behaviours each has.")
    add_model_tool(
        server, "describe_setting", DescribeSetting, SettingDescription,
        lambda r: describe_setting(bank, r.name), render_description,
        "Describe one setting: its roles, the behaviours judged there, and the dimensions (attributes of the "
        "people, environment facts) with their known values, i.e. the words a context can use.")


async def _in_thread(where: str, answer: Callable[..., Any], *args: Any) -> Any:
    try:
        return await anyio.to_thread.run_sync(lambda: answer(*args))
    except Exception as exc:  # noqa: BLE001 - every failure reaches the client as the API's envelope
        raise mcp_error(exc, where) from None


def _json(data: dict) -> str:
    return json.dumps(data, ensure_ascii=False)


def _add_resources(server: MCPServer, bank: Bank) -> None:
    @server.resource("normbank://settings", name="settings", mime_type="application/json",
                     description="Every setting with its frame and behaviour counts (GET /v1/settings).")
    async def settings_resource() -> str:
        return _json(await _in_thread("normbank://settings", bank.read, service.settings))

    @server.resource("normbank://settings/{name}", name="setting", mime_type="application/json",
                     description="One setting: roles, frame and behaviour counts (GET /v1/settings/{name}).")
    async def setting_resource(name: str) -> str:
        return _json(await _in_thread(f"normbank://settings/{name}", bank.read, service.setting, unquote(name)))

    @server.resource("normbank://norms/{id}", name="norm", mime_type="application/json",
                     description="One norm with its source rows and examples (GET /v1/norms/{id}).")
    async def norm_resource(id: str) -> str:  # noqa: A002 - the URI template's name
        return _json(await _in_thread(f"normbank://norms/{id}", bank.read, service.norm, unquote(id)))

    @server.resource("normbank://sources", name="sources", mime_type="application/json",
                     description="The imported sources and their last import (GET /v1/sources).")
    async def sources_resource() -> str:
        return _json(await _in_thread("normbank://sources", bank.read, service.sources))


def _add_prompt(server: MCPServer, bank: Bank) -> None:
    @server.prompt(name="ground-an-answer", title="Answer a situation, citing the norms that bear on it",
                   description="Grounds the situation in the bank's norms and asks the model to answer citing them by id.")
    async def ground_an_answer(situation: str, setting: Optional[str] = None, k: int = 5) -> list[UserMessage]:
        def grounding() -> dict:
            request = GroundRequest(situation=situation, setting=setting, k=k)
            return service.ground(bank.cache, bank.retriever, request)

        data = await _in_thread("prompt ground-an-answer", grounding)
        return [UserMessage(PROMPT.format(situation=situation, grounding=data["prompt"]))]


def run(settings: Settings, *, http: bool = False, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve until stopped: over stdio, or streamable HTTP at http://host:port/mcp."""
    engine = make_engine(settings.resolved_database_url)
    bank = Bank(engine, FrameCache(engine, check_seconds=settings.cache_check_seconds), Retriever(engine, settings))
    try:
        bank.retriever.start()  # a stale or missing index builds in the background, as for `serve`
    except Exception:  # noqa: BLE001 - a database problem shows in the tools' answers, not as a crash
        log.exception("could not check the vector index at start")
    try:
        server = create_mcp(bank)
        if http:
            server.run("streamable-http", host=host, port=port)
        else:
            server.run("stdio")
    finally:
        engine.dispose()
