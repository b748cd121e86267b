"""What the agent-facing layers cost, as JSON: `ground_situation` over MCP stdio against the same
`POST /v1/ground` over HTTP, and `normbank.client`'s `iter_query` against raw HTTP pages.

    python tests/bench/bench_agents.py [--rounds 5] [--ground 32] [--ground-retrieval model|hashing|off]
        [--page 50] [--rows 155423] [--seed 0] [--skip ground,iter_query] [--workdir var/bench/http] [--out FILE]

ground: the sample corpus plus NormDial with the packaged model and its index (bench_http.prepare_small
and build_index, made once in --workdir and reused); one `normbank serve` and one `normbank mcp` (stdio,
driven by the SDK's ClientSession) over that database, each warmed up, then --rounds rounds alternating
the two, each round sending the same --ground NormDial situations (k=5) one at a time. Latency per call
from the client's side (httpx keep-alive for HTTP); the figure is the median per call and the ratio of
the medians.

iter_query: the generated NormBank-scale corpus (bench_http.prepare_full, --rows, --seed); one
`normbank serve` (index off); the largest setting with an empty context, all pages of --page results,
--rounds rounds alternating `Client.iter_query` (pydantic models) and a raw loop (httpx posts following
next_cursor, `response.json()`). The figure is the median wall time of a whole walk.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import httpx  # noqa: E402
from anyio.from_thread import start_blocking_portal  # noqa: E402

from bench_http import NORMBANK, REPO, Server, build_index, ground_bodies, prepare_full, prepare_small  # noqa: E402
from run_all import emit, summary  # noqa: E402


def _ms(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 2)


def bench_ground(work: Path, rounds: int, n: int, rng: random.Random, retrieval: str) -> dict:
    from mcp import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    url, data_dir, corpus = prepare_small(work / "small")
    env = {**os.environ, "NORMBANK_DATABASE_URL": url, "NORMBANK_DATA_DIR": str(data_dir), "PYTHONPATH": str(REPO)}
    if retrieval == "off":  # full-text search alone: no encoding, so the transports' own cost shows most
        env["NORMBANK_INDEX_ON_START"] = "off"
        index = {"built": False, "note": "NORMBANK_INDEX_ON_START=off: lexical retrieval only"}
    else:
        if retrieval == "hashing":
            data_dir = work / "small-hashing"
            data_dir.mkdir(parents=True, exist_ok=True)
            env.update(NORMBANK_EMBEDDING_MODEL="hashing", NORMBANK_DATA_DIR=str(data_dir))
            os.environ.update(NORMBANK_EMBEDDING_MODEL="hashing")  # build_index runs `normbank index` with os.environ
        index = build_index(url, data_dir)
    bodies = ground_bodies(rng, n)
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    http_server = Server("normbank", [NORMBANK, "serve", "--log-level", "warning"], env, None, logs / "agents-serve.log")
    http_server.wait("/readyz")
    params = StdioServerParameters(command=NORMBANK, args=["mcp"], env=env)
    samples: dict[str, list[float]] = {"http": [], "mcp": []}
    rounds_out: list[dict] = []
    try:
        with start_blocking_portal() as portal, httpx.Client(base_url=f"http://127.0.0.1:{http_server.port}", timeout=120) as http:
            with portal.wrap_async_context_manager(stdio_client(params)) as (read, write), \
                    portal.wrap_async_context_manager(ClientSession(read, write)) as session:
                portal.call(session.initialize)

                def via_http(body: dict) -> None:
                    response = http.post("/v1/ground", json=body)
                    assert response.status_code == 200, response.text

                def via_mcp(body: dict) -> None:
                    result = portal.call(lambda: session.call_tool("ground_situation", body))
                    assert not result.is_error, result.content

                for run in (via_http, via_mcp):  # warm-up: the encoder, the index, the frame cache
                    for body in bodies[:8]:
                        run(body)
                for r in range(rounds):
                    order = [("http", via_http), ("mcp", via_mcp)] if r % 2 == 0 else [("mcp", via_mcp), ("http", via_http)]
                    this_round = {}
                    for name, run in order:
                        times = []
                        for body in bodies:
                            started = time.perf_counter()
                            run(body)
                            times.append(time.perf_counter() - started)
                        samples[name] += times
                        this_round[name] = _ms(times)
                    rounds_out.append(this_round)
    finally:
        http_server.stop()
    http_ms, mcp_ms = _ms(samples["http"]), _ms(samples["mcp"])
    return {"corpus": corpus.get("corpus", "sample + normdial"), "retrieval": retrieval, "index": index,
            "calls_per_round": len(bodies),
            "rounds": rounds_out, "http_median_ms": http_ms, "mcp_median_ms": mcp_ms,
            "ratio_mcp_over_http": round(mcp_ms / http_ms, 3),
            "per_round_ratio": summary([r["mcp"] / r["http"] for r in rounds_out])}


def largest_setting(url: str) -> str:
    from sqlalchemy import func, select

    from schema.engine import make_engine
    from schema.models import Norm, Setting

    engine = make_engine(url)
    with engine.connect() as conn:
        name = conn.execute(select(Setting.name).join(Norm, Norm.setting_id == Setting.id).group_by(Setting.name)
                            .order_by(func.count().desc(), Setting.name).limit(1)).scalar_one()
    engine.dispose()
    return name


def bench_iter_query(work: Path, rows: int, seed: int, rounds: int, page: int) -> dict:
    from normbank.client import Client

    url, data_dir, corpus = prepare_full(work / f"normbank-{rows}-{seed}", rows, seed)
    setting = largest_setting(url)
    env = {**os.environ, "NORMBANK_DATABASE_URL": url, "NORMBANK_DATA_DIR": str(data_dir),
           "NORMBANK_INDEX_ON_START": "off", "PYTHONPATH": str(REPO)}
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    server = Server("normbank", [NORMBANK, "serve", "--log-level", "warning"], env, None, logs / "agents-query.log")
    server.wait("/healthz")
    base = f"http://127.0.0.1:{server.port}"
    times: dict[str, list[float]] = {"client": [], "raw": []}
    counts: dict[str, int] = {}
    try:
        with Client(base, timeout=300) as client, httpx.Client(base_url=base, timeout=300) as http:
            def via_client() -> int:
                return sum(1 for _ in client.iter_query(setting, limit=page))

            def via_raw() -> int:
                cursor, seen = None, 0
                while True:
                    body = {"setting": setting, "limit": page, **({"cursor": cursor} if cursor else {})}
                    data = http.post("/v1/query", json=body).json()
                    seen += len(data["results"])
                    if not (cursor := data["next_cursor"]):
                        return seen

            via_raw(), via_client()  # warm-up: the setting compiled, the answers made once
            for r in range(rounds):
                for name, walk in ([("raw", via_raw), ("client", via_client)] if r % 2 == 0
                                   else [("client", via_client), ("raw", via_raw)]):
                    started = time.perf_counter()
                    counts[name] = walk()
                    times[name].append(time.perf_counter() - started)
    finally:
        server.stop()
    assert counts["raw"] == counts["client"], counts
    return {"corpus": {k: corpus[k] for k in ("rows", "seed", "distinct_frames") if k in corpus}, "setting": setting,
            "results": counts["raw"], "page": page, "pages": -(-counts["raw"] // page),
            "raw_seconds": summary(times["raw"]), "client_seconds": summary(times["client"]),
            "ratio_client_over_raw": round(statistics.median(times["client"]) / statistics.median(times["raw"]), 3)}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ground", type=int, default=32, help="ground situations per round")
    parser.add_argument("--page", type=int, default=50, help="iter_query page size (the API's default)")
    parser.add_argument("--rows", type=int, default=155_423)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip", default="", help="comma-separated: ground, iter_query")
    parser.add_argument("--ground-retrieval", choices=("model", "hashing", "off"), default="model",
                        help="model: the packaged model and its index (the default); hashing: the model-free test "
                        "encoder; off: full-text search only")
    parser.add_argument("--workdir", type=Path, default=REPO / "var" / "bench" / "http")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    report: dict = {"benchmark": "agents", "cores": os.cpu_count(), "rounds": args.rounds}
    if "ground" not in skip:
        report["ground"] = bench_ground(args.workdir, args.rounds, args.ground, random.Random(args.seed),
                                       args.ground_retrieval)
    if "iter_query" not in skip:
        report["iter_query"] = bench_iter_query(args.workdir, args.rows, args.seed, args.rounds, args.page)
    return emit(report, args.out)


if __name__ == "__main__":
    main()
