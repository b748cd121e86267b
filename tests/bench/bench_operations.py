"""Operations benchmark: an HTTP import of the generated NormBank file against the CLI import of the same
file, query latency before, during and after the HTTP import, and the export rate; prints JSON.

    python tests/bench/bench_operations.py [--rows 155423] [--seed 0] [--workdir DIR] [--database sqlite|postgres]
                                           [--out var/bench/operations.json] [--db-prefix nb_bench_ops]
                                           [--query-rate N]
    python tests/bench/bench_operations.py --export-only DATABASE_URL [--checkout DIR] [--workdir DIR]

Both imports go into a fresh database of the chosen kind holding the sample corpus (so queries have
something to answer before the import): the CLI one with `normbank ingest normbank FILE --json`, the HTTP
one through a `normbank serve` process (POST /v1/imports, raw body; timed from the first byte sent to the
job's `succeeded`). One client sends `POST /v1/query` (restaurant, a customer) back to back (or
`--query-rate N` a second) before, during and after the HTTP import; p50/p99 per phase. Then the export of
the bank the HTTP import made, by `normbank export` and by `GET /v1/export`: norms per second.

`--export-only URL` measures only the two exports, of the bank at URL; `--checkout DIR` runs the normbank
code of another checkout (for example an older commit's worktree) instead of this one's.
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_all import PY, REPO, emit, pg_scratch, run_json  # noqa: E402

NORMBANK = str(Path(PY).parent / "normbank")
TOKEN = "bench"
QUERY = {"setting": "restaurant", "person": {"role": "customer"}, "limit": 50}


def _database(kind: str, name: str, workdir: Path) -> str:
    if kind == "sqlite":
        path = workdir / f"{name}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        return f"sqlite:///{path}"
    url = pg_scratch(name)
    if url is None:
        raise SystemExit("PostgreSQL is not reachable")
    return url


def _prepared(url: str) -> None:
    subprocess.run([NORMBANK, "init", "--sample", "--no-progress", "--database", url], check=True, capture_output=True)


def _percentiles(latencies: list[float]) -> dict:
    ordered = sorted(latencies)
    pick = lambda q: round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)  # noqa: E731
    return {"requests": len(ordered), "p50_ms": pick(0.5), "p99_ms": pick(0.99),
            "mean_ms": round(1000 * statistics.fmean(ordered), 2)}


def _queries(base: str, stop: threading.Event, out: list[float], rate: float = 0) -> None:
    """Queries until `stop`: back to back, or `rate` a second (each sent on its schedule, or at once when
    the previous answer came late)."""
    with httpx.Client(timeout=60) as client:
        next_at = time.perf_counter()
        while not stop.is_set():
            if rate:
                next_at += 1 / rate
                stop.wait(max(0.0, next_at - time.perf_counter()))
            started = time.perf_counter()
            response = client.post(f"{base}/v1/query", json=QUERY)
            out.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text


def _phase(base: str, seconds: float, rate: float = 0) -> dict:
    stop, latencies = threading.Event(), []
    thread = threading.Thread(target=_queries, args=(base, stop, latencies, rate))
    thread.start()
    time.sleep(seconds)
    stop.set()
    thread.join()
    return _percentiles(latencies)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(url: str, data_dir: Path, checkout: Path = REPO) -> Iterator[str]:
    """A `normbank serve` process on the database at `url`, running `checkout`'s code; yields its base URL."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "NORMBANK_DATABASE_URL": url, "NORMBANK_DATA_DIR": str(data_dir), "NORMBANK_API_TOKEN": TOKEN,
           "NORMBANK_EMBEDDING_MODEL": "hashing", "NORMBANK_INDEX_ON_START": "off", "PYTHONPATH": str(checkout)}
    server = subprocess.Popen([NORMBANK, "serve", "--port", str(port), "--log-level", "warning"], env=env, cwd=checkout)
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(30)


def http_import(corpus: Path, url: str, data_dir: Path, rate: float = 0) -> dict:
    with serving(url, data_dir) as base:
        before = _phase(base, 10, rate)
        stop, during = threading.Event(), []
        thread = threading.Thread(target=_queries, args=(base, stop, during, rate))
        started = time.perf_counter()
        with corpus.open("rb") as body:
            job = httpx.post(f"{base}/v1/imports", params={"format": "normbank", "source": "normbank"}, content=body,
                             headers={"Authorization": f"Bearer {TOKEN}"}, timeout=600).json()
        thread.start()
        while (state := httpx.get(f"{base}/v1/imports/{job['id']}").json())["status"] in ("queued", "running"):
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        stop.set()
        thread.join()
        if state["status"] != "succeeded":
            raise SystemExit(f"the HTTP import failed: {state['error']}")
        after = _phase(base, 10, rate)
        return {"seconds": round(seconds, 3), "report": state["report"], "query_before": before,
                "query_during": _percentiles(during), "query_after": after}


