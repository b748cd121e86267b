"""Ingest benchmark: a generated NormBank corpus end to end on SQLite and PostgreSQL, next to the raw
COPY of the same rows (the physical reference), at several sizes; prints and writes one JSON report.

    python tests/bench/bench_ingest.py [--sizes 10000,155423,1000000] [--repeats 3] [--seed 0]
                                       [--workdir DIR] [--out var/bench/ingest.json] [--skip-postgres]

For each size: generate the corpus once (generate_normbank.py, seeded; kept in --workdir and reused when
it is there), then per repeat
- `normbank init` + `normbank ingest normbank CORPUS --json` on a fresh SQLite file and on a fresh
  PostgreSQL database (created and dropped around the run, at NORMBANK_BENCH_POSTGRES_URL, default the
  local server): the ingest's own `seconds` (read, parse, normalise, dedupe, load, full-text upkeep, commit),
  rows/s and the peak RSS of the ingest process;
- the raw reference: the same CSV streamed with psycopg `COPY ... FROM STDIN (FORMAT csv)` into a table of
  text columns in a fresh PostgreSQL database (and, for SQLite, `csv.reader` + `executemany` into a table
  of text columns in one transaction): what merely storing those rows costs on this machine.
Every figure is a median with its min-max over --repeats; the report also carries the core count and the
ingest counts (read, loaded, duplicates, rejected), which must not vary between repeats.
"""

from __future__ import annotations

import argparse
import csv
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_all import BENCH, PG_URL, PY, REPO, emit, pg_scratch, run_json, summary  # noqa: E402

NORMBANK = str(Path(PY).parent / "normbank")
COUNTS = ("read", "loaded", "duplicates", "rejected")


def drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def corpus_for(rows: int, seed: int, workdir: Path) -> tuple[Path, dict | None]:
    path = workdir / f"NormBank-{rows}-seed{seed}.csv"
    if path.exists():
        return path, None
    generated, _ = run_json([PY, str(BENCH / "generate_normbank.py"), str(path), "--rows", str(rows),
                             "--seed", str(seed)])
    return path, generated


def ingest_once(corpus: Path, url: str) -> tuple[dict, float]:
    subprocess.run([NORMBANK, "init", "--database", url], check=True, capture_output=True, cwd=REPO)
    return run_json([NORMBANK, "ingest", "normbank", str(corpus), "--json", "--no-progress", "--database", url])


def raw_copy_postgres(corpus: Path, name: str) -> float:
    """Seconds to COPY the CSV as it is into a table of text columns (commit included)."""
    import psycopg

    url = pg_scratch(name)
    if url is None:
        raise RuntimeError("PostgreSQL is not reachable")
    with corpus.open(newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    columns = ", ".join(f'"{c}" text' for c in header)
    try:
        with psycopg.connect(url.replace("+psycopg", "")) as conn:
            conn.execute(f"CREATE TABLE raw_rows ({columns})")
            conn.commit()
            started = time.perf_counter()
            with conn.cursor() as cursor, corpus.open("rb") as handle:
                with cursor.copy("COPY raw_rows FROM STDIN (FORMAT csv, HEADER true)") as copy:
                    while chunk := handle.read(1 << 20):
                        copy.write(chunk)
            conn.commit()
            return time.perf_counter() - started
    finally:
        drop_database(name)


def raw_insert_sqlite(corpus: Path, path: Path) -> float:
    """Seconds to insert the CSV's records as they are into a table of text columns, in one transaction."""
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        with corpus.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader)
            db.execute(f"CREATE TABLE raw_rows ({', '.join(f'c{i} TEXT' for i in range(len(header)))})")
            started = time.perf_counter()
            db.execute("BEGIN IMMEDIATE")
            db.executemany(f"INSERT INTO raw_rows VALUES ({', '.join('?' * len(header))})", reader)
            db.execute("COMMIT")
            return time.perf_counter() - started
    finally:
        db.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def figures(rows: int, seconds: list[float], rss: list[float] | None = None) -> dict:
    out = {"seconds": summary(seconds), "rows_per_second": round(rows / statistics.median(seconds))}
    if rss is not None:
        out["peak_rss_mb"] = summary(rss)
    return out


def bench_size(rows: int, args: argparse.Namespace) -> dict:
    corpus, generated = corpus_for(rows, args.seed, args.workdir)
    result: dict = {"rows": rows, "corpus": str(corpus), "bytes": corpus.stat().st_size}
    if generated:
        result["generated"] = {k: generated[k] for k in ("distinct_frames", "duplicate_rows", "unique_atoms",
                                                         "seconds") if k in generated}
    backends = ["sqlite"] + ([] if args.skip_postgres else ["postgresql"])
    for backend in backends:
        seconds, rss, raw = [], [], []
        for i in range(args.repeats):
            if backend == "sqlite":
                db = args.workdir / f"ingest-{rows}-{i}.db"
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{db}{suffix}").unlink(missing_ok=True)
                report, peak = ingest_once(corpus, f"sqlite:///{db}")
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{db}{suffix}").unlink(missing_ok=True)
                raw.append(raw_insert_sqlite(corpus, args.workdir / f"raw-{rows}-{i}.db"))
            else:
                name = f"normbank_bench_ingest_{os.getpid()}_{rows}_{i}"
                url = pg_scratch(name)
                if url is None:
                    break
                try:
                    report, peak = ingest_once(corpus, url)
                finally:
                    drop_database(name)
                raw.append(raw_copy_postgres(corpus, f"{name}_raw"))
            counts = {k: report[k] for k in COUNTS}
            if result.setdefault("counts", counts) != counts:
                raise SystemExit(f"{backend} run {i} at {rows} rows counted {counts}, earlier {result['counts']}")
            seconds.append(report["seconds"])
            rss.append(peak)
            print(f"{rows} rows {backend} run {i}: {report['seconds']:.2f} s, peak RSS {peak:.0f} MB, "
                  f"raw reference {raw[-1]:.2f} s", file=sys.stderr)
        if seconds:
            result[backend] = figures(rows, seconds, rss)
            result[backend]["raw_reference"] = {
                "what": "COPY (FORMAT csv) into text columns" if backend == "postgresql"
                else "csv.reader + executemany into text columns, one transaction",
                **figures(rows, raw),
            }
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,155423,1000000",
                        help="comma-separated corpus sizes in rows (default: 10000,155423,1000000)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=None, help="where corpora and SQLite files go")
    parser.add_argument("--out", type=Path, default=REPO / "var" / "bench" / "ingest.json")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args(argv)
    args.workdir = args.workdir or Path(tempfile.mkdtemp(prefix="normbank-bench-ingest-"))
    args.workdir.mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    report: dict = {"cores": os.cpu_count(), "repeats": args.repeats, "seed": args.seed,
                    "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
                    "targets_at_155k": {"sqlite_seconds": 5.0, "postgresql_seconds": 7.0}, "sizes": []}
    for rows in (int(s) for s in args.sizes.split(",") if s.strip()):
        report["sizes"].append(bench_size(rows, args))
    report["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    report["seconds"] = round(time.perf_counter() - started, 1)
    return emit(report, args.out)


if __name__ == "__main__":
    main()
