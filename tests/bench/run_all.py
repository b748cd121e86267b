"""Run the benchmarks that exist so far and write one JSON report.

    python tests/bench/run_all.py [--rows 155423] [--repeats 3] [--out var/bench/report.json] [--skip-retrieval]

What it measures (medians and min-max over --repeats, on this machine's cores):
- ingest end to end of a generated NormBank-scale corpus (generate_normbank.py) on SQLite and on
  PostgreSQL (when reachable at NORMBANK_BENCH_POSTGRES_URL, default the local server's `postgres`
  database, in a scratch database it creates and drops): rows/s, seconds, peak RSS of the ingest process;
- in-process `judge` and full-setting `query` latency over the largest setting (bench_reasoning.py);
- retrieval quality and /v1/ground latency on held-out NormDial situations (retrieval_normdial.py).
Not yet here (see the README's benchmark section): HTTP load, index build at NormBank scale, server RSS
and the peers (pandas, Chroma).
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


def ingest_runs(corpus: Path, rows: int, repeats: int, work: Path) -> dict:
    out: dict = {}
    normbank = [str(Path(PY).parent / "normbank")]
    for backend in ("sqlite", "postgresql"):
        seconds, rss = [], []
        for i in range(repeats):
            if backend == "sqlite":
                url = f"sqlite:///{work / f'ingest-{i}.db'}"
            else:
                url = pg_scratch(f"normbank_bench_{os.getpid()}_{i}")
                if url is None:
                    break
            subprocess.run(normbank + ["init", "--database", url], check=True, capture_output=True)
            report, peak = run_json(normbank + ["ingest", "normbank", str(corpus), "--json", "--no-progress",
                                                "--database", url])
            seconds.append(report["seconds"])
            rss.append(peak)
            out.setdefault("counts", {k: report[k] for k in ("read", "loaded", "duplicates", "rejected")})
        if seconds:
            out[backend] = {"seconds": summary(seconds), "rows_per_second": round(rows / statistics.median(seconds)),
                            "peak_rss_mb": summary(rss)}
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=155_423)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "var" / "bench" / "report.json")
    parser.add_argument("--skip-retrieval", action="store_true")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="normbank-bench-"))
    corpus = work / "NormBank.csv"
    started = time.perf_counter()
    generated, _ = run_json([PY, str(BENCH / "generate_normbank.py"), str(corpus), "--rows", str(args.rows)])
    report: dict = {"cores": os.cpu_count(), "rows": args.rows, "generated": generated}
    report["ingest"] = ingest_runs(corpus, args.rows, args.repeats, work)
    reasoning, _ = run_json([PY, str(BENCH / "bench_reasoning.py"), "--database", f"sqlite:///{work / 'ingest-0.db'}"])
    report["reasoning"] = reasoning
    if not args.skip_retrieval:
        retrieval, _ = run_json([PY, str(BENCH / "retrieval_normdial.py"), "--workdir", str(work / "normdial")])
        report["retrieval_normdial"] = retrieval
    report["seconds"] = round(time.perf_counter() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