def _norm_lines(path: Path) -> int:
    with path.open("rb") as lines:
        return sum(line.startswith(b'{"type":"norm"') for line in lines)


def export_rate(url: str, workdir: Path, checkout: Path = REPO) -> dict:
    """`normbank export` of the bank at `url`: the process's wall and CPU time (start-up included; the CPU
    time is steadier on a loaded machine) and the export's own time as the command reports it."""
    target = workdir / "export.jsonl"
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([NORMBANK, "export", str(target), "--database", url], capture_output=True, text=True,
                          check=True, cwd=checkout, env={**os.environ, "PYTHONPATH": str(checkout)})
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_seconds = after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime
    norms = int(done.stderr.split("exported ")[1].split()[0])
    own = float(done.stderr.split(" in ")[-1].split("s")[0])
    assert norms == _norm_lines(target)
    return {"norms": norms, "seconds": round(seconds, 3), "norms_per_second": round(norms / seconds),
            "cpu_seconds": round(cpu_seconds, 2), "export_seconds": own, "export_norms_per_second": round(norms / own), "bytes": target.stat().st_size}


def http_export_rate(url: str, workdir: Path, checkout: Path = REPO) -> dict:
    """`GET /v1/export` of the bank at `url` from a server already running: first byte asked to last byte."""
    target = workdir / "export-http.jsonl"
    with serving(url, workdir / "data", checkout) as base:
        started = time.perf_counter()
        try:
            with httpx.stream("GET", f"{base}/v1/export", timeout=600) as response, target.open("wb") as out:
                response.raise_for_status()
                for chunk in response.iter_raw(1 << 20):
                    out.write(chunk)
        except httpx.HTTPError as exc:  # recorded: an export cut off is a result too
            return {"error": f"{type(exc).__name__}: {exc}", "after_seconds": round(time.perf_counter() - started, 3)}
        seconds = time.perf_counter() - started
    norms = _norm_lines(target)
    return {"norms": norms, "seconds": round(seconds, 3), "norms_per_second": round(norms / seconds),
            "bytes": target.stat().st_size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=155_423)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="postgres")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--db-prefix", default="nb_bench_ops", help="names of the scratch databases (PostgreSQL)")
    parser.add_argument("--export-only", metavar="DATABASE_URL", help="only export the bank at this URL (CLI and HTTP)")
    parser.add_argument("--checkout", type=Path, default=REPO, help="run the normbank code of this checkout")
    parser.add_argument("--query-rate", type=float, default=0,
                        help="queries a second during the HTTP import's phases (default 0: back to back)")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="normbank-bench-ops-"))
    workdir.mkdir(parents=True, exist_ok=True)
    if args.export_only:
        emit({"database": args.export_only.split(":")[0], "checkout": str(args.checkout), "cores": os.cpu_count(),
              "export": export_rate(args.export_only, workdir, args.checkout),
              "http_export": http_export_rate(args.export_only, workdir, args.checkout)}, args.out)
        return
    corpus = workdir / f"NormBank-{args.rows}-seed{args.seed}.csv"
    if not corpus.exists():
        subprocess.run([PY, str(REPO / "tests/bench/generate_normbank.py"), str(corpus), "--rows", str(args.rows),
                        "--seed", str(args.seed)], check=True, capture_output=True)
    cli_url = _database(args.database, f"{args.db_prefix}_cli", workdir)
    _prepared(cli_url)
    started = time.perf_counter()
    cli_report, _rss = run_json([NORMBANK, "ingest", "normbank", str(corpus), "--source", "normbank", "--json",
                                 "--no-progress", "--database", cli_url])
    cli_seconds = time.perf_counter() - started
    http_url = _database(args.database, f"{args.db_prefix}_http", workdir)
    _prepared(http_url)
    http = http_import(corpus, http_url, workdir / "data", args.query_rate)
    assert {k: v for k, v in http["report"].items() if k != "seconds"} == \
        {k: v for k, v in cli_report.items() if k != "seconds"}, (http["report"], cli_report)
    emit({"rows": args.rows, "database": args.database, "cores": os.cpu_count(),
          "query_rate": args.query_rate or "back to back",
          "cli_import": {"seconds": round(cli_seconds, 3), "report": cli_report},
          "http_import": http, "http_vs_cli": round(http["seconds"] / cli_seconds, 3),
          "export": export_rate(http_url, workdir), "http_export": http_export_rate(http_url, workdir)}, args.out)


if __name__ == "__main__":
    main()
