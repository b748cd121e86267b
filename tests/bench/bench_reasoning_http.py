"""/v1/judge and a full /v1/query of the largest setting through the whole app, in process, as JSON.

    python tests/bench/bench_reasoning_http.py --database sqlite:///var/bench.db [--judges 1000] [--queries 40]
                                               [--url http://127.0.0.1:8000]

What a client sees minus the network: FastAPI's TestClient drives the real app (middleware, routing,
request validation, the routes' serialisation) over a bank that already holds a corpus (e.g. the 155k
generated one). The vector index is not built (NORMBANK_INDEX_ON_START=off): neither endpoint uses it.
Judges rotate over 400 bodies (random behaviours, age brackets, times of day); full queries (limit 1000)
over the 20 age-bracket x time-of-day contexts, after one pass that warms the remembered answers. To
compare two checkouts, run this file from each (PYTHONPATH=<checkout>), alternating. With --url the same
requests go over real HTTP (httpx, one keep-alive connection) to a `normbank serve` already running on
that bank (--database then only picks the setting and behaviours).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

AGES = ["toddler", "teen", "young adult", "middle-aged adult", "senior citizen"]
TIMES = ["morning", "noon", "evening", "night"]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default=os.environ.get("NORMBANK_DATABASE_URL"))
    parser.add_argument("--judges", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--url", help="a running server to send the requests to, instead of the app in process")
    args = parser.parse_args(argv)
    os.environ["NORMBANK_INDEX_ON_START"] = "off"

    import httpx
    from fastapi.testclient import TestClient
    from sqlalchemy import create_engine, text

    from api.app import create_app
    from normbank.config import get_settings

    with create_engine(args.database).connect() as conn:
        largest = conn.execute(text(
            "SELECT s.name FROM setting s JOIN norm n ON n.setting_id = s.id GROUP BY s.name "
            "ORDER BY count(*) DESC LIMIT 1")).scalar()
        behaviors = sorted(r[0] for r in conn.execute(text(
            "SELECT DISTINCT b.name FROM norm n JOIN behavior b ON b.id = n.behavior_id "
            "JOIN setting s ON s.id = n.setting_id WHERE s.name = :s"), {"s": largest}))
    rng = random.Random(0)
    judges = [{"setting": largest, "behavior": rng.choice(behaviors),
               "person": {"attributes": {"age bracket": rng.choice(AGES)}},
               "environment": {"time of day": rng.choice(TIMES)}} for _ in range(400)]
    queries = [{"setting": largest, "limit": 1000, "person": {"attributes": {"age bracket": a}},
                "environment": {"time of day": t}} for a in AGES for t in TIMES]
    report: dict = {"benchmark": "reasoning_http_inprocess", "cores": os.cpu_count(), "setting": largest}
    with tempfile.TemporaryDirectory() as data_dir, \
            (httpx.Client(base_url=args.url, timeout=60) if args.url else
             TestClient(create_app(get_settings(database_url=args.database, data_dir=data_dir)))) as client:
        report["via"] = args.url or "TestClient"
        for body in queries:
            assert client.post("/v1/query", json=body).status_code == 200
        for name, path, bodies, n in (("judge", "/v1/judge", judges, args.judges),
                                      ("query_full_warm", "/v1/query", queries, args.queries)):
            samples = []
            for i in range(n):
                started = time.perf_counter_ns()
                response = client.post(path, json=bodies[i % len(bodies)])
                samples.append(time.perf_counter_ns() - started)
                assert response.status_code == 200, response.text[:200]
            report[name] = {"p50_ms": round(statistics.median(samples) / 1e6, 3), "n": n}
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
