"""normbank.client against a real `normbank serve` on loopback, over the sample corpus plus the real NormBank
taxonomy and NormDial (SQLite and PostgreSQL): every method, pagination to the end, the error codes a
client can meet, and the retries (a server that is not up yet, a database that answers 503 then recovers)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import anyio
import httpx
import pytest

from api.models import GroundResponse, JudgeResponse, NormPublic, QueryResponse, Result
from normbank.client import (
    AsyncClient, BodyTooLarge, Client, DatabaseUnavailable, IndexNotReady, InvalidRequest, NormNotFound, SettingNotFound,
    Unreachable,
)
from tests.conftest import agent_env
from tests.servers import NORMBANK, Server, free_port, serve

TEEN = {"role": "customer", "attributes": {"age bracket": "teen"}}


@pytest.fixture(scope="module")
def server(agent_bank, tmp_path_factory):
    url, data_dir = agent_bank
    running = serve(url, agent_env(data_dir), tmp_path_factory.mktemp("client") / "serve.log")
    yield running
    running.stop()


@pytest.fixture
def bank(server):
    with Client(server.url, timeout=60) as client:
        yield client


def test_the_client_imports_neither_torch_nor_faiss_nor_the_database_layer():
    code = ("import sys, normbank.client; "
            "print([m for m in ('torch', 'faiss', 'sqlalchemy', 'sentence_transformers', 'fastapi') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out.replace("'", '"')) == []


def test_reasoning_methods_answer_with_the_api_models(bank):
    judged = bank.judge("restaurant", "drink alcohol", person=TEEN)
    assert isinstance(judged, JudgeResponse) and judged.verdict == "taboo" and judged.status == "applies"
    assert judged.frames and all(f.source.name == "normbank-sample" for f in judged.frames)

    page = bank.query("restaurant", person={"role": "customer"}, limit=5)
    assert isinstance(page, QueryResponse) and len(page.results) == 5 and page.total > 5 and page.next_cursor
    assert page.setting.name == "restaurant"


def test_free_text_methods_reach_the_real_normdial_norms(bank):
    grounded = bank.ground("You bump into a stranger on a crowded train and want to apologise.", k=5)
    assert isinstance(grounded, GroundResponse) and grounded.norms
    assert any(n.source.name == "normdial" for n in grounded.norms)
    assert all(f"[{n.id}]" in grounded.prompt for n in grounded.norms)

    in_beijing = bank.ground("At a family dinner in Beijing, you are offered the last dumpling.", k=3)
    assert any(link.kind == "place" and link.method == "gazetteer" and link.linked for link in in_beijing.linked)

    found = bank.search("apology", k=3, mode="lexical")
    assert len(found.results) == 3 and found.mode == "lexical"
    assert all(h.source.name == "normdial" and "apolog" in h.text.lower() for h in found.results)


def test_catalogue_methods_see_the_sample_the_taxonomy_and_normdial(bank):
    settings = bank.settings()
    names = {s.name for s in settings.data}
    assert settings.count == len(settings.data) > 200 and "restaurant" in names  # the taxonomy's settings too
    assert bank.setting("restaurant").roles
    assert {s.name for s in bank.sources().data} >= {"normbank-sample", "normdial", "normbank-taxonomy"}
    assert any(d.name == "age bracket" for d in bank.taxonomy().dimensions)
    normdial = bank.norms(source="normdial", limit=1).data[0]
    norm = bank.norm(normdial.id)
    assert isinstance(norm, NormPublic) and norm.id == normdial.id and norm.examples
    assert bank.health().status == "ok"
    assert bank.ready().status == "ready"


def test_iter_query_follows_next_cursor_to_the_last_page(bank):
    whole = bank.query("restaurant", person={"role": "customer"}, limit=1000)
    paged = list(bank.iter_query("restaurant", person={"role": "customer"}, limit=3))
    assert all(isinstance(r, Result) for r in paged)
    assert [r.behavior for r in paged] == [r.behavior for r in whole.results] and len(paged) == whole.total > 3


def test_iter_norms_lists_every_norm_once_in_id_order(bank):
    count = bank.norms(limit=1).count
    ids = [n.id for n in bank.iter_norms(limit=200)]
    assert len(ids) == count > 700 and ids == sorted(set(ids))


def test_each_error_code_raises_its_own_class_with_code_message_and_details(bank):
    with pytest.raises(SettingNotFound) as caught:
        bank.judge("nowhere at all", "drink alcohol")
    assert (caught.value.code, caught.value.status) == ("setting_not_found", 404)
    assert "nowhere at all" in caught.value.message and caught.value.details["setting"] == "nowhere at all"
    with pytest.raises(NormNotFound):
        bank.norm("0123456789abcdef")
    with pytest.raises(InvalidRequest) as caught:
        bank.ground("a situation", k=0)
    assert caught.value.message == "k: Input should be greater than or equal to 1" and caught.value.status == 422
    with pytest.raises(InvalidRequest, match="cursor"):  # the schema says what a cursor looks like
        bank.query("restaurant", cursor="not-a-cursor")
    with pytest.raises(BodyTooLarge):
        bank.ground("x" * 1_100_000)
    with pytest.raises(IndexNotReady) as caught:  # these servers run without a vector index
        bank.search("tipping", mode="dense")
    assert caught.value.status == 503


def test_the_async_client_has_the_same_methods(server):
    async def scenario():
        async with AsyncClient(server.url, timeout=60) as bank:
            judged = await bank.judge("restaurant", "drink alcohol", person=TEEN)
            paged = [r.behavior async for r in bank.iter_query("restaurant", limit=4)]
            whole = await bank.query("restaurant", limit=1000)
            with pytest.raises(SettingNotFound):
                await bank.setting("nowhere at all")
            return judged, paged, whole

    judged, paged, whole = anyio.run(scenario)
    assert judged.verdict == "taboo" and paged == [r.behavior for r in whole.results]


def test_a_read_waits_for_a_server_that_is_not_up_yet(agent_bank, tmp_path):
    url, data_dir = agent_bank
    port = free_port()
    with Client(f"http://127.0.0.1:{port}", retries=0) as impatient:
        with pytest.raises(Unreachable):
            impatient.settings()
    started: list[Server] = []
    threading.Timer(0.5, lambda: started.append(Server(
        [NORMBANK, "serve", "--database", url, "--port", str(port), "--log-level", "warning"], agent_env(data_dir),
        tmp_path / "serve.log", port=port))).start()
    try:
        with Client(f"http://127.0.0.1:{port}", retries=8, backoff=0.5, max_backoff=8) as patient:
            assert patient.settings().count > 200
    finally:
        time.sleep(0.6)
        for s in started:
            s.stop()


def test_a_read_is_retried_on_503_until_the_database_is_ready(tmp_path):
    """A server whose database is not initialised answers 503 database_unavailable; once an operator runs
    `normbank init`, the same call (still retrying) gets its answer: the settings of an empty bank."""
    url = f"sqlite:///{tmp_path / 'later.db'}"
    env = {**agent_env(tmp_path), "NORMBANK_DATABASE_URL": url}
    app = Server([sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--port", "{port}",
                  "--log-level", "warning"], env, tmp_path / "uvicorn.log").wait("/healthz")
    try:
        assert httpx.get(f"{app.url}/v1/settings").status_code == 503
        with Client(app.url, retries=0) as impatient, pytest.raises(DatabaseUnavailable) as caught:
            impatient.settings()
        assert caught.value.status == 503 and "normbank init" in caught.value.message

        def init():
            time.sleep(1.0)
            subprocess.run([NORMBANK, "init", "--database", url], env={**os.environ, **env}, check=True,
                           capture_output=True)

        operator = threading.Thread(target=init)
        operator.start()
        with Client(app.url, retries=10, backoff=0.3, max_backoff=2) as patient:
            started = time.monotonic()
            settings = patient.settings()
            waited = time.monotonic() - started
        operator.join()
        assert settings.count == 0 and settings.data == [] and waited >= 1.0
        with Client(app.url, retries=0) as impatient:
            assert impatient.sources().count == 0  # no longer a 503
    finally:
        app.stop()
