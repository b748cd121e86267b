"""Export rate of a bank, this checkout's code against another's, alternating; prints JSON.

    python tests/bench/bench_export.py DATABASE_URL [--other NAME=CHECKOUT ...] [--rounds 3] [--workdir DIR]
                                       [--out FILE]

Each run is a fresh process running `ingest.export.export_jsonl` of its checkout into a file: the wall time,
the CPU time of the exporting process and, on PostgreSQL, the CPU time of the database backend serving it
(from /proc, so the server must run on this machine), as norms per second. Each round runs this
checkout's code ("new") and then each other checkout's (e.g. `--other old=/work/wt-main`); medians per code. `bench_operations.py --export-only` measures `normbank export` and
`GET /v1/export` end to end.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_all import PY, REPO, emit  # noqa: E402


def _backend_cpu(pid: int | None) -> float:
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def measure(url: str, target: Path) -> dict:
    """In this process: export the bank at `url` into `target` with the code on sys.path."""
    from ingest.export import export_jsonl
    from schema.engine import make_engine

    engine = make_engine(url)
    with engine.connect() as conn:
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() if conn.dialect.name == "postgresql" else None
        conn.rollback()
        backend, cpu, started = _backend_cpu(pid), time.process_time(), time.perf_counter()
        norms = 0
        with target.open("wb") as out:
            for chunk in export_jsonl(conn):
                out.write(chunk)
                norms += chunk.count(b'{"type":"norm"')
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        backend = _backend_cpu(pid) - backend
    engine.dispose()
    return {"norms": norms, "seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3),
            "backend_cpu_seconds": round(backend, 3) if pid else None, "norms_per_second": round(norms / seconds),
            "norms_per_cpu_second": round(norms / cpu), "bytes": target.stat().st_size,
            "load_average": os.getloadavg()[0]}


def _run(checkout: Path, url: str, target: Path) -> dict:
    done = subprocess.run([PY, __file__, url, "--measure", str(target)], check=True, capture_output=True, text=True,
                          cwd=checkout, env={**os.environ, "PYTHONPATH": str(checkout)})
    return json.loads(done.stdout)


def _median(runs: list[dict], key: str) -> float | None:
    values = [r[key] for r in runs if r.get(key) is not None]
    return round(statistics.median(values), 3) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", metavar="DATABASE_URL")
    parser.add_argument("--other", action="append", default=[], metavar="NAME=CHECKOUT",
                        help="another checkout to compare with (e.g. old=a worktree of main); repeatable")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # one run, in this process
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.url, args.measure)))
        return
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="normbank-bench-export-"))
    workdir.mkdir(parents=True, exist_ok=True)
    codes = {"new": REPO, **{name: Path(path) for name, path in (o.split("=", 1) for o in args.other)}}
    runs: dict[str, list[dict]] = {name: [] for name in codes}
    for _ in range(args.rounds):
        for name, checkout in codes.items():
            runs[name].append(_run(checkout, args.url, workdir / f"export-{name}.jsonl"))
    summary = {name: {"runs": found, **{f"median_{k}": _median(found, k) for k in
                                        ("seconds", "cpu_seconds", "backend_cpu_seconds", "norms_per_second",
                                         "norms_per_cpu_second")}} for name, found in runs.items()}
    emit({"database": args.url.split(":")[0], "cores": os.cpu_count(), **summary}, args.out)


if __name__ == "__main__":
    main()
