"""A server's memory after a large HTTP import (and the index rebuild it triggers) against a fresh process on
the same data, and how long /v1/judge requests wait while that import commits and the caches reload; JSON.

    python tests/bench/bench_memory.py [--repos DIR ...] [--rounds 1] [--rows 155423] [--import-rows 121000]
        [--model hashing] [--clients 4] [--workdir /work/bench-memory] [--out FILE]

Each repo (a checkout with its own .venv, default: this one; give two, e.g. a baseline worktree and this
one, to compare them in one window) is run `--rounds` times, alternating:

1. a copy of the template data directory: a SQLite bank holding the generated NormBank-scale corpus
   (generate_normbank.py, seed 0, `--rows`) and its vector index (`normbank index`, `--model`), made once
   in --workdir with this checkout's code (both checkouts must share the schema);
2. `normbank serve` (that repo's) on it, readiness waited for; 256 judge bodies over 16 settings sent once
   (every setting they name compiled); the server's RSS: `start`;
3. `--clients` threads post those judge bodies back to back on keep-alive connections while a second
   generated corpus (seed 1, `--import-rows`) is posted to /v1/imports; the job is followed to `succeeded`,
   then the index rebuild it makes stale to `/readyz` index ok, then 5 s more; every request's start and
   end are kept;
4. the judge bodies once more, RSS `after` (and the process's peak, VmHWM);
5. that server stopped, a fresh `normbank serve` started on the same data (its index now fresh), the judge
   bodies once, RSS `fresh`.

Reported per run: the three RSS figures and after/fresh; of the judge requests during the import and
after it: how many, the slowest, p99 and p50, the longest stretch in which none completed, and the slowest
of those in flight at any time from the job's commit (as seen by polling it) to 15 s after. The hashing model (the default) keeps a
run to minutes; the packaged model's embedding at this size takes the better part of an hour on two cores.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import statistics
import sys
import threading
import time
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from bench_http import Server, prepare_full, reasoning_bodies, sh  # noqa: E402
from run_all import PY, REPO, emit, run_json  # noqa: E402

TOKEN = "bench-memory"
AFTER_COMMIT_SECONDS = 15.0


def prepare(work: Path, rows: int, import_rows: int, model: str) -> tuple[Path, Path, dict]:
    """The template data directory (bank and index) and the corpus to import, made once per arguments."""
    template = work / f"template-{rows}-{model.replace('/', '_')}"
    url, _, ingest = prepare_full(template, rows, 0)
    index = sh([str(Path(PY).parent / "normbank"), "index", "--json", "--no-progress", "--database", url],
               env={"NORMBANK_DATA_DIR": str(template), "NORMBANK_EMBEDDING_MODEL": model})
    corpus = work / f"import-{import_rows}-seed1.csv"
    if not corpus.exists():
        run_json([PY, str(BENCH / "generate_normbank.py"), str(corpus), "--rows", str(import_rows), "--seed", "1"])
    return template, corpus, {"ingest": ingest, "index": index.strip()[-300:]}


def restamp(data: Path) -> None:
    """Stamp the copied index with the copy's own database URL, as `normbank index` on it would have: the
    stamp names the database, and a server would otherwise find the index stale and rebuild it at start."""
    from schema.engine import make_engine
    from schema.indexing import current_stamp

    engine = make_engine(f"sqlite:///{data / 'normbank.db'}")
    stamp = current_stamp(engine)
    engine.dispose()
    build = (data / "indexes" / "CURRENT").read_text().strip()
    manifest_path = data / "indexes" / build / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["stamp"] = stamp
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True))


def status(pid: int) -> dict:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {"rss_mb": round(int(fields["VmRSS"].split()[0]) / 1024, 1),
            "peak_mb": round(int(fields["VmHWM"].split()[0]) / 1024, 1)}


def get_json(port: int, path: str) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=60) as response:
        return json.loads(response.read())


def index_fresh(port: int) -> bool:
    """Whether /readyz says the index is up to date (not merely answering while it rebuilds)."""
    try:
        return get_json(port, "/readyz").get("checks", {}).get("index") == "ok"
    except Exception:  # noqa: BLE001 - 503 while the first index builds
        return False


def judge_all(port: int, bodies: list[dict]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for body in bodies:
        conn.request("POST", "/v1/judge", json.dumps(body), {"content-type": "application/json"})
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise SystemExit(f"judge answered {response.status}")
    conn.close()


class Load:
    """Threads posting judge bodies back to back; every request's (start, end, status) is kept."""

    def __init__(self, port: int, bodies: list[dict], clients: int):
        self.port, self.bodies = port, bodies
        self.done: list[tuple[float, float, int]] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True) for i in range(clients)]

    def run(self, offset: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        i = offset * 37
        while not self.stop.is_set():
            body = json.dumps(self.bodies[i % len(self.bodies)])
            i += 1
            started = time.monotonic()
            try:
                conn.request("POST", "/v1/judge", body, {"content-type": "application/json"})
                response = conn.getresponse()
                response.read()
                code = response.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
                code = 0
            self.done.append((started, time.monotonic(), code))

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(300)


def latency(done: list[tuple[float, float, int]], committed: float) -> dict:
    seconds = sorted(end - start for start, end, _ in done)
    ends = sorted(end for _, end, _ in done)
    gaps = [b - a for a, b in zip(ends, ends[1:])]
    near = [end - start for start, end, _ in done if end >= committed and start <= committed + AFTER_COMMIT_SECONDS]
    return {"requests": len(done), "errors": sum(code != 200 for *_, code in done),
            "max_s": round(seconds[-1], 3), "p99_s": round(seconds[int(0.99 * (len(seconds) - 1))], 3),
            "p50_s": round(statistics.median(seconds), 3), "longest_gap_s": round(max(gaps, default=0.0), 3),
            "max_s_after_commit": round(max(near, default=0.0), 3), "after_commit_requests": len(near)}


def serve(repo: Path, data: Path, model: str, log: Path) -> Server:
    env = {"NORMBANK_DATA_DIR": str(data), "NORMBANK_EMBEDDING_MODEL": model, "NORMBANK_API_TOKEN": TOKEN,
           "NORMBANK_DATABASE_URL": f"sqlite:///{data / 'normbank.db'}"}
    server = Server(repo.name, [str(repo / ".venv" / "bin" / "normbank"), "serve", "--log-level", "warning"],
                    env, None, log)
    server.wait("/healthz")
    deadline = time.monotonic() + 600
    while not index_fresh(server.port) and time.monotonic() < deadline:
        time.sleep(0.5)
    return server


def import_under_load(server: Server, corpus: Path, bodies: list[dict], clients: int) -> tuple[dict, float]:
    """Post the corpus while judge requests run; returns the latencies and the import's wall time."""
    with Load(server.port, bodies, clients) as load:
        time.sleep(2.0)
        started = time.monotonic()
        request = urllib.request.Request(
            f"http://127.0.0.1:{server.port}/v1/imports?format=normbank&source=imported", data=corpus.read_bytes(),
            headers={"Authorization": f"Bearer {TOKEN}", "content-type": "text/csv"})
        with urllib.request.urlopen(request, timeout=600) as response:
            job = json.loads(response.read())
        while (state := get_json(server.port, f"/v1/imports/{job['id']}"))["status"] in ("queued", "running"):
            time.sleep(0.2)
        committed = time.monotonic()
        if state["status"] != "succeeded":
            raise SystemExit(f"import failed: {state}")
        while not index_fresh(server.port):  # the rebuild the import made necessary
            time.sleep(0.5)
        time.sleep(5.0)
    return latency(load.done, committed), round(committed - started, 1)


def one_run(repo: Path, template: Path, corpus: Path, bodies: list[dict], work: Path, model: str,
            clients: int) -> dict:
    data = work / f"run-{repo.name}"
    shutil.rmtree(data, ignore_errors=True)
    shutil.copytree(template, data, ignore=shutil.ignore_patterns("*.csv", "ingest.json", "*-wal", "*-shm"))
    restamp(data)
    server = serve(repo, data, model, work / f"serve-{repo.name}.log")
    try:
        judge_all(server.port, bodies)
        start = status(server.proc.pid)
        judges, import_seconds = import_under_load(server, corpus, bodies, clients)
        judge_all(server.port, bodies)
        after = status(server.proc.pid)
    finally:
        server.stop()
    fresh_server = serve(repo, data, model, work / f"fresh-{repo.name}.log")
    try:
        judge_all(fresh_server.port, bodies)
        fresh = status(fresh_server.proc.pid)
    finally:
        fresh_server.stop()
    return {"repo": str(repo), "start": start, "after": after, "fresh": fresh,
            "after_over_fresh": round(after["rss_mb"] / fresh["rss_mb"], 2), "import_seconds": import_seconds,
            "judge_during_import": judges}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", nargs="+", type=Path, default=[REPO])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--rows", type=int, default=155_423)
    parser.add_argument("--import-rows", type=int, default=121_000)
    parser.add_argument("--model", default="hashing")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workdir", type=Path, default=Path("/work/bench-memory"))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    template, corpus, prepared = prepare(args.workdir, args.rows, args.import_rows, args.model)
    judges, _, _ = reasoning_bodies(f"sqlite:///{template / 'normbank.db'}", random.Random(0), n=256)
    runs = []
    for round_number in range(args.rounds):
        for repo in args.repos:
            run = one_run(repo.resolve(), template, corpus, judges, args.workdir, args.model, args.clients)
            runs.append({"round": round_number + 1, **run})
            print(json.dumps(runs[-1]), file=sys.stderr)
    medians = {}
    for repo in args.repos:
        mine = [r for r in runs if r["repo"] == str(repo.resolve())]
        medians[str(repo.resolve())] = {
            "after_over_fresh": statistics.median(r["after_over_fresh"] for r in mine),
            "judge_max_s": statistics.median(r["judge_during_import"]["max_s"] for r in mine),
            "judge_longest_gap_s": statistics.median(r["judge_during_import"]["longest_gap_s"] for r in mine)}
    return emit({"benchmark": "memory", "rows": args.rows, "import_rows": args.import_rows, "model": args.model,
                 "clients": args.clients, "prepared": prepared, "runs": runs, "medians": medians}, args.out)


if __name__ == "__main__":
    main()
