"""Server-side time of each explorer page against the JSON endpoint(s) it wraps, as JSON.

    python tests/bench/bench_explorer.py [--repeat 200] [--out var/bench/explorer.json]

Builds a SQLite database in a temporary directory with the packaged sample, the real NormBank taxonomy
and the real NormDial (../shared/data, or NORMBANK_SHARED_DATA), then times requests in process through
the ASGI app (no network, the same client overhead on both sides): page and endpoint alternate, after a
warm-up, and the report gives each side's median and their ratio. A page that wraps two endpoints (the
home page: settings and sources; the setting page: the setting and a query) is compared with the sum of
their medians. Free text is served by full-text search (no vector index: the cheaper endpoint, so the
stricter ratio)."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from run_all import emit  # noqa: E402

CONTEXT = {"person": {"role": "customer", "attributes": {"age bracket": "teen"}}}
SITUATION = "A 16-year-old customer asks the waiter for a beer."


def cases(norm_id: str) -> dict[str, tuple[tuple, list[tuple]]]:
    """page name -> (the page request, [the endpoint requests it wraps]); a request is (method, path, json, headers)."""
    judge = "/settings/restaurant/judge?behavior=drink+alcohol&role=customer&attr=age+bracket+%3D+teen"
    return {
        "home": (("GET", "/", None, {}), [("GET", "/v1/settings", None, {}), ("GET", "/v1/sources", None, {})]),
        "search": (("GET", "/search?q=drink+alcohol", None, {}), [("GET", "/v1/search?q=drink+alcohol", None, {})]),
        "setting": (("GET", "/settings/restaurant?role=customer&attr=age+bracket+%3D+teen", None, {}),
                    [("GET", "/v1/settings/restaurant", None, {}),
                     ("POST", "/v1/query", {"setting": "restaurant", **CONTEXT, "limit": 25}, {})]),
        "verdict": (("GET", judge, None, {}),
                    [("POST", "/v1/judge", {"setting": "restaurant", "behavior": "drink alcohol", **CONTEXT}, {})]),
        "verdict (in-place fragment)": (("GET", judge, None, {"x-explorer-fragment": "verdict"}),
                                        [("POST", "/v1/judge", {"setting": "restaurant", "behavior": "drink alcohol",
                                                                **CONTEXT}, {})]),
        "norm": (("GET", f"/norms/{norm_id}", None, {}), [("GET", f"/v1/norms/{norm_id}", None, {})]),
        "ground": (("GET", "/ground?situation=" + SITUATION.replace(" ", "+") + "&setting=restaurant", None, {}),
                   [("POST", "/v1/ground", {"situation": SITUATION, "setting": "restaurant"}, {})]),
        "sources": (("GET", "/sources", None, {}), [("GET", "/v1/sources", None, {})]),
        "source": (("GET", "/sources/normdial", None, {}), [("GET", "/v1/sources", None, {})]),
    }


def timed(client, request) -> float:
    method, path, body, headers = request
    start = time.perf_counter_ns()
    response = client.request(method, path, json=body, headers=headers)
    elapsed = (time.perf_counter_ns() - start) / 1e6
    assert response.status_code == 200, (path, response.status_code, response.text[:300])
    return elapsed


def build(home: Path):
    import normbank.cli
    from api.app import create_app
    from ingest.pipeline import run_import
    from normbank.config import get_settings
    from schema.engine import make_engine
    from schema.migrate import upgrade
    from tests.conftest import NORMDIAL_DIR, TAXONOMY_DIR

    url = f"sqlite:///{home / 'normbank.db'}"
    engine = make_engine(url)
    upgrade(engine)
    run_import(engine=engine, format="normbank", path=normbank.cli.sample_corpus_path(), source="normbank-sample")
    run_import(engine=engine, format="normbank-taxonomy", path=TAXONOMY_DIR)
    run_import(engine=engine, format="normdial", path=NORMDIAL_DIR)
    engine.dispose()
    return create_app(get_settings(database_url=url, data_dir=home, embedding_model="hashing", index_on_start="off"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    from fastapi.testclient import TestClient

    with tempfile.TemporaryDirectory() as tmp, TestClient(build(Path(tmp))) as client:
        norm_id = client.get("/v1/norms?setting=restaurant&behavior=drink+alcohol&limit=1").json()["data"][0]["id"]
        report = {}
        for name, (page, endpoints) in cases(norm_id).items():
            for _ in range(args.warmup):
                timed(client, page)
                for e in endpoints:
                    timed(client, e)
            page_ms, endpoint_ms = [], [[] for _ in endpoints]
            for _ in range(args.repeat):  # alternate: the machine's noise falls on both sides alike
                page_ms.append(timed(client, page))
                for samples, e in zip(endpoint_ms, endpoints):
                    samples.append(timed(client, e))
            page_median = statistics.median(page_ms)
            wrapped = sum(statistics.median(s) for s in endpoint_ms)
            report[name] = {"page": page[1], "endpoints": [f"{e[0]} {e[1]}" for e in endpoints],
                            "page_median_ms": round(page_median, 3), "endpoint_median_ms": round(wrapped, 3),
                            "ratio": round(page_median / wrapped, 2)}
    emit({"benchmark": "explorer pages vs JSON endpoints", "repeat": args.repeat,
          "database": "sqlite: sample + normbank taxonomy + normdial", "pages": report,
          "worst_ratio": max(r["ratio"] for r in report.values())}, args.out)


if __name__ == "__main__":
    main()
