"""`normbank mcp` as a subprocess over stdio, driven by the MCP SDK's own ClientSession (and once over
streamable HTTP), over the sample corpus plus the real taxonomy and NormDial, on SQLite and PostgreSQL.
Every tool's answer is compared with the HTTP API's answer to the same request (in process, same
database): the same JSON, and the same error code and message."""

from __future__ import annotations

import shutil
from contextlib import ExitStack, contextmanager

import pytest
from anyio.from_thread import start_blocking_portal
from fastapi.testclient import TestClient
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from api.app import create_app
from api.models import (
    GroundRequest, GroundResponse, JudgeRequest, JudgeResponse, NormPublic, QueryRequest, QueryResponse, SearchResponse,
    SettingDetail, SettingsPublic, SourcesPublic,
)
from tests.conftest import agent_env, app_settings
from tests.servers import NORMBANK, Server

TOOLS = {"ground_situation", "judge_behavior", "norms_for_setting", "search_norms", "list_settings", "describe_setting"}
TEEN = {"role": "customer", "attributes": {"age bracket": "teen"}}


class Session:
    """A ClientSession running on its own event loop thread; `call(name, *args)` awaits session.name(*args)."""

    def __init__(self, portal, session: ClientSession):
        self.portal, self.session = portal, session

    def __getattr__(self, name):
        method = getattr(self.session, name)
        return lambda *args, **kwargs: self.portal.call(lambda: method(*args, **kwargs))


@contextmanager
def connected(transport):
    with start_blocking_portal() as portal, ExitStack() as stack:
        streams = stack.enter_context(portal.wrap_async_context_manager(transport))
        session = stack.enter_context(portal.wrap_async_context_manager(ClientSession(streams[0], streams[1])))
        portal.call(session.initialize)
        yield Session(portal, session)


def stdio(url: str, data_dir) -> StdioServerParameters:
    return StdioServerParameters(command=NORMBANK, args=["mcp", "--database", url], env=agent_env(data_dir))


@pytest.fixture(scope="module")
def mcp(agent_bank):
    with connected(stdio_client(stdio(*agent_bank))) as session:
        yield session


@pytest.fixture(scope="module")
def http(agent_bank, tmp_path_factory):
    """The HTTP API in process over the same database: what each tool must agree with."""
    url, data_dir = agent_bank
    app = create_app(app_settings(url, tmp_path_factory.mktemp("http"), index_on_start="off"))
    with TestClient(app) as client:
        yield client


def test_lists_six_tools_with_the_api_request_models_as_input_schemas(mcp):
    tools = {t.name: t for t in mcp.list_tools().tools}
    assert set(tools) == TOOLS
    for name, model in (("ground_situation", GroundRequest), ("judge_behavior", JudgeRequest),
                        ("norms_for_setting", QueryRequest)):
        schema = tools[name].input_schema
        assert set(schema["properties"]) == set(model.model_fields)
        assert set(schema.get("required", [])) == {n for n, f in model.model_fields.items() if f.is_required()}
    assert tools["ground_situation"].input_schema["properties"]["k"]["maximum"] == 50
    assert all(t.description and len(t.description) > 60 and t.output_schema for t in tools.values())
    assert all(t.annotations.read_only_hint for t in tools.values())


CASES = [  # tool, arguments, HTTP method and path, body or params, response model
    ("judge_behavior", {"setting": "restaurant", "behavior": "drink alcohol", "person": TEEN},
     "POST", "/v1/judge", JudgeResponse),
    ("norms_for_setting", {"setting": "restaurant", "person": {"role": "customer"}, "limit": 4},
     "POST", "/v1/query", QueryResponse),
    ("ground_situation", {"situation": "You bump into a stranger on a crowded train and want to apologize.", "k": 4},
     "POST", "/v1/ground", GroundResponse),
    ("search_norms", {"q": "apology", "k": 3, "mode": "lexical"}, "GET", "/v1/search", SearchResponse),
    ("list_settings", {}, "GET", "/v1/settings", SettingsPublic),
]


