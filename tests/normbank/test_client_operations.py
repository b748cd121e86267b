"""normbank.client's operations against a real `normbank serve` on loopback with a token (SQLite and PostgreSQL):
imports (a file, bytes, a directory) as jobs waited for, their rejected rows, export streamed to a file and read
back, removing a source, and the errors a writer meets (no token, a wrong one, writes off, too large, unknown
source or job, a job that fails)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import anyio
import pytest

from api.operations_models import ImportJobOut, Removal
from normbank.client import (
    AsyncClient, BodyTooLarge, Client, DatabaseUnavailable, Forbidden, ImportFailed, ImportNotFound, SourceNotFound,
    Unauthorized, UnreadableCorpus,
)
from tests.conftest import FIXTURES, _drop_schema, agent_env, new_database
from tests.servers import NORMBANK, Server, serve

TOKEN = "s3cret-token"
NOISE = FIXTURES / "normbank" / "noise.csv"
NORMDIAL = FIXTURES / "normdial"


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def bank_url(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"writable-{request.param}")
    url, schema = new_database(request.param, folder)
    subprocess.run([NORMBANK, "init", "--sample", "--database", url], check=True, capture_output=True,
                   env=agent_env(folder))
    try:
        yield url, folder
    finally:
        if schema:
            _drop_schema(schema)


@pytest.fixture(scope="module")
def server(bank_url):
    url, folder = bank_url
    running = serve(url, {**agent_env(folder), "NORMBANK_API_TOKEN": f"old-token,{TOKEN}",
                          "NORMBANK_MAX_UPLOAD_BYTES": "2000000"}, folder / "serve.log")
    yield running
    running.stop()


@pytest.fixture
def bank(server):
    with Client(server.url, token=TOKEN, timeout=60) as client:
        yield client


def test_a_file_import_runs_as_a_job_the_client_waits_for(bank):
    job = bank.import_corpus(NOISE, format="normbank", source="noise-file")
    assert isinstance(job, ImportJobOut) and job.status in ("queued", "running", "succeeded")
    assert job.bytes == NOISE.stat().st_size and job.source == "noise-file"
    done = bank.wait_for_import(job.id, timeout=120, interval=0.1)
    assert done.status == "succeeded" and (done.report["read"], done.report["rejected"]) == (31, 10)
    assert bank.norms(source="noise-file", limit=1).count == done.report["loaded"] > 0
    assert bank.import_job(job.id).status == "succeeded"
    assert job.id in [j.id for j in bank.import_jobs(limit=10).data]

    rejected = bank.rejected(job.id)
    assert len(rejected) == 10 and all(r["reason"] and isinstance(r["row"], int) for r in rejected)
    raw_lines = NOISE.read_text(encoding="utf-8").splitlines()
    assert all(r["raw"].splitlines()[0] in raw_lines for r in rejected if r["raw"])


def test_bytes_and_a_directory_are_uploaded_too(bank):
    from_bytes = bank.wait_for_import(bank.import_corpus(NOISE.read_bytes(), format="normbank", source="noise-bytes").id,
                                      timeout=120, interval=0.1)
    assert from_bytes.report["loaded"] == bank.norms(source="noise-bytes", limit=1).count > 0
    folder = bank.import_corpus(NORMDIAL, format="normdial", source="normdial-upload")  # sent as a tar.gz
    done = bank.wait_for_import(folder.id, timeout=120, interval=0.1)
    assert done.status == "succeeded" and done.report["loaded"] > 0
    assert bank.norms(source="normdial-upload", limit=1).count == done.report["loaded"]


def test_export_streams_the_bank_to_a_file_that_imports_back(bank, tmp_path):
    job = bank.wait_for_import(bank.import_corpus(NOISE, format="normbank", source="noise-export").id, timeout=120,
                               interval=0.1)
    target = tmp_path / "noise.jsonl"
    written = bank.export(target, source="noise-export")
    lines = target.read_bytes().splitlines()
    assert written == target.stat().st_size and json.loads(lines[0])["format"] == "normbank-jsonl"
    entries = [json.loads(line) for line in lines[1:]]
    norms = [e for e in entries if e["type"] == "norm"]
    assert [e["name"] for e in entries if e["type"] == "source"] == ["noise-export"]
    assert len(norms) == job.report["loaded"] and sum(e["type"] == "rejected" for e in entries) == 10
    streamed = b"".join(bank.iter_export(source="noise-export")).splitlines()
    assert streamed[1:] == lines[1:]  # the same bank; the header line carries the time of export
    with open(tmp_path / "noise.csv", "wb") as out:
        assert bank.export(out, source="noise-export", format="normbank") > 0

    bank.remove_source("noise-export")
    back = bank.wait_for_import(bank.import_corpus(target, format="normbank-jsonl").id, timeout=120, interval=0.1)
    assert back.status == "succeeded" and bank.norms(source="noise-export", limit=1).count == len(norms)
    with pytest.raises(SourceNotFound) as caught:
        list(bank.iter_export(source="no such source"))
    assert caught.value.status == 404


def test_removing_a_source_takes_out_its_norms_and_only_those(bank):
    bank.wait_for_import(bank.import_corpus(NOISE, format="normbank", source="noise-gone").id, timeout=120, interval=0.1)
    before = bank.norms(source="normbank-sample", limit=1).count
    count = bank.norms(source="noise-gone", limit=1).count
    removal = bank.remove_source("noise-gone")
    assert isinstance(removal, Removal) and (removal.source, removal.norms) == ("noise-gone", count)
    assert bank.norms(source="noise-gone", limit=1).count == 0
    assert bank.norms(source="normbank-sample", limit=1).count == before
    with pytest.raises(SourceNotFound) as caught:
        bank.remove_source("noise-gone")
    assert (caught.value.status, caught.value.code) == (404, "source_not_found")


def test_a_writer_without_the_right_token_is_refused_and_reads_stay_open(server):
    for token in (None, "wrong"):
        with Client(server.url, token=token) as stranger:
            with pytest.raises(Unauthorized) as caught:
                stranger.import_corpus(NOISE, format="normbank")
            assert caught.value.status == 401 and "token" in caught.value.message
            with pytest.raises(Unauthorized):
                stranger.remove_source("normbank-sample")
            assert stranger.norms(source="normbank-sample", limit=1).count > 0
    with Client(server.url, token="old-token") as rotated:  # either configured token is accepted
        with pytest.raises(SourceNotFound):
            rotated.remove_source("never imported")


def test_bad_uploads_and_unknown_jobs_raise_their_classes(bank, tmp_path):
    big = tmp_path / "big.csv"
    big.write_bytes(NOISE.read_bytes() * (2_000_000 // NOISE.stat().st_size + 1))
    with pytest.raises(BodyTooLarge) as caught:  # refused on its Content-Length, before the body is sent
        bank.import_corpus(big, format="normbank")
    assert caught.value.status == 413
    with pytest.raises(UnreadableCorpus) as caught:
        bank.import_corpus(b'{"not": "a normbank export"}\n', format="normbank-jsonl")
    assert caught.value.status == 422 and caught.value.code == "malformed_corpus"
    with pytest.raises(ImportNotFound):
        bank.import_job("0" * 32)


def test_a_job_that_fails_raises_import_failed_with_the_job(bank, tmp_path):
    good = tmp_path / "good.jsonl"
    bank.export(good, source="normbank-sample")
    header = good.read_bytes().splitlines()[0]
    job = bank.import_corpus(header + b"\n{not json at all\n", format="normbank-jsonl", source="broken")
    with pytest.raises(ImportFailed) as caught:
        bank.wait_for_import(job.id, timeout=120, interval=0.1)
    assert caught.value.job.id == job.id and caught.value.job.status == "failed" and caught.value.job.error
    assert bank.norms(source="broken", limit=1).count == 0


def test_waiting_gives_up_after_the_timeout(bank):
    job = bank.import_corpus(NORMDIAL, format="normdial", source="normdial-slow")
    with pytest.raises(TimeoutError):
        bank.wait_for_import(job.id, timeout=0.0, interval=0.05)
    assert bank.wait_for_import(job.id, timeout=120, interval=0.1).status == "succeeded"


def test_writes_are_forbidden_on_a_server_without_tokens(agent_bank, tmp_path):
    url, data_dir = agent_bank
    running = serve(url, agent_env(data_dir), tmp_path / "serve.log")
    try:
        with Client(running.url, token=TOKEN) as writer, pytest.raises(Forbidden) as caught:
            writer.remove_source("normdial")
        assert caught.value.status == 403 and "NORMBANK_API_TOKEN" in caught.value.message
    finally:
        running.stop()


def test_a_write_is_sent_once_even_when_the_server_answers_503(tmp_path):
    url = f"sqlite:///{tmp_path / 'never-initialised.db'}"
    env = {**agent_env(tmp_path), "NORMBANK_DATABASE_URL": url, "NORMBANK_API_TOKEN": TOKEN}
    app = Server([sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--port", "{port}",
                  "--log-level", "warning"], env, tmp_path / "uvicorn.log").wait("/healthz")
    try:
        started = time.monotonic()
        with Client(app.url, token=TOKEN, retries=5, backoff=30, max_backoff=30) as writer:
            with pytest.raises(DatabaseUnavailable):
                writer.remove_source("anything")
            assert time.monotonic() - started < 20  # a retry would have waited 30 s first
            with pytest.raises(DatabaseUnavailable):  # a read is retried: here, once, after 0.2 s
                Client(app.url, retries=1, backoff=0.2).sources()
    finally:
        app.stop()


def test_the_async_client_imports_exports_and_removes(server, tmp_path):
    async def scenario():
        async with AsyncClient(server.url, token=TOKEN, timeout=60) as bank:
            job = await bank.import_corpus(NOISE, format="normbank", source="noise-async")
            done = await bank.wait_for_import(job.id, timeout=120, interval=0.1)
            rejected = await bank.rejected(job.id)
            written = await bank.export(tmp_path / "async.jsonl", source="noise-async")
            streamed = b"".join([chunk async for chunk in bank.iter_export(source="noise-async")])
            removal = await bank.remove_source("noise-async")
            folder = await bank.wait_for_import((await bank.import_corpus(NORMDIAL, format="normdial",
                                                                          source="normdial-async")).id, timeout=120)
            await bank.remove_source("normdial-async")
            with pytest.raises(Unauthorized):
                async with AsyncClient(server.url) as stranger:
                    await stranger.import_corpus(NOISE, format="normbank")
            return done, rejected, written, streamed, removal, folder

    done, rejected, written, streamed, removal, folder = anyio.run(scenario)
    assert folder.status == "succeeded" and folder.report["loaded"] > 0  # a directory, packed off the event loop
    assert done.status == "succeeded" and len(rejected) == done.report["rejected"] == 10
    assert written == len(streamed) == (tmp_path / "async.jsonl").stat().st_size
    assert removal.norms == done.report["loaded"]
