"""The CLI commands that take data out of the bank or withdraw it: `normbank export` and
`normbank sources remove`. `normbank.cli` registers them and hands each an engine."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from sqlalchemy.engine import Engine

from normbank.errors import NormbankError

EXPORT_FORMATS = ("jsonl", "normbank")


def add_export_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", metavar="PATH", help="the file to write ('-' for standard output)")
    p.add_argument("--source", help="export only this source (default: every source)")
    p.add_argument("--format", choices=EXPORT_FORMATS, default="jsonl",
                   help="jsonl: everything, read back by `ingest normbank-jsonl` (default); "
                        "normbank: NormBank.csv's layout, for the norms that have a setting")


def export(args: argparse.Namespace, engine: Engine) -> int:
    from ingest.export import export_jsonl, export_normbank_csv

    write = export_jsonl if args.format == "jsonl" else export_normbank_csv
    started = time.perf_counter()
    norms = 0
    target = Path(args.path)
    partial = target.with_name(target.name + ".partial")
    try:
        with engine.connect() as conn:
            with (open(os.dup(sys.stdout.fileno()), "wb") if args.path == "-" else partial.open("wb")) as out:
                for chunk in write(conn, args.source):
                    out.write(chunk)
                    norms += chunk.count(b'{"type":"norm"') if args.format == "jsonl" else 0
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    if args.path != "-":
        partial.replace(target)  # a failed export leaves no half-written file under the name asked for
    seconds = time.perf_counter() - started
    print(f"exported {norms} norms to {args.path} in {seconds:.2f}s" if args.format == "jsonl"
          else f"exported to {args.path} in {seconds:.2f}s", file=sys.stderr)
    return 0


def remove_source(args: argparse.Namespace, engine: Engine) -> int:
    from ingest.removal import remove_source as remove

    if not args.name:
        raise NormbankError("`sources remove` needs the name of the source to remove")
    result = remove(engine=engine, name=args.name)
    print(f"removed source {result['source']!r}: {result['norms']} norms, {result['rejected_rows']} rejected rows")
    return 0
