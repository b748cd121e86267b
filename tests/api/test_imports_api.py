"""Imports over HTTP as jobs: uploads (raw, multipart, zip, tar.gz), their status and report, rejected rows
as CSV, the limits and faults, and a restart in the middle of a job."""

from __future__ import annotations

import csv
import io
import tarfile
import time
import zipfile
from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from api.app import create_app
from ingest.pipeline import run_import
from schema.models import ImportJob, Norm
from tests.api.conftest import assert_error, ready
from tests.conftest import FIXTURES, app_settings

TOKEN = "t0ken"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NOISE = FIXTURES / "normbank" / "noise.csv"
NORMDIAL = FIXTURES / "normdial"


@pytest.fixture
def make_client(engine, database_url, tmp_path):
    clients = []

    def make(**overrides) -> TestClient:
        settings = app_settings(database_url, tmp_path / "data", api_token=TOKEN, **overrides)
        client = TestClient(create_app(settings)).__enter__()
        clients.append(client)
        return ready(client)

    yield make
    for client in clients:
        client.__exit__(None, None, None)  # stops the index watcher; a build it began must not outlive the database
        client.app.state.retriever.wait(60)


def finished(client: TestClient, job_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/imports/{job_id}").json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} still {job['status']} after {timeout}s")


def test_a_raw_upload_runs_as_a_job_with_the_cli_report(make_client, engine, tmp_path):
    client = make_client()
    version = client.get("/v1/sources").headers["x-normbank-data-version"]
    response = client.post("/v1/imports", params={"format": "normbank", "source": "noise"},
                           content=NOISE.read_bytes(), headers=AUTH)
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["status"] in ("queued", "running", "succeeded") and job["bytes"] == NOISE.stat().st_size
    job = finished(client, job["id"])
    assert job["status"] == "succeeded", job
    assert set(job["report"]) == {"source", "format", "read", "loaded", "duplicates", "rejected", "seconds"}
    assert (job["report"]["read"], job["report"]["rejected"], job["progress"]["read"]) == (31, 10, 31)
    assert client.get("/v1/norms", params={"source": "noise"}).json()["count"] == job["report"]["loaded"]
    assert client.get("/v1/sources").headers["x-normbank-data-version"] != version

    rejected = client.get(f"/v1/imports/{job['id']}/rejected")
    assert rejected.status_code == 200 and rejected.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(rejected.text)))
    assert rows[0] == ["row", "reason", "raw"] and len(rows) == 11 and all(r[1] for r in rows[1:])
    listed = client.get("/v1/imports").json()
    assert listed["count"] == 1 and listed["data"][0]["id"] == job["id"]
    assert not list((tmp_path / "data" / "uploads").glob("*/upload"))  # the upload is gone once imported


def _zip(folder) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in folder.rglob("*"):
            archive.write(path, f"normdial/{path.relative_to(folder)}")
    return buffer.getvalue()


def _tar_gz(folder) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(folder, arcname="normdial")
    return buffer.getvalue()


@pytest.mark.parametrize("pack", [_zip, _tar_gz])
def test_a_directory_corpus_comes_as_an_archive_in_a_multipart_upload(make_client, engine, pack):
    client = make_client()
    response = client.post("/v1/imports", data={"format": "normdial"}, headers=AUTH,
                           files={"file": ("normdial.bin", pack(NORMDIAL), "application/octet-stream")})
    assert response.status_code == 202, response.text
    job = finished(client, response.json()["id"])
    assert job["status"] == "succeeded" and job["filename"] == "normdial.bin" and job["report"]["loaded"] > 0
    expected = run_import(engine=engine, format="normdial", path=NORMDIAL, dry_run=True)
    assert job["report"]["read"] == expected.read


def test_bad_uploads_are_refused_with_the_error_envelope(make_client):
    client = make_client(max_upload_bytes=2000)
    post = lambda body, **params: client.post("/v1/imports", params=params, content=body, headers=AUTH)  # noqa: E731
    assert_error(post(NOISE.read_bytes() * 2, format="normbank"), 413, "body_too_large")
    assert_error(post(_zip(NORMDIAL)[:300], format="normdial"), 422, "malformed_corpus")
    assert_error(post(b"a,b\n1,2\n", format="normbank"), 422, "missing_columns")
    assert_error(post(b"a,b\n1,2\n", format="nope"), 422, "unknown_corpus")
    assert_error(post(b"a,b\n1,2\n"), 422, "invalid_request")
    assert_error(post(b"", format="normbank"), 422, "invalid_request")
    assert_error(client.post("/v1/imports", params={"format": "normbank"}, content=b"x"), 401, "unauthorized")
    assert_error(client.get("/v1/imports/nope"), 404, "import_not_found")
    assert_error(client.get("/v1/imports/nope/rejected"), 404, "import_not_found")
    assert client.get("/v1/imports").json()["count"] == 0


