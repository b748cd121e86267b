"""Many servers on one database: the index is built once for all of them; an import or a removal through
one server is answered by the others within NORMBANK_CACHE_CHECK_SECONDS; a server killed in the middle
of an HTTP import reports the job failed after its restart, with nothing of it in the bank."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from api.retrieval import Retriever
from ingest.pipeline import run_import
from normbank.cli import sample_corpus_path
from tests.conftest import FIXTURES, REPO, app_settings

TOKEN = "many-servers"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CHECK_SECONDS = 0.5


def test_two_servers_build_the_index_once(engine, database_url, tmp_path):
    run_import(engine=engine, format="normbank", path=sample_corpus_path(), source="sample")
    servers = [Retriever(engine, app_settings(database_url, tmp_path / "shared")) for _ in range(2)]
    threads = [threading.Thread(target=s.rebuild) for s in servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    # Each build is a directory of its own (the newest two are kept): one directory, one build.
    assert len(list((tmp_path / "shared" / "indexes").glob("build-*"))) == 1
    assert all(s.staleness() is None and s.indexes() is not None for s in servers)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(database_url: str, data_dir: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "NORMBANK_DATABASE_URL": database_url, "NORMBANK_DATA_DIR": str(data_dir),
           "NORMBANK_EMBEDDING_MODEL": "hashing", "NORMBANK_API_TOKEN": TOKEN,
           "NORMBANK_CACHE_CHECK_SECONDS": str(CHECK_SECONDS), "NORMBANK_INGEST_WORKER": "0"}
    process = subprocess.Popen([sys.executable, "-m", "normbank.cli", "serve", "--port", str(port),
                                "--log-level", "warning"], cwd=REPO, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError(f"the server on port {port} did not start")


def _until(check, timeout: float = 10 * CHECK_SECONDS + 5):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def _restaurant_sources(base: str) -> set[str]:
    answer = httpx.post(f"{base}/v1/query", json={"setting": "restaurant"}).json()
    return {f["source"]["name"] for r in answer["results"] for f in r["frames"]}


@pytest.mark.postgres
@pytest.mark.slow
def test_two_serve_processes_on_one_postgresql(engine, database_url, tmp_path):
    if not database_url.startswith("postgresql"):
        pytest.skip("many servers share PostgreSQL; SQLite is one machine's embedded store")
    run_import(engine=engine, format="normbank", path=FIXTURES / "normbank" / "noise.csv", source="noise")
    ports = [_free_port(), _free_port()]
    servers = [_serve(database_url, tmp_path / "data", port) for port in ports]
    a, b = (f"http://127.0.0.1:{port}" for port in ports)
    try:
        assert _restaurant_sources(b) <= {"noise"}
        job = httpx.post(f"{a}/v1/imports", params={"format": "normbank", "source": "sample"}, headers=AUTH,
                         content=sample_corpus_path().read_bytes()).json()
        done = _until(lambda: httpx.get(f"{b}/v1/imports/{job['id']}").json()["status"] == "succeeded")
        assert done, httpx.get(f"{a}/v1/imports/{job['id']}").json()
        started = time.monotonic()
        assert _until(lambda: "sample" in _restaurant_sources(b)), "server B never answered from the import"
        assert time.monotonic() - started <= CHECK_SECONDS + 3.0
        versions = {httpx.get(f"{u}/v1/sources").headers["x-normbank-data-version"] for u in (a, b)}
        assert len(versions) == 1

        assert httpx.delete(f"{b}/v1/sources/sample", headers=AUTH).status_code == 200
        assert _until(lambda: "sample" not in _restaurant_sources(a)), "server A still answers from a removed source"
        # Free text makes a server see its index is stale; one of them rebuilds it, the other loads that build.
        for u in (a, b):
            assert httpx.get(f"{u}/v1/search", params={"q": "tip the waiter"}).status_code == 200
        assert _until(lambda: all(httpx.get(f"{u}/readyz").json()["checks"].get("index") == "ok" for u in (a, b)))
    finally:
        for process in servers:
            process.terminate()
            process.wait(10)


@pytest.mark.slow
def test_a_server_killed_during_an_http_import(engine, database_url, tmp_path, taxonomy_dir):
    from tests.bench.generate_normbank import generate

    corpus = tmp_path / "big.csv"
    generate(corpus, 60_000, seed=1, taxonomy=taxonomy_dir)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = _serve(database_url, tmp_path / "data", port)
    try:
        job = httpx.post(f"{base}/v1/imports", params={"format": "normbank", "source": "big"}, headers=AUTH,
                         content=corpus.read_bytes(), timeout=60).json()
        assert _until(lambda: httpx.get(f"{base}/v1/imports/{job['id']}").json()["progress"]["read"] > 0, 60)
        os.kill(server.pid, signal.SIGKILL)
        server.wait(10)
        server = _serve(database_url, tmp_path / "data", port)
        after = httpx.get(f"{base}/v1/imports/{job['id']}").json()
        assert after["status"] == "failed" and "restart or crash" in after["error"]
        assert httpx.get(f"{base}/v1/norms", params={"source": "big"}).json()["count"] == 0
        again = httpx.post(f"{base}/v1/imports", params={"format": "normbank", "source": "big"}, headers=AUTH,
                           content=corpus.read_bytes(), timeout=60).json()
        assert _until(lambda: httpx.get(f"{base}/v1/imports/{again['id']}").json()["status"] == "succeeded", 300)
        assert httpx.get(f"{base}/v1/norms", params={"source": "big"}).json()["count"] > 40_000
    finally:
        server.kill()
        server.wait(10)
