"""Regenerate api/example_responses.json: the answers the app gives to api/examples.py's requests over the
packaged sample corpus, with the packaged embedding model. Run after changing a response model:

    .venv/bin/python scripts/regenerate_api_examples.py
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

TIMESTAMPS = ("finished_at", "started_at", "created_at")


def _scrub(value):
    """Timestamps change on every run: pin them so the file only changes when answers do."""
    if isinstance(value, dict):
        return {k: ("2026-01-01T00:00:00+00:00" if k in TIMESTAMPS and v else _scrub(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def _operations(client) -> dict:
    """An import job over HTTP (the sample again, as a second source) and that source's removal."""
    import time

    auth = {"Authorization": "Bearer example"}
    from normbank.cli import sample_corpus_path

    job = client.post("/v1/imports", params={"format": "normbank", "source": "my-copy"}, headers=auth,
                      content=sample_corpus_path().read_bytes()).json()
    while (done := client.get(f"/v1/imports/{job['id']}").json())["status"] in ("queued", "running"):
        time.sleep(0.1)
    pin = lambda j: {**j, "id": "3f2c9a0e5b7d4c1e8f6a2b9d0c7e5a14",  # noqa: E731
                     "report": j["report"] and {**j["report"], "seconds": 0.05}}
    return {"IMPORT_JOB": pin(done), "IMPORT_JOBS": {"data": [pin(done)], "count": 1},
            "REMOVAL": client.delete("/v1/sources/my-copy", headers=auth).json()}


def main() -> None:
    from fastapi.testclient import TestClient

    from api import examples
    from api.app import create_app
    from ingest.pipeline import run_import
    from normbank.cli import sample_corpus_path
    from normbank.config import get_settings
    from schema.engine import make_engine
    from schema.migrate import upgrade

    work = Path(tempfile.mkdtemp(prefix="normbank-examples-"))
    url = f"sqlite:///{work / 'examples.db'}"
    engine = make_engine(url)
    upgrade(engine)
    run_import(engine=engine, format="normbank", path=sample_corpus_path(), source="normbank-sample")
    app = create_app(get_settings(database_url=url, data_dir=work, index_on_start="demand", api_token="example"))
    with TestClient(app) as client:
        judge = client.post("/v1/judge", json=examples.JUDGE_REQUESTS["teen customer"]["value"]).json()
        query = client.post("/v1/query", json=examples.QUERY_REQUESTS["one behaviour"]["value"]).json()
        norm_id = judge["frames"][0]["id"]
        answers = {
            "QUERY_RESPONSE": query,
            "JUDGE_RESPONSE": judge,
            "NORM": client.get(f"/v1/norms/{norm_id}").json(),
            "NORMS": client.get("/v1/norms", params={"setting": "restaurant", "behavior": "drink alcohol", "limit": 1}).json(),
            "SETTINGS": {**(s := client.get("/v1/settings").json()), "data": s["data"][:2]},
            "SETTING": client.get("/v1/settings/restaurant").json(),
            "TAXONOMY": {"dimensions": [d for d in client.get("/v1/taxonomy").json()["dimensions"]
                                        if (d["subject"], d["name"]) in {("person", "age bracket"),
                                                                        ("environment", "time of day")}]},
            "SOURCES": client.get("/v1/sources").json(),
            "SEARCH": client.get("/v1/search", params=examples.SEARCH_QUERY).json(),
            "GROUND_RESPONSE": client.post("/v1/ground", json=examples.GROUND_REQUESTS["restaurant"]["value"]).json(),
        }
        answers.update(_operations(client))
    for name, value in answers.items():
        assert not isinstance(value.get("error"), dict), (name, value)  # an error envelope
    text = json.dumps({name: _scrub(value) for name, value in answers.items()}, indent=1, ensure_ascii=False)
    (REPO / "api" / "example_responses.json").write_text(text + "\n", encoding="utf-8")
    print(f"wrote api/example_responses.json ({len(answers)} examples)")


if __name__ == "__main__":
    main()