def test_writes_off_means_no_imports(engine, database_url, tmp_path):
    with TestClient(create_app(app_settings(database_url, tmp_path))) as client:
        assert_error(client.post("/v1/imports", params={"format": "normbank"}, content=b"x", headers=AUTH), 403,
                     "forbidden")


def test_a_restart_reports_the_interrupted_job_as_failed(make_client, engine, tmp_path):
    client = make_client()
    owner = client.app.state.imports.owner
    with engine.begin() as conn:  # what a server killed in the middle of an import leaves behind
        conn.execute(insert(ImportJob).values(id="j1", status="running", format="normbank", upload="/gone",
                                              bytes=1, owner=owner, created_at=datetime.now(timezone.utc), read=0))
        conn.execute(insert(ImportJob).values(id="j2", status="running", format="normbank", upload="/gone",
                                              bytes=1, owner="another-server", created_at=datetime.now(timezone.utc),
                                              read=0))
    restarted = make_client()
    job = restarted.get("/v1/imports/j1").json()
    assert job["status"] == "failed" and "restart or crash" in job["error"]
    assert restarted.get("/v1/imports/j2").json()["status"] == "running"  # not this server's to judge
    with engine.connect() as conn:
        assert conn.execute(select(Norm.id)).first() is None


def _csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.text)))


def test_a_multi_source_job_lists_the_rejected_rows_of_every_source(make_client, engine, tmp_path):
    from ingest.export import export_jsonl
    from ingest.removal import remove_source

    for name in ("noise-a", "noise-b"):  # an export holding two sources, each with rejected rows
        run_import(engine=engine, format="normbank", path=NOISE, source=name)
    with engine.connect() as conn:
        export = b"".join(export_jsonl(conn))
    for name in ("noise-a", "noise-b"):  # an empty bank again, for the export to fill
        remove_source(engine=engine, name=name)
    client = make_client()
    response = client.post("/v1/imports", params={"format": "normbank-jsonl"}, content=export, headers=AUTH)
    assert response.status_code == 202, response.text
    job = finished(client, response.json()["id"])
    assert job["status"] == "succeeded" and job["report"]["rejected"] == 20, job

    rows = _csv_rows(client.get(f"/v1/imports/{job['id']}/rejected"))
    assert rows[0] == ["row", "reason", "raw"] and len(rows) == 1 + 20
    per_source = {name: _csv_rows(client.get(f"/v1/sources/{name}/rejected")) for name in ("noise-a", "noise-b")}
    assert all(len(found) == 1 + 10 and found[0] == rows[0] for found in per_source.values())
    assert sorted(rows[1:]) == sorted(per_source["noise-a"][1:] + per_source["noise-b"][1:])


def test_a_sources_rejected_rows_whether_imported_by_cli_or_http(make_client, engine):
    run_import(engine=engine, format="normbank", path=NOISE, source="noise")
    client = make_client()
    rows = _csv_rows(client.get("/v1/sources/noise/rejected"))
    assert rows[0] == ["row", "reason", "raw"] and len(rows) == 11 and all(r[0].isdigit() and r[1] for r in rows[1:])
    assert [int(r[0]) for r in rows[1:]] == sorted(int(r[0]) for r in rows[1:])
    assert_error(client.get("/v1/sources/nope/rejected"), 404, "source_not_found")
    # The explorer's sources page, and the source's own page, link them.
    page = client.get("/sources", headers={"accept": "text/html"}).text
    assert 'href="/v1/sources/noise/rejected"' in page
    source_page = client.get("/sources/noise", headers={"accept": "text/html"}).text
    assert 'href="/v1/sources/noise/rejected"' in source_page


def test_a_removed_sources_rejected_rows_are_gone(make_client, engine):
    from ingest.removal import remove_source

    run_import(engine=engine, format="normbank", path=NOISE, source="noise")
    remove_source(engine=engine, name="noise")
    assert_error(make_client().get("/v1/sources/noise/rejected"), 404, "source_not_found")
