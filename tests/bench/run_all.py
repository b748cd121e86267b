"""Run the whole benchmark suite and write one JSON report.

    python tests/bench/run_all.py [--rows 155423] [--sizes 10000,155423,1000000] [--repeats 3]
                                  [--skip STEP,...] [--out var/bench/report.json]

Steps (each a script of its own in tests/bench/ that prints JSON; medians and min-max over --repeats):
- ingest: bench_ingest.py - a generated NormBank-scale corpus (generate_normbank.py) end to end on SQLite
  and PostgreSQL (NORMBANK_BENCH_POSTGRES_URL, default the local server), next to the raw COPY of the
  same rows; seconds, rows/s, peak RSS;
- reasoning: bench_reasoning.py - in-process judge and full-setting query over the largest setting,
  cold and warm;
- pandas_peer: peers/pandas_peer.py - the same judges answered the way a pandas notebook would;
- http: bench_http.py - /v1/judge, /v1/query, /v1/ground and a trivial endpoint over loopback under wrk
  (or a Python load generator), 1 and 2 workers, server RSS;
- index: bench_index.py - index build at NormBank scale (texts/s, seconds, size), HNSW vs exact search,
  server RSS with the index;
- retrieval_normdial: retrieval_normdial.py - held-out NormDial situations through /v1/ground: recall@1/@5,
  MRR for dense, lexical, hybrid and hybrid with the culture; /v1/ground latency in process;
- chroma_peer: peers/chroma_peer.py - Chroma (embedded) answering the same situations from our vectors.
The peers need the `bench` extra (`pip install -e '.[bench]'`); the HTTP step is best with `wrk` on PATH.
A step that fails is recorded in the report with its error and the run goes on.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BENCH = Path(__file__).resolve().parent
PY = sys.executable
PG_URL = os.environ.get("NORMBANK_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def summary(values: list[float]) -> dict:
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3), "max": round(max(values), 3),
            "runs": len(values)}


def run_json(cmd: list[str]) -> tuple[dict, float]:
    """Run a command that prints one JSON object; return it and that process's peak RSS in MB
    (GNU time's %M, written to a file of its own so the command's stderr stays its own)."""
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        done = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name, *cmd], capture_output=True, text=True,
                              cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
        peak_kb = int((rss.read().strip().splitlines() or ["0"])[-1])
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    text = done.stdout[done.stdout.index("{"):]
    return json.loads(text), peak_kb / 1024


def emit(report: dict, out: Path | None) -> dict:
    """Print a benchmark's JSON report and, given a path, write it there too."""
    text = json.dumps(report, indent=2)
    print(text)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")
    return report


def pg_scratch(name: str) -> str | None:
    """A fresh PostgreSQL database for one run, or None when the server is not reachable."""
    try:
        import psycopg

        with psycopg.connect(PG_URL, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # noqa: BLE001 - reported in the output
        print(f"PostgreSQL not reachable ({exc}); skipping its ingest runs", file=sys.stderr)
        return None
    base = PG_URL.rsplit("/", 1)[0]
    return f"{base}/{name}".replace("postgresql://", "postgresql+psycopg://")


def ingested(corpus: Path, url: str) -> dict:
    """One plain import of the corpus, for the benchmarks that need a loaded bank."""
    normbank = [str(Path(PY).parent / "normbank")]
    subprocess.run(normbank + ["init", "--database", url], check=True, capture_output=True)
    report, _ = run_json(normbank + ["ingest", "normbank", str(corpus), "--json", "--no-progress", "--database", url])
    return report


def step(report: dict, name: str, cmd: list[str], skip: set[str]) -> None:
    """Run one benchmark script and keep its JSON under `name`; a failure is recorded, not fatal."""
    if name in skip:
        report[name] = {"skipped": True}
        return
    print(f"run_all: {name} ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    try:
        report[name], _ = run_json(cmd)
    except SystemExit as exc:  # run_json's message carries the script's stderr
        report[name] = {"failed": str(exc)[-2000:]}
    print(f"run_all: {name} done in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)


STEPS = ("ingest", "reasoning", "pandas_peer", "http", "index", "retrieval_normdial", "chroma_peer")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=155_423)
    parser.add_argument("--sizes", default=None,
                        help="ingest sizes in rows (default: --rows; the issue's full set is 10000,155423,1000000)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "var" / "bench" / "report.json")
    parser.add_argument("--skip", default="", help=f"comma-separated steps to leave out: {', '.join(STEPS)}")
    parser.add_argument("--skip-retrieval", action="store_true", help="same as --skip retrieval_normdial,chroma_peer")
    args = parser.parse_args(argv)
    skip = {s for s in args.skip.split(",") if s}
    if args.skip_retrieval:
        skip |= {"retrieval_normdial", "chroma_peer"}
    unknown = skip - set(STEPS)
    if unknown:
        raise SystemExit(f"unknown steps {sorted(unknown)}; the steps are {', '.join(STEPS)}")

    work = Path(tempfile.mkdtemp(prefix="normbank-bench-"))
    corpus = work / "NormBank.csv"
    started = time.perf_counter()
    generated, _ = run_json([PY, str(BENCH / "generate_normbank.py"), str(corpus), "--rows", str(args.rows)])
    report: dict = {"cores": os.cpu_count(), "rows": args.rows, "generated": generated,
                    "load_average_at_start": os.getloadavg()}
    sizes = args.sizes or str(args.rows)
    step(report, "ingest", [PY, str(BENCH / "bench_ingest.py"), "--sizes", sizes, "--repeats", str(args.repeats),
                            "--workdir", str(work / "ingest")], skip)
    bank = work / "bank.db"
    url = f"sqlite:///{bank}"
    report["bank"] = ingested(corpus, url)
    step(report, "reasoning", [PY, str(BENCH / "bench_reasoning.py"), "--database", url], skip)
    step(report, "pandas_peer", [PY, str(BENCH / "peers" / "pandas_peer.py"), "--csv", str(corpus), "--database", url,
                                 "--repeats", str(args.repeats)], skip)
    step(report, "http", [PY, str(BENCH / "bench_http.py"), "--database", url, "--data-dir", str(work / "http"),
                          "--repeats", str(args.repeats)], skip)
    step(report, "index", [PY, str(BENCH / "bench_index.py"), "--database", url, "--workdir", str(work / "index"),
                           "--repeats", "1"], skip)
    normdial = work / "normdial"
    step(report, "retrieval_normdial", [PY, str(BENCH / "retrieval_normdial.py"), "--workdir", str(normdial)], skip)
    step(report, "chroma_peer", [PY, str(BENCH / "peers" / "chroma_peer.py"), "--workdir", str(normdial), "--reuse",
                                 "--repeats", str(args.repeats)], skip)
    report["load_average_at_end"] = os.getloadavg()
    report["seconds"] = round(time.perf_counter() - started, 1)
    return emit(report, args.out)


if __name__ == "__main__":
    main()
