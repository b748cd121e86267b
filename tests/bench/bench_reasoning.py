"""In-process latency of `judge` and of a full `query` over the largest setting, as JSON.

    python tests/bench/bench_reasoning.py --database sqlite:///var/bench.db [--judges 3000] [--queries 50]

The database must already hold a corpus (e.g. one made by generate_normbank.py and imported with
`normbank ingest normbank`). Reports p50/p99/max in milliseconds for the pure reasoner and for the
application layer with the response's JSON bytes written (the route functions of `api.routes.reasoning`,
called in process: the service's answer serialised as a response, without HTTP). Full queries
are timed cold (remembered answers forgotten before each) and warm (after the cold pass, on contexts it
did not ask). The cycle collector's threshold is the process's own (`gc.get_threshold()` in the report).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sqlalchemy import func, select  # noqa: E402


def percentiles(samples_ns: list[int]) -> dict[str, float]:
    ms = sorted(s / 1e6 for s in samples_ns)
    pick = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]  # noqa: E731
    return {"p50_ms": round(statistics.median(ms), 4), "p99_ms": round(pick(0.99), 4), "max_ms": round(ms[-1], 4),
            "n": len(ms)}


def contexts_for(compiled, rng: random.Random, n: int) -> list[dict]:
    roles = sorted({a.value for a in compiled.atoms if a.kind.value == "role" and a.subject.value == "person"})
    ages = ["toddler", "teen", "young adult", "middle-aged adult", "senior citizen"]
    times = ["morning", "noon", "evening", "night"]
    out = []
    for _ in range(n):
        out.append({
            "person": {"role": rng.choice(roles) if roles else None,
                       "attributes": {"age bracket": rng.choice(ages)} if rng.random() < 0.7 else {}},
            "environment": {"time of day": rng.choice(times)} if rng.random() < 0.5 else {},
        })
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", default=os.environ.get("NORMBANK_DATABASE_URL"))
    parser.add_argument("--judges", type=int, default=3000)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from api.models import JudgeRequest, QueryRequest
    from normbank.context import make_context, make_party
    from api.routes.reasoning import post_judge, post_query
    from normbank.reasoning import judge_behavior, query
    from schema.engine import make_engine
    from schema.frames import FrameCache
    from schema.models import Norm, Setting

    engine = make_engine(args.database)
    with engine.connect() as conn:
        largest, frames = conn.execute(
            select(Setting.name, func.count()).join(Norm, Norm.setting_id == Setting.id)
            .group_by(Setting.name).order_by(func.count().desc()).limit(1)
        ).one()
    cache = FrameCache(engine, check_seconds=3600)
    started = time.perf_counter()
    compiled = cache.get(largest)
    load_seconds = time.perf_counter() - started
    rng = random.Random(args.seed)
    behaviors = compiled.behaviors
    contexts = contexts_for(compiled, rng, 200)

    # Judges cold: every remembered answer forgotten before each call.
    pure_cold, served_cold = [], []
    for i in range(min(args.judges, 1000)):
        raw = contexts[i % len(contexts)]
        behavior = rng.choice(behaviors)
        context = make_context(largest, make_party(raw["person"]["role"], raw["person"]["attributes"]),
                               None, raw["environment"])
        compiled.forget()
        t = time.perf_counter_ns()
        judge_behavior(compiled, behavior, compiled.facts(context))
        pure_cold.append(time.perf_counter_ns() - t)
        request = JudgeRequest(setting=largest, behavior=behavior, **raw)
        compiled.forget()
        t = time.perf_counter_ns()
        post_judge(request, cache, None)
        served_cold.append(time.perf_counter_ns() - t)

    # Judges as a running service meets them: answers remembered from earlier requests.
    pure, served = [], []
    for i in range(args.judges):
        raw = contexts[i % len(contexts)]
        behavior = rng.choice(behaviors)
        context = make_context(largest, make_party(raw["person"]["role"], raw["person"]["attributes"]),
                               None, raw["environment"])
        t = time.perf_counter_ns()
        judge_behavior(compiled, behavior, compiled.facts(context))
        pure.append(time.perf_counter_ns() - t)
        request = JudgeRequest(setting=largest, behavior=behavior, **raw)
        t = time.perf_counter_ns()
        post_judge(request, cache, None)
        served.append(time.perf_counter_ns() - t)

    # Warm: answers are remembered by the states of each behaviour's atoms (normbank.reasoning), so a
    # query shares the answers of earlier contexts that decide a behaviour alike. Cold: forgotten first.
    full_pure, full_served, cold_pure, cold_served = [], [], [], []
    for i in range(args.queries):
        raw = contexts[i % len(contexts)]
        context = make_context(largest, make_party(raw["person"]["role"], raw["person"]["attributes"]),
                               None, raw["environment"])
        request = QueryRequest(setting=largest, limit=1000, **raw)
        compiled.forget()
        t = time.perf_counter_ns()
        query(compiled, context, limit=len(behaviors))
        cold_pure.append(time.perf_counter_ns() - t)
        compiled.forget()
        t = time.perf_counter_ns()
        post_query(request, cache, None)
        cold_served.append(time.perf_counter_ns() - t)
    for i in range(args.queries):
        raw = contexts[(args.queries + i) % len(contexts)]  # contexts the cold pass did not ask
        context = make_context(largest, make_party(raw["person"]["role"], raw["person"]["attributes"]),
                               None, raw["environment"])
        t = time.perf_counter_ns()
        query(compiled, context, limit=len(behaviors))
        full_pure.append(time.perf_counter_ns() - t)
        request = QueryRequest(setting=largest, limit=1000, **raw)
        t = time.perf_counter_ns()
        post_query(request, cache, None)
        full_served.append(time.perf_counter_ns() - t)

    report = {
        "benchmark": "reasoning_inprocess",
        "cores": os.cpu_count(),
        "database": engine.url.get_backend_name(),
        "largest_setting": {"name": largest, "frames": frames, "behaviors": len(behaviors),
                            "atoms": len(compiled.atoms), "load_seconds": round(load_seconds, 3)},
        "judge_reasoner": percentiles(pure),
        "judge_service": percentiles(served),
        "judge_reasoner_cold": percentiles(pure_cold),
        "judge_service_cold": percentiles(served_cold),
        "query_full_setting_reasoner": percentiles(full_pure),
        "query_full_setting_service": percentiles(full_served),
        "query_full_setting_reasoner_cold": percentiles(cold_pure),
        "query_full_setting_service_cold": percentiles(cold_served),
        "gc_threshold": list(gc.get_threshold()),
    }
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
