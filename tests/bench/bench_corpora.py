"""Corpora benchmark (issue 17): a Social-Chem-101-scale file imported on SQLite next to the NormBank
rows/s, and the vector index built over every shared corpus in one bank.

    python tests/bench/bench_corpora.py [--repeats 2] [--workdir DIR] [--out var/bench/corpora.json]
                                        [--skip-ingest] [--skip-index] [--bank FILE.db]

Ingest: generates (once, kept in --workdir) a 355,922-row Social-Chem-101 file (generate_social_chem.py)
and a 155,423-row NormBank.csv (generate_normbank.py), then runs `normbank ingest ... --json` on a fresh
SQLite file for each, alternating the two --repeats times (the machine is shared: alternating keeps load
changes from favouring one); rows/s is read rows over the import's own seconds, medians reported.
Index: imports the NormBank taxonomy, NormDial, the Social-Chem-101 sample, Moral Stories and ETHICS
commonsense (examples/mappings/ethics-commonsense.toml) from ../shared/data into one SQLite bank and
times `normbank index --rebuild --json` (the default encoder) in a fresh data directory (no vectors cached),
once: the manifest's embedding + indexing seconds, the whole command's wall and CPU seconds (user + system
of the command's process; the machine is shared, so CPU seconds say more than wall time), the distinct
texts and how many were embedded. `--bank` indexes a copy of a bank imported before instead (the same five
imports), so old and new code can be timed on one bank.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_all import BENCH, PY, REPO, emit, run_json, summary  # noqa: E402

NORMBANK = str(Path(PY).parent / "normbank")
SHARED = Path(os.environ.get("NORMBANK_SHARED_DATA", REPO.parent / "shared" / "data"))
SOCIAL_CHEM_ROWS, NORMBANK_ROWS = 355_922, 155_423


def _fresh(db: Path) -> str:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{db}"


def _ingest(url: str, *args: str) -> dict:
    report, _ = run_json([NORMBANK, "ingest", *args, "--json", "--no-progress", "--database", url])
    return report


def bench_ingest(args: argparse.Namespace) -> dict:
    social = args.workdir / f"social-chem-{SOCIAL_CHEM_ROWS}.tsv"
    if not social.exists():
        run_json([PY, str(BENCH / "generate_social_chem.py"), str(social), "--rows", str(SOCIAL_CHEM_ROWS)])
    normbank = args.workdir / f"NormBank-{NORMBANK_ROWS}-seed0.csv"
    if not normbank.exists():
        run_json([PY, str(BENCH / "generate_normbank.py"), str(normbank), "--rows", str(NORMBANK_ROWS)])
    runs: dict[str, list[dict]] = {"social-chem-101": [], "normbank": []}
    for i in range(args.repeats):
        for name, path in (("social-chem-101", social), ("normbank", normbank)):
            db = args.workdir / f"ingest-{name}.db"
            report = _ingest(_fresh(db), name, str(path))
            _fresh(db)
            runs[name].append(report)
            print(f"{name} run {i}: read {report['read']} in {report['seconds']:.2f} s", file=sys.stderr)
    out = {}
    for name, reports in runs.items():
        seconds = [r["seconds"] for r in reports]
        out[name] = {"counts": {k: reports[0][k] for k in ("read", "loaded", "duplicates", "rejected")},
                     "seconds": summary(seconds),
                     "rows_per_second": round(reports[0]["read"] / statistics.median(seconds))}
    out["ratio_social_chem_to_normbank"] = round(
        out["social-chem-101"]["rows_per_second"] / out["normbank"]["rows_per_second"], 3)
    return out


def bench_index(args: argparse.Namespace) -> dict:
    url = _fresh(args.workdir / "all-corpora.db")
    data_dir = args.workdir / "all-corpora-data"
    shutil.rmtree(data_dir, ignore_errors=True)  # fresh: no vectors cached, no exported model
    imports = [
        ("normbank-taxonomy", str(SHARED / "normbank-taxonomy")),
        ("normdial", str(SHARED / "normdial")),
        ("social-chem-101", str(SHARED / "social-chem-101" / "social-chem-101.sample.tsv")),
        ("moral-stories", str(SHARED / "moral-stories" / "moral_stories_dev.jsonl")),
        ("table", str(SHARED / "ethics-commonsense" / "cm_test.csv"), "--mapping",
         str(REPO / "examples" / "mappings" / "ethics-commonsense.toml")),
    ]
    if args.bank:
        shutil.copyfile(args.bank, args.workdir / "all-corpora.db")
        reports = [{"bank": str(args.bank)}]
    else:
        reports = [_ingest(url, *spec) for spec in imports]
    env = {**os.environ, "NORMBANK_DATA_DIR": str(data_dir)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_before = os.getloadavg()
    started = time.perf_counter()
    done = subprocess.run([NORMBANK, "index", "--rebuild", "--json", "--no-progress", "--database", url],
                          check=True, capture_output=True, text=True, cwd=REPO, env=env)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    manifest = json.loads(done.stdout)
    load_before = [round(x, 2) for x in load_before]
    build = manifest.get("embed_seconds", 0) + manifest.get("index_seconds", 0)
    return {"imports": reports, "target_seconds": 120,
            "build_seconds": round(build, 1),  # embedding + indexing, as the manifest times them
            "command_seconds": round(seconds, 1),  # the whole command: start-up, model load (ONNX export on first use)
            "command_cpu_seconds": round(cpu, 1),
            "load_average_before": load_before, "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "manifest": {k: manifest.get(k) for k in ("model", "distinct_texts", "embedded", "embed_seconds",
                                                       "index_seconds", "derive_seconds", "bytes_on_disk", "collections")}}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=REPO / "var" / "bench" / "corpora.json")
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--skip-index", action="store_true")
    parser.add_argument("--bank", type=Path, default=None,
                        help="index a copy of this SQLite bank (every shared corpus imported) instead of importing")
    args = parser.parse_args(argv)
    args.workdir = args.workdir or Path(tempfile.mkdtemp(prefix="normbank-bench-corpora-"))
    args.workdir.mkdir(parents=True, exist_ok=True)
    report: dict = {"cores": os.cpu_count(), "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
    if not args.skip_ingest:
        report["ingest_sqlite"] = bench_ingest(args)
    if not args.skip_index:
        report["index_all_corpora"] = bench_index(args)
    report["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return emit(report, args.out)


if __name__ == "__main__":
    main()
