"""Retrieval quality on held-out NormDial situations, as JSON.

    python tests/bench/retrieval_normdial.py [--normdial ../shared/data/normdial] [--fold test|dev] [--model NAME]
                                             [--backend torch|onnx|onnx-int8] [--mixed] [--also FORMAT=PATH ...]

Situations are split into five folds by a hash of their text. `--fold test` (the default) holds out fold 0
and ingests everything else; `--fold dev` holds out fold 1 and ingests folds 2-4 only, so tuning never
sees the test fold. For each held-out situation `/v1/ground` (in process, through the same service
function the HTTP route calls) is asked with the situation text, and in a second pass with the culture as
`environment.country`. Reported: recall@1, recall@5 and MRR of the gold norm (the norm the situation was
written for) for dense only, lexical only, hybrid, and hybrid with context.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")  # as `normbank` sets it (normbank/cli.py), so builds time alike

COUNTRY = {"American": "the united states", "Chinese": "china"}
K = 50  # ranks looked at for MRR


def fold_of(situation: str) -> int:
    return int(hashlib.sha256(situation.strip().encode("utf-8")).hexdigest(), 16) % 5


def split_corpus(source: Path, target: Path, held_out: set[int], dropped: set[int]) -> list[dict]:
    """Copy NormDial into `target` without the held-out (and dropped) folds; return the held-out rows."""
    held: list[dict] = []
    for path in sorted(source.glob("*/*/*/cleaned_dialogue.csv")):
        culture, polarity, category = path.parts[-4:-1]
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader)
            rows = list(reader)
        norm_col = header.index("American_Norm" if "American_Norm" in header else "Norm")
        sit_col = header.index("American_Situation" if "American_Situation" in header else "Situation")
        keep = []
        for row in rows:
            fold = fold_of(row[sit_col])
            if fold in held_out:
                held.append({"culture": culture, "polarity": polarity, "category": category,
                             "norm": row[norm_col], "situation": row[sit_col]})
            elif fold not in dropped:
                keep.append(row)
        out = target / culture / polarity / category / "cleaned_dialogue.csv"
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(keep)
    return held


def metrics(ranks: list[int | None]) -> dict:
    n = len(ranks)
    return {
        "recall@1": round(sum(1 for r in ranks if r is not None and r <= 1) / n, 4),
        "recall@5": round(sum(1 for r in ranks if r is not None and r <= 5) / n, 4),
        "mrr": round(sum(1 / r for r in ranks if r is not None) / n, 4),
        "n": n,
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--normdial", type=Path, default=REPO.parent / "shared" / "data" / "normdial")
    parser.add_argument("--fold", choices=("test", "dev"), default="test")
    parser.add_argument("--model", default=None, help="embedding model (default: the packaged all-MiniLM-L6-v2)")
    parser.add_argument("--backend", default=None, help="embedding backend (default: $NORMBANK_EMBEDDING_BACKEND, "
                                                         "else normbank's default)")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the database and index here")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON report here")
    parser.add_argument("--reuse", action="store_true",
                        help="reuse the database and index a previous run left in --workdir (same --fold)")
    parser.add_argument("--mixed", action="store_true",
                        help="a mixed bank: also load the packaged sample and the NormBank taxonomy (and --also)")
    parser.add_argument("--also", action="append", default=[], metavar="FORMAT=PATH",
                        help="another corpus in the same bank (repeatable): NormDial among other corpora")
    parser.add_argument("--variants", default="dense,lexical,hybrid,hybrid_context",
                        help="comma-separated subset of the four variants to run")
    args = parser.parse_args(argv)
    if not args.normdial.is_dir():
        raise SystemExit(f"NormDial not found at {args.normdial}")

    from normbank.config import get_settings
    from schema.engine import make_engine
    from schema.migrate import upgrade
    from ingest.pipeline import run_import
    from schema.frames import FrameCache
    from schema.models import Norm
    from api.retrieval import Retriever
    from api.models import GroundRequest
    from api import service
    from normbank.ids import public_norm_id
    from sqlalchemy import select

    work = args.workdir or Path(tempfile.mkdtemp(prefix="normdial-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    corpus = work / "normdial-train"
    shutil.rmtree(corpus, ignore_errors=True)
    held_out, dropped = ({0}, set()) if args.fold == "test" else ({1}, {0})
    held = split_corpus(args.normdial, corpus, held_out, dropped)

    db = work / "bench.db"
    reuse = args.reuse and db.exists()
    if not reuse:
        db.unlink(missing_ok=True)
    settings = get_settings(database_url=f"sqlite:///{db}", data_dir=work, embedding_model=args.model,
                            embedding_backend=args.backend, index_on_start="demand")
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    t0 = time.perf_counter()
    report_ingest = None if reuse else run_import(engine=engine, format="normdial", path=corpus)
    others = [(f, Path(p)) for f, p in (spec.split("=", 1) for spec in args.also)]
    if args.mixed:
        from normbank.cli import sample_corpus_path
        others = [("normbank", sample_corpus_path()), ("normbank-taxonomy", REPO.parent / "shared" / "data" / "normbank-taxonomy"),
                  *others]
    for format_, path in ([] if reuse else others):
        run_import(engine=engine, format=format_, path=path)
    ingest_seconds = time.perf_counter() - t0
    cache = FrameCache(engine)
    retriever = Retriever(engine, settings)
    t0 = time.perf_counter()
    if reuse and retriever.staleness() is None:
        index_seconds = None
    else:
        retriever.rebuild()
        index_seconds = time.perf_counter() - t0
    manifest = retriever.store.current_manifest()

    # Gold: the norm the situation was written for, identified like the reader does (culture, category,
    # polarity -> label, rule text).
    with engine.connect() as conn:
        gold_ids = {
            (culture, category, label, (rule or "").strip()): nid
            for nid, culture, category, label, rule in conn.execute(
                select(Norm.id, Norm.culture, Norm.category, Norm.label, Norm.rule_text))
        }

    def gold_of(row) -> str | None:
        from ingest.readers.normdial import rule_text

        label = "expected" if row["polarity"] == "adherence" else "taboo"
        nid = gold_ids.get((row["culture"], row["category"], label, rule_text(row["norm"])))
        return public_norm_id(nid) if nid is not None else None

    variants = {
        "dense": {"mode": "dense", "context": False},
        "lexical": {"mode": "lexical", "context": False},
        "hybrid": {"mode": "hybrid", "context": False},
        "hybrid_context": {"mode": "hybrid", "context": True},
    }
    results = {}
    latencies: dict[str, list[float]] = {}
    missing_gold = sum(1 for row in held if gold_of(row) is None)
    wanted = set(args.variants.split(","))
    for name, variant in ((n, v) for n, v in variants.items() if n in wanted):
        ranks, times = [], []
        for row in held:
            gold = gold_of(row)
            request = GroundRequest(
                situation=row["situation"], k=K,
                environment={"country": COUNTRY[row["culture"]]} if variant["context"] else {},
            )
            t = time.perf_counter()
            response = service.ground(cache, retriever, request, mode=variant["mode"])
            times.append((time.perf_counter() - t) * 1000)
            ids = [n["id"] for n in response["norms"]]
            ranks.append(ids.index(gold) + 1 if gold in ids else None)
        results[name] = metrics(ranks)
        latencies[name] = times
    report = {
        "benchmark": "retrieval_normdial",
        "fold": args.fold,
        "cores": os.cpu_count(),
        "model": manifest.model if manifest else None,
        "backend": getattr(retriever.encoder, "backend", None),
        "held_out_situations": len(held),
        "held_out_without_gold_in_bank": missing_gold,
        "reused": reuse,
        "other_corpora": [f"{f}={p}" for f, p in others],
        "ingested": report_ingest.to_json() if report_ingest else None,
        "ingest_seconds": None if reuse else round(ingest_seconds, 2),
        "index": {"seconds": None if index_seconds is None else round(index_seconds, 2), "distinct_texts": manifest.distinct_texts,
                  "bytes": manifest.bytes_on_disk, "collections": manifest.collections} if manifest else None,
        "results": results,
        "ground_ms_p50": {k: round(statistics.median(v), 2) for k, v in latencies.items()},
        "ground_ms_p99": {k: round(sorted(v)[min(len(v) - 1, int(0.99 * len(v)))], 2) for k, v in latencies.items()},
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return report


if __name__ == "__main__":
    main()
