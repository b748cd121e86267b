#!/usr/bin/env python3
"""Generate a Social-Chem-101-scale benchmark file in the official TSV layout, from the real sample.

The published `social-chem-101.v1.0.tsv` (about 356k data rows) is not on this network; the shared
sample (`../shared/data/social-chem-101/social-chem-101.sample.tsv`, 9,906 real rows) is. This script
cycles through the sample's rows and makes every pass after the first a new set of rules of thumb by
adding a seeded qualifier to the RoT, its action and its situation ("... at work", "... online"), so
texts stay real-sounding and norms stay distinct. It also puts in what the sample lacks, at about the
published file's rates: negative action judgments (their RoTs reworded "It's bad to ..."), `rot-bad = 1`
rows, other splits, `m = 50` rows, rows without an action breakdown, and exact repeats of a recent row.
Nothing is copied into the repository; the output is a benchmark input, not to be committed.

    python tests/bench/generate_social_chem.py OUT.tsv [--rows 355922] [--seed 0] [--sample PATH]

Prints one JSON object with the counts it wrote. The same seed and parameters give the same file.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

DEFAULT_SAMPLE = Path(__file__).resolve().parents[3] / "shared/data/social-chem-101/social-chem-101.sample.tsv"
QUALIFIERS = ("at work", "at school", "online", "in public", "with family", "with friends", "at home",
              "on a date", "at a party", "with strangers", "with neighbours", "on holiday", "in a meeting",
              "with coworkers", "with your partner", "in a group chat", "at the gym", "while travelling")
SHARES = {"negative": 0.22, "rot_bad": 0.03, "m50": 0.04, "no_breakdown": 0.12, "repeat": 0.05}
SPLITS = (("train", 0.78), ("dev", 0.08), ("test", 0.08), ("dev-extra", 0.02), ("test-extra", 0.02),
          ("analysis", 0.02))


def _read_sample(path: Path) -> tuple[str, list[list[str]]]:
    with path.open(encoding="utf-8") as handle:
        header = handle.readline().rstrip("\n")
        rows = [line.rstrip("\n").split("\t") for line in handle if line.strip()]
    return header, rows


def _qualified(text: str, qualifier: str) -> str:
    end = "." if text.endswith(".") else ""
    return f"{text.rstrip('.').rstrip()} {qualifier}{end}" if text else text


def _vary(row: list[str], col: dict[str, int], rnd: random.Random, qualifier: str | None) -> dict[str, int]:
    """Change `row` in place; returns which rare kinds it got."""
    kinds = dict.fromkeys(SHARES, 0)
    if qualifier:
        for name in ("rot", "action", "situation"):
            row[col[name]] = _qualified(row[col[name]], qualifier)
    split = rnd.random()
    for name, share in SPLITS:
        split -= share
        if split < 0:
            row[col["split"]] = name
            break
    if rnd.random() < SHARES["negative"]:
        kinds["negative"] = 1
        row[col["action-moral-judgment"]] = rnd.choice(("-1", "-1", "-2"))
        rot = row[col["rot"]]
        judgment = row[col["rot-judgment"]]
        if judgment and rot.lower().startswith(judgment.lower()):
            rot = rot[len(judgment):].lstrip()
        row[col["rot"]] = "It's bad " + (rot if rot.lower().startswith("to ") else "to " + rot[:1].lower() + rot[1:])
        row[col["rot-judgment"]] = "It's bad"
    if rnd.random() < SHARES["rot_bad"]:
        kinds["rot_bad"] = 1
        row[col["rot-bad"]] = "1"
    if rnd.random() < SHARES["m50"]:
        kinds["m50"] = 1
        row[col["m"]] = "50"
    if rnd.random() < SHARES["no_breakdown"]:
        kinds["no_breakdown"] = 1
        for name in ("action", "action-agency", "action-moral-judgment", "action-agree", "action-legal",
                     "action-pressure", "action-char-involved", "action-hypothetical", "breakdown-worker-id"):
            row[col[name]] = ""
    row[col["rot-agree"]] = str(rnd.choice((2, 3, 3, 4, 4, 4)))
    return kinds


def generate(out: Path, rows: int, *, seed: int = 0, sample: Path = DEFAULT_SAMPLE) -> dict:
    started = time.perf_counter()
    header, base = _read_sample(sample)
    col = {name: i for i, name in enumerate(header.split("\t"))}
    rnd = random.Random(seed)
    counts = dict.fromkeys(SHARES, 0)
    recent: list[str] = []
    # Pass p > 0 uses qualifier pairs: enough distinct variants for any size up to millions of rows.
    pairs = [None] + [f"{a} {b}" if b else a for a in QUALIFIERS for b in (None, *QUALIFIERS) if a != b]
    with out.open("w", encoding="utf-8", newline="\n") as handle:
        handle.write(header + "\n")
        for i in range(rows):
            if recent and rnd.random() < SHARES["repeat"]:
                counts["repeat"] += 1
                handle.write(recent[rnd.randrange(len(recent))])
                continue
            passes, index = divmod(i, len(base))
            row = list(base[index])
            for kind, n in _vary(row, col, rnd, pairs[passes % len(pairs)]).items():
                counts[kind] += n
            line = "\t".join(row) + "\n"
            handle.write(line)
            recent.append(line)
            if len(recent) > 256:
                recent.pop(0)
    return {"path": str(out), "rows": rows, "seed": seed, **counts, "bytes": out.stat().st_size,
            "seconds": round(time.perf_counter() - started, 2)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--rows", type=int, default=355_922)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sample", type=Path, default=DEFAULT_SAMPLE)
    args = parser.parse_args(argv)
    if not args.sample.exists():
        raise SystemExit(f"no Social-Chem-101 sample at {args.sample}: pass --sample PATH")
    result = generate(args.out, args.rows, seed=args.seed, sample=args.sample)
    json.dump(result, sys.stdout)
    print()
    return result


if __name__ == "__main__":
    main()
