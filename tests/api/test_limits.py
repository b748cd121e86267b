"""Bad and oversized input is a clear 4xx with the error envelope: never a 500, never an echo of the whole
input, never a detail of the infrastructure; slow clients are cut off."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from contextlib import contextmanager
from typing import Iterator

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from api.app import create_app
from tests.api.conftest import assert_error
from tests.conftest import app_settings


def _cursor(data) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


@pytest.mark.parametrize(("body", "where"), [
    ({"setting": "x" * 201, "behavior": "b"}, "setting"),
    ({"setting": "restaurant", "behavior": "b" * 201}, "behavior"),
    ({"setting": "restaurant", "behavior": "b", "person": {"role": "r" * 201}}, "person.role"),
    ({"setting": "restaurant", "behavior": "b", "person": {"attributes": {"a" * 201: "x"}}}, "person.attributes"),
    ({"setting": "restaurant", "behavior": "b", "environment": {"weather": "w" * 501}}, "environment.weather"),
    ({"setting": "restaurant", "behavior": "b", "environment": {"weather": ["w"] * 51}}, "environment.weather"),
    ({"setting": "restaurant", "behavior": "b", "person": {"behaviors": ["x"] * 51}}, "person.behaviors"),
])
def test_overlong_fields_are_422_naming_the_field_and_its_limit(client, body, where):
    error = assert_error(client.post("/v1/judge", json=body), 422, "invalid_request")
    assert error["message"].startswith(where) and any(ch.isdigit() for ch in error["message"])
    assert len(json.dumps(error)) < 2000  # the input is not echoed


@pytest.mark.parametrize("body", [
    {"setting": "restaurant", "behavior": "b", "environment": {"weather": [True, False]}},
    {"setting": "restaurant", "behavior": "b", "person": {"attributes": {"age bracket": None}}},
    {"setting": "restaurant", "behavior": "b", "person": {"attributes": {"age bracket": {"nested": 1}}}},
    {"setting": "restaurant", "limit": True},
])
def test_values_of_the_wrong_type_are_422(client, body):
    path = "/v1/query" if "limit" in body else "/v1/judge"
    error = assert_error(client.post(path, json=body), 422, "invalid_request")
    assert ".str" not in error["message"] and "function" not in error["message"]  # no union branch names


@pytest.mark.parametrize("text", ["\ud83d", "a\x00b"])
def test_lone_surrogates_and_nul_characters_are_422_everywhere(client, text):
    for path, body in (("/v1/judge", {"setting": "restaurant", "behavior": "b", "person": {"role": text}}),
                       ("/v1/judge", {"setting": "restaurant", "behavior": "b", "environment": {"country": text}}),
                       ("/v1/judge", {"setting": "restaurant", "behavior": "b", "person": {"attributes": {text: "x"}}}),
                       ("/v1/ground", {"situation": text})):
        raw = json.dumps(body).encode()  # json escapes the surrogate as \ud83d, as a client would send it
        response = client.post(path, content=raw, headers={"content-type": "application/json"})
        assert_error(response, 422, "invalid_request")
    if text == "a\x00b":  # a URL cannot carry a lone surrogate; it can carry %00 (PostgreSQL refuses NUL)
        for params in ({"setting": text}, {"behavior": text}, {"source": text}):
            assert_error(client.get("/v1/norms", params=params), 422, "invalid_request")
        assert_error(client.get("/v1/settings/a%00b"), 422, "invalid_request")


def test_a_body_that_is_not_utf8_is_422(client):
    response = client.post("/v1/judge", content=b'{"setting": "\xff\xfe"}', headers={"content-type": "application/json"})
    assert_error(response, 422, "invalid_request")


@pytest.mark.parametrize("cursor", [_cursor({"after": 2**63}), _cursor({"after": 2**70}), _cursor({"after": -1}),
                                    base64.urlsafe_b64encode(b'{"after":' + b"[" * 100_000 + b"]" * 100_000 + b"}").decode()[:200],
                                    "x" * 201])
def test_cursors_out_of_range_or_deeply_nested_are_422(client, cursor):
    assert_error(client.get("/v1/norms", params={"cursor": cursor}), 422, "invalid_request")


def test_a_deeply_nested_query_cursor_is_422(client):
    nested = base64.urlsafe_b64encode(b"[" * 150 + b"]" * 150).decode().rstrip("=")
    assert_error(client.post("/v1/query", json={"setting": "restaurant", "cursor": nested}), 422, "invalid_request")


def test_errors_quote_a_short_prefix_of_the_input(client):
    error = assert_error(client.get("/v1/settings/" + "m" * 150), 404, "setting_not_found")
    assert len(error["message"]) < 200 and len(json.dumps(error["details"])) < 200
    error = assert_error(client.get("/v1/norms/" + "f" * 150), 404, "norm_not_found")
    assert len(error["message"]) < 200


def test_a_body_over_the_limit_is_413(engine, database_url, tmp_path):
    app = create_app(app_settings(database_url, tmp_path, max_body_bytes=2000, index_on_start="off"))
    with TestClient(app) as client:
        big = {"situation": "x" * 5000}
        assert_error(client.post("/v1/ground", json=big), 413, "body_too_large")

        def chunks():  # no Content-Length: counted as it arrives
            yield b'{"situation": "'
            for _ in range(50):
                yield b"y" * 100
            yield b'"}'

        response = client.post("/v1/ground", content=chunks(), headers={"content-type": "application/json"})
        assert_error(response, 413, "body_too_large")


def test_head_healthz_and_offline_docs(client):
    assert client.head("/healthz").status_code == 200
    page = client.get("/docs")
    assert page.status_code == 200
    import re

    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets and all(a.startswith("/") for a in assets)  # nothing from a CDN
    for asset in assets:
        assert client.get(asset).status_code == 200, asset


def test_a_database_error_says_nothing_of_the_database(tmp_path):
    path = tmp_path / "secret-folder" / "bank.db"
    path.parent.mkdir()
    path.touch()  # a database that was never initialised
    app = create_app(app_settings(f"sqlite:///{path}", tmp_path / "data", index_on_start="off"))
    with TestClient(app) as client:
        error = assert_error(client.get("/v1/settings"), 503, "database_unavailable")
        assert "secret-folder" not in json.dumps(error) and "setting" not in error["message"]
        ready = client.get("/readyz")
        assert ready.status_code == 503 and "secret-folder" not in ready.text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(app) -> Iterator[int]:
    """The app served by uvicorn on a free loopback port, in a thread, for the block; yields the port."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.05)
        yield port
    finally:
        server.should_exit = True
        thread.join(10)


