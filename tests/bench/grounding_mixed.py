"""Grounding over a bank that holds several corpora, next to each corpus alone, as JSON.

    python tests/bench/grounding_mixed.py [--workdir DIR [--reuse]] [--out FILE] [--normdial DIR] [--taxonomy DIR]
                                          [--also FORMAT=PATH ...]

NormBank-style situations (tests/bench/data/normbank_situations.jsonl: written for this benchmark about the
packaged sample's frames, with a structured context) are asked of `/v1/ground` (in process, the service
function the route calls) with the situation text and the person's context, once without a setting and
once with it, on two banks:
- "alone": the sample corpus only;
- "mixed": the sample, the NormBank taxonomy, NormDial (and every --also corpus) in one bank.
The right answer for a situation is the reasoner's own verdict for its structured context (`/v1/judge`
with the setting, behaviour and person): a hit is a top-3 norm of that setting and behaviour with the
verdict's label and status (applies or conditional). Situations alternate
between a dev half (for tuning) and a test half (for reporting); both are reported, with top-1 and top-3.

NormDial's own held-out figures on the two banks come from retrieval_normdial.py (--also adds corpora).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

SITUATIONS = Path(__file__).resolve().parent / "data" / "normbank_situations.jsonl"
SHARED = REPO.parent / "shared" / "data"


def load_bank(db: Path, data_dir: Path, corpora: list[tuple[str, Path, str | None]], *, reuse: bool = False):
    """A fresh bank holding `corpora` (format, path, source) with its index; returns (cache, retriever).
    With `reuse`, a database a previous run left at `db` is kept, and its index too when it is fresh."""
    from api.retrieval import Retriever
    from ingest.pipeline import run_import
    from normbank.config import get_settings
    from schema.engine import make_engine
    from schema.frames import FrameCache
    from schema.migrate import upgrade

    reuse = reuse and db.exists()
    if not reuse:
        db.unlink(missing_ok=True)
    settings = get_settings(database_url=f"sqlite:///{db}", data_dir=data_dir, index_on_start="demand")
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    for format_, path, source in ([] if reuse else corpora):
        path, *options = str(path).split(";")
        run_import(engine=engine, format=format_, path=Path(path), source=source,
                   options=dict(o.split("=", 1) for o in options))
    retriever = Retriever(engine, settings)
    started = time.perf_counter()
    retriever.rebuild()  # nothing to do when a reused index is fresh
    manifest = retriever.store.current_manifest()
    return FrameCache(engine), retriever, {"seconds": round(time.perf_counter() - started, 1),
                                           "texts": manifest.distinct_texts, "embedded": manifest.embedded}


def evaluate(cache, retriever, situations: list[dict]) -> dict:
    from api import service
    from api.models import GroundRequest, JudgeRequest

    out: dict[str, dict[str, list[int]]] = {}
    for i, s in enumerate(situations):
        half = "dev" if i % 2 == 0 else "test"
        person = {"person": s["person"]} if s.get("person") else {}
        verdict = service.judge(cache, JudgeRequest(setting=s["setting"], behavior=s["behavior"], **person))
        status = verdict["status"]  # applies or conditional (ground ranks no other status)
        for with_setting in (False, True):
            request = GroundRequest(situation=s["situation"], k=10, **person,
                                    setting=s["setting"] if with_setting else None)
            norms = service.ground(cache, retriever, request)["norms"]
            rank = next((r for r, n in enumerate(norms, 1) if n["setting"] == verdict["setting"]
                         and n["behavior"] == verdict["behavior"] and n["label"] == verdict["verdict"]
                         and n["status"] == status), None)
            key = "with_setting" if with_setting else "without_setting"
            out.setdefault(key, {}).setdefault(half, []).append(rank)
    return {key: {half: {"top1": round(sum(r == 1 for r in ranks) / len(ranks), 3),
                         "top3": round(sum(r is not None and r <= 3 for r in ranks) / len(ranks), 3),
                         "n": len(ranks)} for half, ranks in halves.items()} for key, halves in out.items()}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--normdial", type=Path, default=SHARED / "normdial")
    parser.add_argument("--taxonomy", type=Path, default=SHARED / "normbank-taxonomy")
    parser.add_argument("--also", action="append", default=[], metavar="FORMAT=PATH",
                        help="another corpus for the mixed bank (repeatable); reader options follow the path "
                             "after ';', e.g. table=cm_test.csv;mapping=map.toml")
    parser.add_argument("--reuse", action="store_true",
                        help="reuse the banks (databases and indexes) a previous run left in --workdir")
    args = parser.parse_args(argv)
    from normbank.cli import sample_corpus_path

    work = args.workdir or Path(tempfile.mkdtemp(prefix="grounding-mixed-"))
    work.mkdir(parents=True, exist_ok=True)
    situations = [json.loads(line) for line in SITUATIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    sample = ("normbank", sample_corpus_path(), "normbank-sample")
    banks = {
        "alone": [sample],
        "mixed": [sample, ("normbank-taxonomy", args.taxonomy, None), ("normdial", args.normdial, None),
                  *[(spec.split("=", 1)[0], spec.split("=", 1)[1], None) for spec in args.also]],
    }
    report = {"benchmark": "grounding_mixed", "cores": os.cpu_count(), "situations": len(situations), "banks": {}}
    for name, corpora in banks.items():
        cache, retriever, index = load_bank(work / f"{name}.db", work / name, corpora, reuse=args.reuse)
        report["banks"][name] = {"corpora": [c[0] for c in corpora], "index": index,
                                 "results": evaluate(cache, retriever, situations)}
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return report


if __name__ == "__main__":
    main()
