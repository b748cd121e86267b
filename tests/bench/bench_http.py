"""HTTP load on loopback: /v1/judge, /v1/query, /v1/ground and a trivial endpoint, at 1 and 2 workers, as JSON.

    python tests/bench/bench_http.py [--database URL --data-dir DIR] [--rows 155423] [--seed 0]
        [--duration 5] [--repeats 3] [--connections 8] [--workers 1 2] [--ground-corpus small|full]
        [--loadgen auto|wrk|python] [--workdir var/bench/http] [--out FILE]

The server is the real one (`normbank serve --workers N --log-level warning`, so no access log) over a
SQLite database holding the generated NormBank-scale corpus (generate_normbank.py, seed 0, imported with
`normbank ingest normbank`); without --database the corpus and the database are made once in --workdir and
reused by later runs with the same --rows and --seed. Next to it runs `trivial_app.py` under the same
uvicorn settings: a FastAPI endpoint that does nothing but parse the same request body and return a typed
response model as large as the median judge answer (the framework's ceiling). Each repeat loads the
trivial endpoint, then judge, query and ground, for --duration seconds each, so the ratio judge/trivial
is measured in the same run, back to back.

Requests rotate over fixed bodies built from the database: 512 judge bodies over random behaviours of 16
settings (the largest included) with random roles, age brackets and times of day; 512 query bodies (one
page, the default limit of 50) over the same settings and contexts; 64 ground bodies over NormDial
situations. 512 rather than 64, so what the service remembers (answers, normalised strings) is exercised
as traffic with some variety would, not as a handful of requests repeated. /v1/ground needs the
vector index: `--ground-corpus small` (the default) serves ground from a second server over the sample
corpus plus NormDial, indexed with `normbank index` (the packaged model) once and reused while fresh;
`full` builds the index for the benchmark database itself (with torch on two shared cores that took
well over half an hour at 155k rows, so it is not the default). The report says which.

Load generator: `wrk` when it is on PATH (one thread, a Lua script rotating the POST bodies, its latency
distribution for p50/p99), else a Python asyncio client with keep-alive connections; the report names it.
Pinning on a machine with two or more cores: the load generator on the last core; with one worker the
servers on core 0, with two workers on every core (sharing the last one with the load generator).
Server RSS (every process of the server, after the load) is reported per worker count, and at the end
of the one-worker run after every setting has been loaded once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from bench_reasoning import contexts_for, percentiles  # noqa: E402
from run_all import PY, REPO, emit, run_json, summary  # noqa: E402

NORMBANK = str(Path(PY).parent / "normbank")
NORMDIAL = REPO.parent / "shared" / "data" / "normdial"
ENDPOINTS = ("trivial", "judge", "query", "ground")
PATHS = {"trivial": "/v1/trivial", "judge": "/v1/judge", "query": "/v1/query", "ground": "/v1/ground"}

WRK_LUA = r"""
local bodies = {}
local i = 0
local headers = {["Content-Type"] = "application/json"}