def test_a_client_that_stops_sending_its_body_is_cut_off_with_408(engine, database_url, tmp_path):
    app = create_app(app_settings(database_url, tmp_path, read_timeout_seconds=0.5, index_on_start="off"))
    with serving(app) as port:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            conn.sendall(b"POST /v1/judge HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 100\r\n\r\n{\"setting\": ")
            started = time.monotonic()
            answer = ""
            while "request_timeout" not in answer and (chunk := conn.recv(4096)):
                answer += chunk.decode()
            assert answer.startswith("HTTP/1.1 408") and "request_timeout" in answer
            assert time.monotonic() - started < 4
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:  # the server still answers
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert conn.recv(4096).startswith(b"HTTP/1.1 200")


def test_a_streamed_answer_may_last_longer_than_the_body_read_timeout(engine, database_url, tmp_path, monkeypatch):
    import api.routes.bank

    def slow_export(conn, source):  # an export of a large bank: its chunks come over seconds
        for i in range(3):
            time.sleep(0.5)
            yield b'{"chunk":%d}\n' % i

    monkeypatch.setattr(api.routes.bank, "export_jsonl", slow_export)
    app = create_app(app_settings(database_url, tmp_path, read_timeout_seconds=0.3, index_on_start="off"))
    with serving(app) as port:
        with httpx.stream("GET", f"http://127.0.0.1:{port}/v1/export", timeout=10) as response:
            assert response.status_code == 200
            assert response.read() == b'{"chunk":0}\n{"chunk":1}\n{"chunk":2}\n'
