"""The CLI commands that show what the bank holds, take it out or withdraw it: `normbank sources`,
`normbank frames`, `normbank export` and `normbank sources remove`. `normbank.cli` registers them and
hands each an engine."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from sqlalchemy.engine import Engine

from normbank.cli_output import print_json, table
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


def list_sources(args: argparse.Namespace, engine: Engine) -> int:
    """Every imported source with its licence, norm count and last import."""
    from schema.queries import sources

    with engine.connect() as conn:
        data = sources(conn)
    if args.json:
        print_json(data)
        return 0
    rows = [
        (s["name"], s["format"], s["licence"], s["norms"],
         (s["last_import"] or {}).get("status"), (s["last_import"] or {}).get("finished_at"))
        for s in data
    ]
    print(table(rows, ("source", "format", "licence", "norms", "last import", "finished")) if rows else "no sources yet")
    return 0


def frames(args: argparse.Namespace, engine: Engine) -> int:
    """A few frames, to see what is in the bank (`--source`: of one source, with its licence and URL)."""
    from sqlalchemy import select

    from schema.models import Norm, Source

    query = select(Norm.statement, Norm.support, Norm.rule_text, Source.name, Source.licence, Source.url) \
        .join(Source, Source.id == Norm.source_id)
    if args.source:
        query = query.where(Source.name == args.source)
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(Norm.row_number, Norm.id).limit(args.limit)).all()
    for statement, support, rule_text, source, licence, url in rows:
        print(f"[{support}] {statement}" + (f" ({rule_text})" if rule_text else "")
              + (f"  -- {source}, {licence or 'no licence'}, {url or 'no URL'}" if args.source else ""))
    return 0
