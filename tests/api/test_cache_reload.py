"""The frame cache moves to new data off the request path: while the next data version loads, requests are
answered from the previous one, whole (verdict and data version header alike), and from the new one once
it is swapped in; a client whose HTTP import reports success reads its own write."""

from __future__ import annotations

import threading
import time

from fastapi.testclient import TestClient

import schema.frames
from api.app import create_app
from ingest.pipeline import run_import
from tests.api.conftest import NORMBANK_HEADER
from tests.conftest import app_settings

LOADER = "normbank-frame-cache-load"


def _corpus(tmp_path, name: str, label: str):
    path = tmp_path / f"{name}.csv"
    path.write_text(f"{NORMBANK_HEADER}\nrestaurant,drink alcohol,,,,,{label},,train\n", encoding="utf-8")
    return path


def _judge(client: TestClient) -> tuple[set[str], str]:
    response = client.post("/v1/judge", json={"setting": "restaurant", "behavior": "drink alcohol"})
    assert response.status_code == 200, response.text
    sources = {frame["source"]["name"] for frame in response.json()["frames"]}
    return sources, response.headers["x-normbank-data-version"]


def test_requests_are_answered_from_the_old_data_until_the_new_is_swapped_in(engine, database_url, tmp_path,
                                                                               monkeypatch):
    run_import(engine=engine, format="normbank", path=_corpus(tmp_path, "a", "taboo"), source="a")
    release, loading = threading.Event(), threading.Event()
    real = schema.frames.load_frames

    def held(conn, setting_id):  # the background load waits here until the test lets it go
        if threading.current_thread().name == LOADER:
            loading.set()
            release.wait(120)
        return real(conn, setting_id)

    monkeypatch.setattr(schema.frames, "load_frames", held)
    app = create_app(app_settings(database_url, tmp_path / "data", cache_check_seconds=0, index_on_start="off"))
    with TestClient(app) as client:
        before, old_version = _judge(client)
        assert before == {"a"}
        run_import(engine=engine, format="normbank", path=_corpus(tmp_path, "b", "normal"), source="b")
        _judge(client)  # sees the new data version and starts loading it in the background
        assert loading.wait(60), "the new data version was not loaded in the background"
        for _ in range(3):
            assert _judge(client) == (before, old_version)
        assert not release.is_set()  # answered while the load was still held
        release.set()
        deadline = time.monotonic() + 60
        while (answer := _judge(client))[1] == old_version and time.monotonic() < deadline:
            time.sleep(0.05)
        sources, new_version = answer
        assert new_version != old_version and sources == {"a", "b"}


def test_an_http_import_reads_its_own_write_when_it_reports_success(engine, database_url, tmp_path):
    run_import(engine=engine, format="normbank", path=_corpus(tmp_path, "a", "taboo"), source="a")
    app = create_app(app_settings(database_url, tmp_path / "data", cache_check_seconds=3600, index_on_start="off",
                                  api_token="t"))
    with TestClient(app) as client:
        assert _judge(client)[0] == {"a"}
        job = client.post("/v1/imports", params={"format": "normbank", "source": "b"},
                          headers={"Authorization": "Bearer t"},
                          content=_corpus(tmp_path, "b", "normal").read_bytes()).json()
        deadline = time.monotonic() + 30
        while client.get(f"/v1/imports/{job['id']}").json()["status"] != "succeeded":
            assert time.monotonic() < deadline, client.get(f"/v1/imports/{job['id']}").json()
            time.sleep(0.05)
        assert _judge(client)[0] == {"a", "b"}  # no waiting for the hour-long cache check