@pytest.mark.parametrize("tool, arguments, method, path, model", CASES, ids=[c[0] for c in CASES])
def test_each_tool_answers_with_the_same_json_as_the_http_api(mcp, http, tool, arguments, method, path, model):
    result = mcp.call_tool(tool, arguments)
    assert not result.is_error, result.content
    expected = http.post(path, json=arguments) if method == "POST" else http.get(path, params=arguments)
    assert expected.status_code == 200
    assert result.structured_content == expected.json()
    model.model_validate(result.structured_content)
    assert result.content[0].text.strip()


def test_a_place_named_in_the_situation_comes_back_as_a_place_link(mcp, http):
    """A city in the situation links to its country (the gazetteer), and the answer still fits the tool's
    output schema."""
    arguments = {"situation": "At a family dinner in Beijing, you are offered the last dumpling.", "k": 3}
    result = mcp.call_tool("ground_situation", arguments)
    assert not result.is_error, result.content
    places = [entry for entry in result.structured_content["linked"] if entry["kind"] == "place"]
    assert places and places[0]["method"] == "gazetteer" and places[0]["linked"]
    assert result.structured_content == http.post("/v1/ground", json=arguments).json()


def test_tool_texts_are_short_renderings_of_the_answer(mcp):
    judged = mcp.call_tool("judge_behavior", CASES[0][1])
    assert judged.content[0].text == judged.structured_content["statement"]
    grounded = mcp.call_tool("ground_situation", CASES[2][1])
    assert grounded.content[0].text == grounded.structured_content["prompt"]
    assert any(n["source"]["name"] == "normdial" for n in grounded.structured_content["norms"])
    page = mcp.call_tool("norms_for_setting", CASES[1][1])
    assert f"cursor={page.structured_content['next_cursor']}" in page.content[0].text


def test_describe_setting_gives_roles_behaviours_and_dimensions(mcp, http):
    described = mcp.call_tool("describe_setting", {"name": "restaurant"}).structured_content
    detail = http.get("/v1/settings/restaurant").json()
    assert {k: described[k] for k in detail} == detail
    assert "drink alcohol" in described["behavior_names"] and "customer" in described["roles"]
    assert {"age bracket", "country"} <= {d["name"] for d in described["dimensions"]}


BAD = [  # tool, arguments, the same request over HTTP
    ("judge_behavior", {"setting": "nowhere at all", "behavior": "drink alcohol"}, ("POST", "/v1/judge")),
    ("judge_behavior", {"setting": "restaurant"}, ("POST", "/v1/judge")),
    ("judge_behavior", {"setting": "restaurant", "behavior": "x", "person": {"attributes": {"age": True}}},
     ("POST", "/v1/judge")),
    ("norms_for_setting", {"setting": "restaurant", "cursor": "not-a-cursor"}, ("POST", "/v1/query")),
    ("norms_for_setting", {"setting": "restaurant", "limit": 0}, ("POST", "/v1/query")),
    ("ground_situation", {"situation": "a situation", "k": 0}, ("POST", "/v1/ground")),
    ("ground_situation", {"situation": ""}, ("POST", "/v1/ground")),
    ("ground_situation", {"situation": "a situation", "mood": "happy"}, ("POST", "/v1/ground")),
    ("search_norms", {"q": "tipping", "mode": "dense"}, ("GET", "/v1/search")),  # no vector index: 503
    ("search_norms", {"q": "tipping", "k": 500}, ("GET", "/v1/search")),
    ("describe_setting", {"name": "nowhere at all"}, ("GET", "/v1/settings/nowhere at all")),
]


@pytest.mark.parametrize("tool, arguments, request_", BAD, ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD)])
def test_bad_arguments_come_back_as_tool_errors_with_the_api_code_and_message(mcp, http, tool, arguments, request_):
    result = mcp.call_tool(tool, arguments)
    assert result.is_error
    method, path = request_
    if method == "POST":
        answer = http.post(path, json=arguments)
    else:
        answer = http.get(path, params=arguments if tool != "describe_setting" else None)
    assert answer.status_code >= 400
    expected = answer.json()["error"]
    error = result.structured_content["error"]
    assert (error["code"], error["message"]) == (expected["code"], expected["message"]), (error, expected)
    assert result.content[0].text == f"{expected['code']}: {expected['message']}"


