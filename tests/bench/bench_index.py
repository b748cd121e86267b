"""Index build at NormBank scale, HNSW against exact search, and server RSS, as one JSON object.

    python tests/bench/bench_index.py [--database sqlite:///var/bench.db] [--rows 155423] [--repeats 3]
                                      [--backends onnx,torch,onnx-int8] [--workdir DIR] [--out FILE]

Without `--database` it generates the corpus (generate_normbank.py, seed 0, `--rows` rows) and imports it
into a scratch SQLite file with `normbank ingest normbank`. Then, per embedding backend (one of
`NORMBANK_EMBEDDING_BACKEND`'s values) and per repeat, a fresh process builds every index from scratch
(`schema.indexing.build_index`, what `normbank index` runs) and reports distinct texts, texts/s, embedding
and indexing seconds, total build seconds, index size on disk and that process's peak RSS (GNU time).
ONNX models are exported once, before the timed builds.

Then, on the last build of each backend:
- `hnsw`: the largest collection (the norms, HNSW above the exact threshold) against exact search of the
  same vectors: recall@10 and per-query milliseconds (one FAISS thread) for real texts as queries;
- `server`: a server process (`create_app` on the database and the built indexes) after one `/v1/ground`
  call: its RSS and peak RSS, and whether the index it found was current.

Medians and min-max over `--repeats`. The machine's cores are shared with whatever else runs: timings are
noisy, CPU seconds are reported beside wall seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")  # as `normbank` sets it (normbank/cli.py); children inherit it

from run_all import PY, emit, run_json, summary  # noqa: E402

from normbank.config import EMBEDDING_BACKENDS  # noqa: E402

QUERIES = 300


def encoder_for(backend: str, models: Path):
    """The encoder a backend names (constructed only: nothing loads until it encodes)."""
    from normbank.retrieval.encoder import get_encoder

    return get_encoder(None, backend=backend, cache_dir=models)


def rss_mb() -> dict:
    status = Path("/proc/self/status").read_text()
    field = lambda name: int(next(line.split()[1] for line in status.splitlines() if line.startswith(name)))  # noqa: E731
    return {"rss_mb": round(field("VmRSS:") / 1024, 1), "peak_rss_mb": round(field("VmHWM:") / 1024, 1)}


# --- child processes -------------------------------------------------------------------------------

def child_build(args) -> dict:
    from normbank.retrieval.store import IndexStore
    from schema.engine import make_engine
    from schema.indexing import build_index

    engine = make_engine(args.database)
    encoder = encoder_for(args.backend, args.models)
    started, cpu = time.perf_counter(), time.process_time()
    encoder.encode(["warm up the model"])  # loading is not building
    load_seconds = time.perf_counter() - started
    started, cpu = time.perf_counter(), time.process_time()
    manifest = build_index(engine, IndexStore(args.data_dir / "indexes"), encoder)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    return {"model": manifest.model, "backend": encoder.backend,
            "distinct_texts": manifest.distinct_texts, "collections": manifest.collections,
            "embed_seconds": manifest.embed_seconds, "index_seconds": manifest.index_seconds,
            "build_seconds": round(seconds, 2), "cpu_seconds": round(cpu_seconds, 2),
            "load_seconds": round(load_seconds, 2),
            "texts_per_second": round(manifest.distinct_texts / manifest.embed_seconds, 1),
            "bytes_on_disk": manifest.bytes_on_disk, **rss_mb()}


def child_hnsw(args) -> dict:
    import faiss
    import numpy as np

    from normbank.retrieval.store import IndexStore
    from normbank.retrieval.vectors import VectorIndex
    from schema.engine import make_engine
    from schema.texts import collections

    loaded = IndexStore(args.data_dir / "indexes").load()
    name, index = max(loaded.collections.items(), key=lambda item: len(item[1]))
    inner = index._index
    vectors = inner.reconstruct_n(0, inner.ntotal) if not index.exact else None
    if vectors is None:
        return {"collection": name, "rows": len(index), "note": "exact already (below the HNSW threshold)"}
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    exact = VectorIndex(flat, index._ids, index._offsets)  # noqa: SLF001
    with make_engine(args.database).connect() as conn:
        texts = collections(conn)
    rng = random.Random(0)
    pool = [text for _, text in texts["behaviors"]] + [text for _, text in texts["values"]]
    queries = [f"{rng.choice(pool)}" for _ in range(QUERIES)]
    encoder = encoder_for(args.backend, args.models)
    query_vectors = np.vstack([encoder.encode([q]) for q in queries])  # one at a time, as the service does
    encode_ms = []
    for q in queries[:100]:
        t = time.perf_counter()
        encoder.encode([q])
        encode_ms.append((time.perf_counter() - t) * 1000)
    out = {"collection": name, "rows": len(index), "queries": QUERIES,
           "query_encode_ms_p50": round(statistics.median(encode_ms), 2)}
    found = {}
    for kind, vi in (("hnsw", index), ("exact", exact)):
        times, hits = [], []
        for q in query_vectors:
            t = time.perf_counter()
            hits.append(vi.search(q, 10)[0])
            times.append((time.perf_counter() - t) * 1000)
        found[kind] = hits
        out[f"{kind}_ms_p50"] = round(statistics.median(times), 3)
        out[f"{kind}_ms_p99"] = round(sorted(times)[int(0.99 * len(times))], 3)
    pairs = list(zip(found["hnsw"], found["exact"]))
    # Many norms share one text (the same behaviour and label under other conditions), so their vectors tie:
    # by ids, which of the tied norms fill the last places is arbitrary. By scores, a hit counts when it
    # is as close as the exact 10th neighbour.
    out["recall@10_ids"] = round(statistics.mean(len({i for i, _ in a} & {i for i, _ in b}) / 10 for a, b in pairs), 4)
    out["recall@10"] = round(statistics.mean(
        sum(1 for _, s in a if s >= b[-1][1] - 1e-5) / len(b) for a, b in pairs), 4)
    out["distinct_vectors"] = int(len(np.unique(vectors.round(5), axis=0)))
    return out


def child_server(args) -> dict:
    # The retriever looks for a cached ONNX export in <data dir>/models: point it at the one exported already.
    os.environ["NORMBANK_DATA_DIR"] = str(args.data_dir)
    if args.models.is_dir() and not (args.data_dir / "models").exists():
        (args.data_dir / "models").symlink_to(args.models.resolve(), target_is_directory=True)
    from fastapi.testclient import TestClient

    from api.app import create_app
    from normbank.config import get_settings

    settings = get_settings(database_url=args.database, data_dir=args.data_dir, index_on_start="demand",
                            embedding_backend=args.backend)
    before = rss_mb()
    started = time.perf_counter()
    with TestClient(create_app(settings)) as client:
        retriever = client.app.state.retriever
        stale = retriever.staleness()
        response = client.post("/v1/ground", json={"situation": "my boss invited me to dinner at a sushi place "
                                                                 "and I want to order a beer", "k": 5})
        seconds = time.perf_counter() - started
        return {"status": response.status_code, "index_stale_at_start": stale, "first_ground_seconds": round(seconds, 2),
                "norms_returned": len(response.json().get("norms", [])), "rss_before_app_mb": before["rss_mb"],
                **rss_mb()}


# --- parent ----------------------------------------------------------------------------------------

def child(mode: str, backend: str, database: str, data_dir: Path, models: Path) -> tuple[dict, float]:
    return run_json([PY, __file__, "--child", mode, "--backend", backend, "--database", database,
                     "--data-dir", str(data_dir), "--models", str(models)])


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default=None, help="a database already holding the corpus")
    parser.add_argument("--rows", type=int, default=155_423)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backends", default="onnx,torch",
                        help=f"comma-separated, of: {','.join(EMBEDDING_BACKENDS)} (default: onnx,torch)")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--child", choices=("build", "hnsw", "server"), help=argparse.SUPPRESS)
    parser.add_argument("--backend", choices=EMBEDDING_BACKENDS, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--models", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        result = {"build": child_build, "hnsw": child_hnsw, "server": child_server}[args.child](args)
        print(json.dumps(result))
        return result

    work = args.workdir or Path(tempfile.mkdtemp(prefix="normbank-bench-index-"))
    work.mkdir(parents=True, exist_ok=True)
    models = work / "models"
    report: dict = {"benchmark": "index", "cores": os.cpu_count(), "load_average_start": os.getloadavg()[0]}
    database = args.database
    if database is None:
        corpus = work / "NormBank.csv"
        report["generated"], _ = run_json([PY, str(BENCH / "generate_normbank.py"), str(corpus), "--rows",
                                           str(args.rows), "--seed", "0"])
        db = work / "corpus.db"
        db.unlink(missing_ok=True)
        database = f"sqlite:///{db}"
        normbank = str(Path(PY).parent / "normbank")
        subprocess.run([normbank, "init", "--database", database], check=True, capture_output=True)
        report["ingest"], _ = run_json([normbank, "ingest", "normbank", str(corpus), "--json", "--no-progress",
                                        "--database", database])
    report["database"] = database.split("///")[-1] if database.startswith("sqlite") else "postgresql"

    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = sorted(set(backends) - set(EMBEDDING_BACKENDS))
    if unknown:
        raise SystemExit(f"unknown backends {unknown}: expected some of {', '.join(EMBEDDING_BACKENDS)}")
    for backend in backends:
        data_dir = work / f"data-{backend}"
        runs = []
        encoder = encoder_for(backend, models)
        if backend != "torch":  # export once, untimed: a one-off per model and machine
            t = time.perf_counter()
            encoder.encode(["export"])
            report.setdefault("onnx_export_seconds", {})[backend] = round(time.perf_counter() - t, 1)
        for _ in range(args.repeats):
            shutil.rmtree(data_dir, ignore_errors=True)
            result, peak = child("build", backend, database, data_dir, models)
            result["process_peak_rss_mb"] = round(peak, 1)
            runs.append(result)
            print(f"{backend}: {json.dumps(result)}", file=sys.stderr)
        last = runs[-1]
        entry = {key: last[key] for key in ("model", "backend", "distinct_texts", "collections",
                                            "bytes_on_disk")}
        entry["index_mb_on_disk"] = round(last["bytes_on_disk"] / 1e6, 1)
        for key in ("texts_per_second", "embed_seconds", "index_seconds", "build_seconds", "cpu_seconds",
                    "process_peak_rss_mb"):
            entry[key] = summary([run[key] for run in runs])
        entry["hnsw"], _ = child("hnsw", backend, database, data_dir, models)
        entry["server"], _ = child("server", backend, database, data_dir, models)
        print(f"{backend}: hnsw {json.dumps(entry['hnsw'])} server {json.dumps(entry['server'])}", file=sys.stderr)
        report[backend] = entry
    report["load_average_end"] = os.getloadavg()[0]
    return emit(report, args.out)


if __name__ == "__main__":
    main()