function init(args)
  for line in io.lines(args[1]) do bodies[#bodies + 1] = line end
  i = math.random(#bodies)
end

function request()
  i = i % #bodies + 1
  return wrk.format("POST", nil, headers, bodies[i])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, "errors": {"connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d}, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
"""


# -- the database and the request bodies -----------------------------------------------------------
def sh(cmd: list[str], env: dict | None = None) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env={**os.environ, **(env or {})})
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def prepare_full(work: Path, rows: int, seed: int) -> tuple[str, Path, dict]:
    """The generated corpus in a SQLite database in `work`, made once per (rows, seed)."""
    work.mkdir(parents=True, exist_ok=True)
    db, marker = work / "normbank.db", work / "ingest.json"
    url = f"sqlite:///{db}"
    if marker.exists():
        done = json.loads(marker.read_text())
        if done.get("rows") == rows and done.get("seed") == seed and db.exists():
            sh([NORMBANK, "init", "--database", url])  # upgrade the schema if it moved on
            return url, work, {**done, "reused": True}
    for stale in (db, marker):
        stale.unlink(missing_ok=True)
    shutil.rmtree(work / "indexes", ignore_errors=True)
    corpus = work / "NormBank.csv"
    generated, _ = run_json([PY, str(BENCH / "generate_normbank.py"), str(corpus), "--rows", str(rows),
                             "--seed", str(seed)])
    sh([NORMBANK, "init", "--database", url])
    ingested, _ = run_json([NORMBANK, "ingest", "normbank", str(corpus), "--json", "--no-progress", "--database", url])
    corpus.unlink()
    done = {"rows": rows, "seed": seed, "distinct_frames": generated["distinct_frames"], "ingest": ingested}
    marker.write_text(json.dumps(done))
    return url, work, {**done, "reused": False}


def prepare_small(work: Path) -> tuple[str, Path, dict]:
    """The sample corpus plus NormDial, for /v1/ground when the 155k index is not wanted."""
    work.mkdir(parents=True, exist_ok=True)
    db, marker = work / "normbank.db", work / "ingest.json"
    url = f"sqlite:///{db}"
    if not (marker.exists() and db.exists()):
        db.unlink(missing_ok=True)
        sh([NORMBANK, "init", "--sample", "--database", url])
        ingested = json.loads(sh([NORMBANK, "ingest", "normdial", str(NORMDIAL), "--json", "--no-progress",
                                  "--database", url]))
        marker.write_text(json.dumps({"corpus": "sample + normdial", "normdial": ingested}))
    return url, work, json.loads(marker.read_text())


def build_index(url: str, data_dir: Path) -> dict:
    """`normbank index` for this database (a no-op while the index is fresh)."""
    started = time.perf_counter()
    out = sh([NORMBANK, "index", "--json", "--no-progress", "--database", url], env={"NORMBANK_DATA_DIR": str(data_dir)})
    seconds = time.perf_counter() - started
    if "{" not in out:
        return {"built": False, "note": out.strip()}
    manifest = json.loads(out[out.index("{"):])
    return {"built": True, "seconds": round(seconds, 1), "distinct_texts": manifest.get("distinct_texts"),
            "bytes_on_disk": manifest.get("bytes_on_disk")}


def reasoning_bodies(url: str, rng: random.Random, n: int = 512, settings: int = 16) -> tuple[list[dict], list[dict], list[str]]:
    from sqlalchemy import func, select

    from schema.engine import make_engine
    from schema.frames import FrameCache
    from schema.models import Norm, Setting

    engine = make_engine(url)
    with engine.connect() as conn:
        ranked = [name for name, _ in conn.execute(
            select(Setting.name, func.count()).join(Norm, Norm.setting_id == Setting.id)
            .group_by(Setting.name).order_by(func.count().desc(), Setting.name))]
    chosen = ranked[:1] + rng.sample(ranked[1:], min(settings - 1, len(ranked) - 1))
    cache = FrameCache(engine, check_seconds=3600)
    compiled = {name: cache.get(name) for name in chosen}
    judges, queries = [], []
    for i in range(n):
        name = chosen[i % len(chosen)]
        context = contexts_for(compiled[name], rng, 1)[0]
        judges.append({"setting": name, "behavior": rng.choice(compiled[name].behaviors), **context})
        queries.append({"setting": name, **contexts_for(compiled[name], rng, 1)[0]})
    engine.dispose()
    return judges, queries, ranked


def ground_bodies(rng: random.Random, n: int = 64) -> list[dict]:
    import csv

    situations = []
    for path in sorted(NORMDIAL.glob("*/*/*/cleaned_dialogue.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader)
            col = header.index("American_Situation" if "American_Situation" in header else "Situation")
            situations += [row[col] for row in reader if row[col].strip()]
    return [{"situation": s, "k": 5} for s in rng.sample(situations, min(n, len(situations)))]


# -- servers ----------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(port: int, path: str, body: dict, timeout: float = 120) -> tuple[int, bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
                                     headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class Server:
    def __init__(self, name: str, cmd: list[str], env: dict, cpus: str | None, log: Path):
        self.name, self.port = name, free_port()
        pin = ["taskset", "-c", cpus] if cpus else []
        self.log = log.open("w")
        self.proc = subprocess.Popen(pin + cmd + ["--host", "127.0.0.1", "--port", str(self.port)], cwd=REPO,
                                     env={**os.environ, **env}, stdout=self.log, stderr=subprocess.STDOUT)

    def wait(self, path: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.name} server exited; see {self.log.name}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.3)
        raise SystemExit(f"{self.name} server not ready after {timeout}s; see {self.log.name}")

    def rss_mb(self) -> dict:
        """Resident memory of the server's processes (the uvicorn supervisor and its workers)."""
        pids, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            pids.append(pid)
            try:
                todo += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
            except OSError:
                pass
        per = {}
        for pid in pids:
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            line = next(x for x in status.splitlines() if x.startswith("VmRSS:"))
            per[pid] = int(line.split()[1]) / 1024
        # taskset execs the server in place, so the first pid is uvicorn itself.
        return {"total_mb": round(sum(per.values()), 1), "largest_process_mb": round(max(per.values()), 1),
                "processes": len(per)}

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


# -- load generators --------------------------------------------------------------------------------
def run_wrk(port: int, path: str, bodies_file: Path, script: Path, seconds: float, connections: int,
            cpus: str | None) -> dict:
    pin = ["taskset", "-c", cpus] if cpus else []
    cmd = pin + ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s", "-s", str(script),
                 f"http://127.0.0.1:{port}{path}", "--", str(bodies_file)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    data = json.loads(out[out.rindex("\n{") + 1:] if "\n{" in out else out[out.index("{"):])
    errors = sum(data["errors"].values())
    return {"rps": data["requests"] / (data["duration_us"] / 1e6), "p50_ms": data["p50_us"] / 1000,
            "p99_ms": data["p99_us"] / 1000, "requests": data["requests"], "errors": errors}


async def _python_load(port: int, path: str, bodies: list[bytes], seconds: float, connections: int) -> dict:
    requests = [
        (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
         f"Content-Length: {len(b)}\r\n\r\n").encode() + b for b in bodies
    ]
    latencies: list[int] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def client(offset: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        i = offset
        while time.perf_counter() < deadline:
            i = (i + 1) % len(requests)
            t = time.perf_counter_ns()
            writer.write(requests[i])
            status = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter_ns() - t)
            if not status.split(b" ")[1].startswith(b"2"):
                errors += 1
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(c * 7) for c in range(connections)))
    elapsed = time.perf_counter() - started
    stats = percentiles(latencies)
    return {"rps": len(latencies) / elapsed, "p50_ms": stats["p50_ms"], "p99_ms": stats["p99_ms"],
            "requests": len(latencies), "errors": errors}


def run_python(port: int, path: str, bodies_file: Path, seconds: float, connections: int, cpus: str | None) -> dict:
    if cpus:
        os.sched_setaffinity(0, {int(c) for c in cpus.split(",")})
    bodies = bodies_file.read_bytes().splitlines()
    return asyncio.run(_python_load(port, path, bodies, seconds, connections))


# -- the run ----------------------------------------------------------------------------------------
def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", help="an existing database holding the corpus (skips generate and ingest)")
    parser.add_argument("--data-dir", type=Path, help="its data dir (indexes); default: --workdir")
    parser.add_argument("--rows", type=int, default=155_423)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--duration", type=int, default=5, help="seconds of load per endpoint and repeat")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of unmeasured load per endpoint first")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--ground-corpus", choices=("full", "small"), default="small",
                        help="small (default): the 155k index takes far longer than a few minutes to build with torch")
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--workdir", type=Path, default=REPO / "var" / "bench" / "http")
    parser.add_argument("--out", type=Path, help="also write the JSON report here")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rng = random.Random(args.seed)

    loadgen = args.loadgen
    if loadgen == "auto":
        loadgen = "wrk" if shutil.which("wrk") else "python"
    elif loadgen == "wrk" and not shutil.which("wrk"):
        raise SystemExit("wrk is not on PATH")
    cores = os.cpu_count() or 1
    can_pin = cores >= 2 and shutil.which("taskset") is not None
    loadgen_cpus = str(cores - 1) if can_pin else None

    report: dict = {"benchmark": "http", "cores": cores, "loadgen": loadgen, "duration_s": args.duration,
                    "repeats": args.repeats, "connections": args.connections}
    if args.database:
        url, data_dir, corpus = args.database, args.data_dir or args.workdir, {"database": args.database}
    else:
        url, data_dir, corpus = prepare_full(args.workdir / f"normbank-{args.rows}-{args.seed}", args.rows, args.seed)
    report["corpus"] = corpus
    if args.ground_corpus == "full":
        ground_url, ground_dir = url, data_dir
        report["ground"] = {"corpus": "the benchmark database", "index": build_index(url, data_dir)}
    else:
        ground_url, ground_dir, small = prepare_small(args.workdir / "small")
        report["ground"] = {"corpus": "sample corpus + NormDial (a second server)", "database": small,
                            "index": build_index(ground_url, ground_dir)}

    judges, queries, all_settings = reasoning_bodies(url, rng)
    bodies = {"judge": judges, "query": queries, "ground": ground_bodies(rng)}
    files = args.workdir / "bodies"
    files.mkdir(parents=True, exist_ok=True)
    script = files / "post.lua"
    script.write_text(WRK_LUA)
    for name, items in bodies.items():
        (files / f"{name}.jsonl").write_text("".join(json.dumps(b) + "\n" for b in items))
    (files / "trivial.jsonl").write_text((files / "judge.jsonl").read_text())

    def load(port: int, endpoint: str, seconds: float) -> dict:
        f = files / f"{endpoint}.jsonl"
        if loadgen == "wrk":
            return run_wrk(port, PATHS[endpoint], f, script, seconds, args.connections, loadgen_cpus)
        return run_python(port, PATHS[endpoint], f, seconds, args.connections, loadgen_cpus)

    report["pinning"] = (
        f"load generator on cpu {loadgen_cpus}; servers on cpu 0 with 1 worker, on cpus 0-{cores - 1} with more"
        if can_pin else "none (fewer than 2 cores or no taskset)")
    report["requests"] = {name: len(items) for name, items in bodies.items()}
    env = {"NORMBANK_DATABASE_URL": url, "NORMBANK_DATA_DIR": str(data_dir), "PYTHONPATH": str(REPO)}
    if args.ground_corpus == "small":
        # Ground is served by the second server: this one must not start building the 155k index.
        env["NORMBANK_INDEX_ON_START"] = "off"
        report["ground"]["main_server_index"] = "off (NORMBANK_INDEX_ON_START=off)"
    logs = args.workdir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    serve = [NORMBANK, "serve", "--log-level", "warning"]
    results: dict = {}
    for workers in args.workers:
        cpus = None if not can_pin else ("0" if workers == 1 else f"0-{cores - 1}")
        main_server = Server("normbank", serve + ["--workers", str(workers)], env, cpus, logs / f"normbank-{workers}.log")
        servers = {"judge": main_server, "query": main_server}
        extra = []
        try:
            main_server.wait("/healthz")
            if args.ground_corpus == "full":
                servers["ground"] = main_server
            else:
                ground_server = Server("ground", serve + ["--workers", str(workers)],
                                       {**env, "NORMBANK_DATABASE_URL": ground_url, "NORMBANK_DATA_DIR": str(ground_dir),
                                        "NORMBANK_INDEX_ON_START": "rebuild"},
                                       cpus, logs / f"ground-{workers}.log")
                extra.append(ground_server)
                ground_server.wait("/healthz")
                servers["ground"] = ground_server
            servers["ground"].wait("/readyz")
            # Every body once: each must answer 200; the judge answers' size sets the trivial one's.
            sizes: dict[str, list[int]] = {}
            for endpoint in ("judge", "query", "ground"):
                for body in bodies[endpoint]:
                    status, content = post(servers[endpoint].port, PATHS[endpoint], body)
                    if status != 200:
                        raise SystemExit(f"{endpoint} answered {status} to {body}: {content[:300]!r}")
                    sizes.setdefault(endpoint, []).append(len(content))
            trivial_bytes = int(statistics.median(sizes["judge"]))
            trivial = Server("trivial", [PY, "-m", "uvicorn", "trivial_app:app", "--workers", str(workers),
                                         "--log-level", "warning"],
                             {"NORMBANK_TRIVIAL_BYTES": str(trivial_bytes), "PYTHONPATH": f"{BENCH}:{REPO}"},
                             cpus, logs / f"trivial-{workers}.log")
            extra.append(trivial)
            trivial.wait("/docs")
            servers["trivial"] = trivial
            status, content = post(trivial.port, PATHS["trivial"], bodies["judge"][0])
            assert status == 200 and len(content) == trivial_bytes, (status, len(content), trivial_bytes)

            for endpoint in ENDPOINTS:  # unmeasured: fills every worker's caches
                load(servers[endpoint].port, endpoint, args.warmup)
            runs: dict[str, list[dict]] = {e: [] for e in ENDPOINTS}
            for _ in range(args.repeats):
                for endpoint in ENDPOINTS:
                    runs[endpoint].append(load(servers[endpoint].port, endpoint, args.duration))
            out: dict = {"response_bytes_median": {e: int(statistics.median(v)) for e, v in sizes.items()},
                         "trivial_bytes": trivial_bytes}
            for endpoint, samples in runs.items():
                out[endpoint] = {key: summary([s[key] for s in samples]) for key in ("rps", "p50_ms", "p99_ms")}
                out[endpoint]["errors"] = sum(s["errors"] for s in samples)
            ratios = [j["rps"] / t["rps"] for j, t in zip(runs["judge"], runs["trivial"])]
            out["judge_over_trivial_rps"] = summary(ratios)
            out["rss_after_load"] = main_server.rss_mb()
            if args.ground_corpus != "full":
                out["rss_after_load_ground_server"] = servers["ground"].rss_mb()
            if workers == 1:
                # Every setting compiled once, with the vector index and the encoder loaded: the server's
                # memory with the whole corpus.
                t = time.perf_counter()
                for name in all_settings:
                    status, _ = post(main_server.port, PATHS["query"], {"setting": name, "limit": 1})
                    assert status == 200, (name, status)
                out["rss_all_settings_loaded"] = {**main_server.rss_mb(), "settings": len(all_settings),
                                                  "load_seconds": round(time.perf_counter() - t, 1)}
            results[f"workers_{workers}"] = out
        finally:
            for server in [main_server, *extra]:
                server.stop()
    report.update(results)
    report["seconds"] = round(time.perf_counter() - started, 1)
    return emit(report, args.out)


if __name__ == "__main__":
    main()
