"""Peer benchmark: a vector database with metadata filtering (Chroma, embedded) on the NormDial grounding
queries, next to our `/v1/ground` on the same held-out situations, in one process.

    python tests/bench/peers/chroma_peer.py [--normdial ../shared/data/normdial] [--fold test|dev]
        [--workdir DIR [--reuse]] [--repeats 3] [--model NAME]

The split and the gold norms are retrieval_normdial.py's (its functions are imported): situations are
hashed into five folds, the held-out fold's situations are the queries and each one's gold is the norm it
was written for. Our side: retrieval_normdial.main() ingests the other folds into a SQLite bank under
--workdir and builds our indexes, and reports our recall; with --reuse an existing --workdir from an
earlier run (e.g. run_all.py's) is used as it is. Then, in this process and on the same bank:

- Chroma (chromadb, embedded PersistentClient in --workdir, telemetry off, `embedding_function=None`, so
  it never loads or downloads its default ONNX model) gets one document per norm of our bank: the text our
  index embeds for that norm, its vector as our index stores it (made by our encoder, the packaged
  all-MiniLM-L6-v2 unless --model; a few are re-encoded as a check), and the culture and country as
  metadata. Queries are the situation's vector from the same encoder,
  asked for the top 50 (MRR looks at 50 ranks, like retrieval_normdial.py), without a filter and with
  `where={"country": ...}` (the analogue of passing the culture as context). A second collection holds our
  index's norm prototypes (the norm text's vector blended with its example situations' centroid,
  schema.indexing.prototypes) instead of the plain text vectors: the same stored vectors as our dense
  side. Chroma's queries stay the plain situation vectors: our side also puts its query through the map
  it learned from the bank's example situations (normbank/retrieval/adapter.py), which a Chroma user would
  not have.
- Ours: `api.service.ground` (what the HTTP route calls) in dense mode, hybrid mode, and hybrid mode with
  the culture as `environment.country`.

Reported per system: recall@1, recall@5, MRR (retrieval_normdial.metrics) and query latency p50/p99 per
repeat and their median/min/max over --repeats; Chroma's latency with and without encoding the query
(ours always includes it: ground takes text). Prints one JSON object on stdout; progress on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

BENCH = Path(__file__).resolve().parents[1]
REPO = BENCH.parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(BENCH))

import numpy as np  # noqa: E402

import retrieval_normdial as rn  # noqa: E402  (the split, the country names, K and the metrics)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def summary(values: list[float]) -> dict:
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3),
            "max": round(max(values), 3), "runs": len(values)}


def p50_p99(ms: list[float]) -> dict:
    ms = sorted(ms)
    return {"p50_ms": round(statistics.median(ms), 3), "p99_ms": round(ms[min(len(ms) - 1, int(0.99 * len(ms)))], 3)}


def over_repeats(runs: list[dict]) -> dict:
    return {"p50_ms": summary([r["p50_ms"] for r in runs]), "p99_ms": summary([r["p99_ms"] for r in runs]),
            "per_repeat": runs}


def rank_of(gold, ids: list) -> int | None:
    return ids.index(gold) + 1 if gold is not None and gold in ids else None


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--normdial", type=Path, default=REPO.parent / "shared" / "data" / "normdial")
    parser.add_argument("--fold", choices=("test", "dev"), default="test")
    parser.add_argument("--model", default=None, help="embedding model (default: the packaged all-MiniLM-L6-v2)")
    parser.add_argument("--workdir", type=Path, default=None, help="our bank, our indexes and Chroma's files")
    parser.add_argument("--reuse", action="store_true",
                        help="use the bank and indexes already in --workdir (made by retrieval_normdial.py)")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes over the held-out situations")
    parser.add_argument("--limit", type=int, default=None,
                        help="only the first N held-out situations (a quick check; not comparable figures)")
    args = parser.parse_args(argv)
    if not args.normdial.is_dir():
        raise SystemExit(f"NormDial not found at {args.normdial}")
    if args.reuse and not (args.workdir and (args.workdir / "bench.db").is_file()):
        raise SystemExit("--reuse needs a --workdir holding bench.db from retrieval_normdial.py")

    work = args.workdir or Path(tempfile.mkdtemp(prefix="chroma-peer-"))
    work.mkdir(parents=True, exist_ok=True)
    ours_report = None
    if not args.reuse:
        log("our side: retrieval_normdial.py (ingest, index, recall) ...")
        rn_args = ["--normdial", str(args.normdial), "--fold", args.fold, "--workdir", str(work)]
        if args.model:
            rn_args += ["--model", args.model]
        with contextlib.redirect_stdout(sys.stderr):  # its JSON is folded into ours
            ours_report = rn.main(rn_args)

    # The same held-out rows as retrieval_normdial.py (its split, recomputed into a scratch copy).
    held_out, dropped = ({0}, set()) if args.fold == "test" else ({1}, {0})
    with tempfile.TemporaryDirectory() as scratch:
        held = rn.split_corpus(args.normdial, Path(scratch), held_out, dropped)
    if args.limit:
        held = held[: args.limit]

    from sqlalchemy import select

    from api import service
    from api.models import GroundRequest
    from api.retrieval import Retriever
    from ingest.readers.normdial import rule_text
    from normbank.config import get_settings
    from normbank.ids import public_norm_id
    from schema.engine import make_engine
    from schema.frames import FrameCache
    from schema.models import Norm
    from schema.texts import collections

    settings = get_settings(database_url=f"sqlite:///{work / 'bench.db'}", data_dir=work,
                            embedding_model=args.model, index_on_start="demand")
    engine = make_engine(settings.resolved_database_url)
    cache = FrameCache(engine)
    retriever = Retriever(engine, settings)
    encoder = retriever.encoder

    # Gold: the norm each situation was written for, keyed as retrieval_normdial.py keys it.
    with engine.connect() as conn:
        norm_rows = conn.execute(select(Norm.id, Norm.culture, Norm.category, Norm.label, Norm.rule_text)).all()
        texts = collections(conn)
    gold_ids = {(culture, category, label, (rule or "").strip()): nid for nid, culture, category, label, rule in norm_rows}
    culture_of = {nid: culture for nid, culture, *_ in norm_rows}

    def gold_of(row) -> int | None:
        label = "expected" if row["polarity"] == "adherence" else "taboo"
        return gold_ids.get((row["culture"], row["category"], label, rule_text(row["norm"])))

    golds = [gold_of(row) for row in held]

    # -- Chroma: same encoder, same norm texts, culture/country as metadata --------------------------
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    # The vectors our index holds (built by our encoder from these texts): the very same embeddings, and no
    # second embedding pass. A FAISS flat or HNSW-flat index stores its vectors, so they reconstruct exactly.
    loaded = retriever.indexes()
    if loaded is None:
        raise SystemExit(f"no index in {work}; run without --reuse")

    def stored(name: str) -> tuple[list[int], np.ndarray]:
        return loaded.collections[name].entries()

    text_of = dict(texts["norms"])
    norm_ids, norm_vectors = stored("norms")
    proto_ids, proto_vectors = stored("norm_prototypes")
    order = {nid: row for row, nid in enumerate(proto_ids)}
    proto_vectors = proto_vectors[[order[nid] for nid in norm_ids]]
    # Check: the stored vectors are our encoder's vectors of these texts (a few of them, re-encoded now).
    sample = norm_ids[:: max(1, len(norm_ids) // 8)]
    fresh = encoder.encode([text_of[nid] for nid in sample])
    vectors_match = float(np.min(np.sum(fresh * norm_vectors[[norm_ids.index(n) for n in sample]], axis=1)))

    chroma_dir = Path(tempfile.mkdtemp(prefix="chroma-", dir=work))  # one per run: runs may share --workdir
    client = chromadb.PersistentClient(path=str(chroma_dir), settings=ChromaSettings(anonymized_telemetry=False))
    batch = client.get_max_batch_size()
    documents = [text_of[nid] for nid in norm_ids]
    metadatas = [{"culture": culture_of[nid] or "", "country": rn.COUNTRY.get(culture_of[nid] or "", "")}
                 for nid in norm_ids]
    collections_built = {}
    for name, vectors in (("norm_texts", norm_vectors), ("norm_prototypes", proto_vectors)):
        with contextlib.suppress(Exception):
            client.delete_collection(name)
        t0 = time.perf_counter()
        collection = client.create_collection(name, embedding_function=None,
                                              configuration={"hnsw": {"space": "cosine"}})
        for start in range(0, len(norm_ids), batch):
            end = start + batch
            collection.add(ids=[str(n) for n in norm_ids[start:end]], embeddings=vectors[start:end],
                           documents=documents[start:end], metadatas=metadatas[start:end])
        collections_built[name] = (collection, time.perf_counter() - t0)

    # -- timed passes -----------------------------------------------------------------------------------
    situations = [row["situation"] for row in held]
    countries = [rn.COUNTRY[row["culture"]] for row in held]
    chroma_variants = {
        "chroma_norm_texts": ("norm_texts", False),
        "chroma_norm_texts_country": ("norm_texts", True),
        "chroma_prototypes": ("norm_prototypes", False),
        "chroma_prototypes_country": ("norm_prototypes", True),
    }
    ours_variants = {
        "ours_dense": ("dense", False),
        "ours_hybrid": ("hybrid", False),
        "ours_hybrid_context": ("hybrid", True),
    }
    ranks: dict[str, list] = {}
    timing: dict[str, list[dict]] = {name: [] for name in [*chroma_variants, *ours_variants]}
    timing_query_only: dict[str, list[dict]] = {name: [] for name in chroma_variants}
    public_gold = [public_norm_id(g) if g is not None else None for g in golds]
    for repeat in range(args.repeats):
        log(f"repeat {repeat + 1}/{args.repeats} ...")
        for name, (collection_name, filtered) in chroma_variants.items():
            collection = collections_built[collection_name][0]
            total, query_only, found = [], [], []
            for situation, country, gold in zip(situations, countries, golds):
                t0 = time.perf_counter()
                vector = encoder.encode([situation])
                t1 = time.perf_counter()
                result = collection.query(query_embeddings=vector, n_results=rn.K, include=["distances"],
                                          where={"country": country} if filtered else None)
                t2 = time.perf_counter()
                total.append((t2 - t0) * 1000)
                query_only.append((t2 - t1) * 1000)
                found.append(rank_of(str(gold) if gold is not None else None, result["ids"][0]))
            timing[name].append(p50_p99(total))
            timing_query_only[name].append(p50_p99(query_only))
            ranks[name] = found
        for name, (mode, with_context) in ours_variants.items():
            total, found = [], []
            for situation, country, gold in zip(situations, countries, public_gold):
                request = GroundRequest(situation=situation, k=rn.K,
                                        environment={"country": country} if with_context else {})
                t0 = time.perf_counter()
                response = service.ground(cache, retriever, request, mode=mode)
                total.append((time.perf_counter() - t0) * 1000)
                found.append(rank_of(gold, [n["id"] for n in response["norms"]]))
            timing[name].append(p50_p99(total))
            ranks[name] = found

    results = {name: {**rn.metrics(ranks[name]), "latency": over_repeats(timing[name])} for name in ranks}
    for name in chroma_variants:
        results[name]["latency_query_only"] = over_repeats(timing_query_only[name])
    ours_best, chroma_fair = results["ours_hybrid_context"], results["chroma_norm_texts_country"]
    report = {
        "benchmark": "chroma_peer_normdial",
        "fold": args.fold,
        "cores": os.cpu_count(),
        "chromadb": chromadb.__version__,
        "model": encoder.name,
        "repeats": args.repeats,
        "held_out_situations": len(held),
        "limited_to": args.limit,
        "held_out_without_gold_in_bank": sum(1 for g in golds if g is None),
        "norms_in_bank": len(norm_ids),
        "example_situations_in_bank": len(texts["examples"]),
        "vectors": "our index's stored vectors (norms, norm_prototypes); min cosine to a fresh encoding of 8 "
                   f"norm texts: {vectors_match:.4f}",
        "chroma_add_seconds": {name: round(seconds, 2) for name, (_, seconds) in collections_built.items()},
        "chroma_default_model_cache_present": (Path.home() / ".cache" / "chroma").exists(),
        "results": results,
        "headline": {
            "ours": "ours_hybrid_context", "chroma": "chroma_norm_texts_country",
            "recall@5": {"ours": ours_best["recall@5"], "chroma": chroma_fair["recall@5"]},
            "p50_ms": {"ours": ours_best["latency"]["p50_ms"]["median"],
                       "chroma": chroma_fair["latency"]["p50_ms"]["median"]},
            "latency_ratio_ours_over_chroma": round(
                ours_best["latency"]["p50_ms"]["median"] / chroma_fair["latency"]["p50_ms"]["median"], 2),
            "target": "our recall@5 higher at no more than 2x Chroma's latency",
        },
    }
    if ours_report is not None:
        report["retrieval_normdial"] = {k: ours_report[k] for k in ("results", "ground_ms_p50", "ground_ms_p99",
                                                                     "ingest_seconds", "index")}
    del client
    shutil.rmtree(chroma_dir, ignore_errors=True)
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