def test_resources_are_the_catalogue_endpoints(mcp, http):
    listed = {str(r.uri) for r in mcp.list_resources().resources}
    templates = {t.uri_template for t in mcp.list_resource_templates().resource_templates}
    assert listed == {"normbank://settings", "normbank://sources"}
    assert templates == {"normbank://settings/{name}", "normbank://norms/{id}"}
    norm_id = http.get("/v1/norms", params={"source": "normdial", "limit": 1}).json()["data"][0]["id"]
    for uri, path, model in (("normbank://settings", "/v1/settings", SettingsPublic),
                             ("normbank://sources", "/v1/sources", SourcesPublic),
                             ("normbank://settings/restaurant", "/v1/settings/restaurant", SettingDetail),
                             (f"normbank://norms/{norm_id}", f"/v1/norms/{norm_id}", NormPublic)):
        content = mcp.read_resource(uri).contents[0]
        assert content.mime_type == "application/json"
        assert model.model_validate_json(content.text) == model.model_validate(http.get(path).json())
    assert NormPublic.model_validate_json(mcp.read_resource(f"normbank://norms/{norm_id}").contents[0].text).examples


def test_an_unknown_resource_is_a_protocol_error_with_the_api_envelope(mcp):
    with pytest.raises(MCPError) as caught:
        mcp.read_resource("normbank://norms/0123456789abcdef")
    assert caught.value.error.data["error"]["code"] == "norm_not_found"
    with pytest.raises(MCPError) as caught:
        mcp.read_resource("normbank://settings/nowhere")
    assert caught.value.error.data["error"]["code"] == "setting_not_found"


def test_the_prompt_asks_for_an_answer_citing_the_grounded_norms(mcp, http):
    situation = "You bump into a stranger on a crowded train and want to apologize."
    assert [p.name for p in mcp.list_prompts().prompts] == ["ground-an-answer"]
    prompt = mcp.get_prompt("ground-an-answer", {"situation": situation})
    text = prompt.messages[0].content.text
    grounded = http.post("/v1/ground", json={"situation": situation, "k": 5}).json()
    assert situation in text and grounded["prompt"] in text and "cite" in text
    assert all(f"[{n['id']}]" in text for n in grounded["norms"])


def test_a_database_that_goes_away_is_a_tool_error_not_a_crash(database_url, tmp_path):
    """The server keeps answering: the tool error says database_unavailable, as the HTTP API would."""
    import subprocess

    from schema.engine import make_engine

    env = agent_env(tmp_path)
    subprocess.run([NORMBANK, "init", "--sample", "--database", database_url], env=env, check=True, capture_output=True)
    with connected(stdio_client(StdioServerParameters(command=NORMBANK, args=["mcp", "--database", database_url],
                                                      env=env))) as session:
        assert not session.call_tool("list_settings", {}).is_error
        engine = make_engine(database_url)
        with engine.begin() as conn:  # the norms' table goes away, as if the database were replaced
            conn.exec_driver_sql("ALTER TABLE norm RENAME TO norm_gone")
        engine.dispose()
        result = session.call_tool("list_settings", {})
        assert result.is_error and result.structured_content["error"]["code"] == "database_unavailable"
        assert "normbank init" in result.structured_content["error"]["message"]
        assert {t.name for t in session.list_tools().tools} == TOOLS  # still serving


def test_streamable_http_transport(agent_bank, tmp_path):
    url, data_dir = agent_bank
    server = Server([NORMBANK, "mcp", "--http", "--port", "{port}", "--database", url], agent_env(data_dir),
                    tmp_path / "mcp.log").wait("/mcp", ok=range(200, 500))
    try:
        with connected(streamable_http_client(f"{server.url}/mcp")) as session:
            assert {t.name for t in session.list_tools().tools} == TOOLS
            judged = session.call_tool("judge_behavior", CASES[0][1])
            assert not judged.is_error and judged.structured_content["verdict"] == "taboo"
            failed = session.call_tool("describe_setting", {"name": "nowhere at all"})
            assert failed.is_error and failed.structured_content["error"]["code"] == "setting_not_found"
            assert SettingsPublic.model_validate_json(session.read_resource("normbank://settings").contents[0].text).count > 200
    finally:
        server.stop()
