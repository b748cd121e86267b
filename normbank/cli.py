"""The `normbank` command: the composition root. It imports `schema`, `ingest` and `api` lazily, inside
the commands, so `normbank --help` stays fast and the pure domain never depends on them."""

from __future__ import annotations

import argparse
import json
import os
import sys
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Sequence

from normbank.cli_output import print_json, result_row, table
from normbank.cli_edge import Parser, check_port_free, database_error, non_empty, port, positive_int
from normbank.config import Settings, get_settings
from normbank.errors import DatabaseUnavailable, NormbankError

SAMPLE_CORPUS = "sample_normbank.csv"


def sample_corpus_path() -> Path:
    """The sample corpus shipped inside the package (NormBank.csv format)."""
    return Path(str(resources.files("normbank") / "data" / SAMPLE_CORPUS))


# -- helpers ------------------------------------------------------------------------------------
def _settings(args: argparse.Namespace) -> Settings:
    return get_settings(database_url=getattr(args, "database", None))


def _engine(args: argparse.Namespace, *, create: bool = False):
    """An engine on the configured database, checked reachable and at the current schema revision. Only
    `create` (init) and `auto_init` (ingest) may create a SQLite file or a PostgreSQL database; the
    commands that read fail on a missing database instead of creating an empty one."""
    from sqlalchemy.exc import OperationalError

    from schema.engine import check_connection, create_database, make_engine, redact, require_database
    from schema.migrate import current_revision, head_revision, upgrade

    settings = _settings(args)
    url = settings.resolved_database_url
    may_create = create or getattr(args, "auto_init", False)
    if not may_create:
        require_database(url)
    elif create and create_database(url):
        print(f"created the PostgreSQL database at {redact(url)}")
    engine = make_engine(url, create=may_create)
    check_connection(engine)
    try:
        revision = current_revision(engine)
    except OperationalError as exc:
        raise DatabaseUnavailable(f"cannot read the database at {redact(url)}: {exc.orig}") from None
    if revision != head_revision():
        if create or (revision is None and getattr(args, "auto_init", False)):
            upgrade(engine)
        else:
            state = "is empty" if revision is None else f"is at schema revision {revision}"
            raise NormbankError(f"the database at {redact(url)} {state}; run `normbank init` first")
    return engine


# -- commands -----------------------------------------------------------------------------------
def cmd_init(args: argparse.Namespace) -> int:
    from schema.engine import redact

    engine = _engine(args, create=True)
    print(f"database ready at {redact(str(engine.url))}")
    if args.sample:
        from ingest.pipeline import run_import

        report = run_import(engine=engine, format="normbank", path=sample_corpus_path(), source="normbank-sample",
                            progress=_progress(args))
        print(f"sample corpus: read {report.read}, loaded {report.loaded} new norms, "
              f"{report.duplicates} duplicates, {report.rejected} rejected")
    return 0


def _progress(args: argparse.Namespace) -> bool:
    choice = getattr(args, "progress", None)
    return sys.stderr.isatty() if choice is None else choice


def cmd_ingest(args: argparse.Namespace) -> int:
    from ingest.pipeline import run_import
    from ingest.readers import get_reader

    reader = get_reader(args.format)  # unknown formats fail before touching the database
    options = {name: value for name, value in (("mapping", args.mapping), ("keep_bad", args.keep_bad)) if value}
    reader.check_options(options)
    reader.check(Path(args.path), **options)
    args.auto_init = True
    engine = _engine(args)
    report = run_import(engine=engine, format=args.format, path=args.path, source=args.source,
                        dry_run=args.dry_run, progress=_progress(args) and not args.json, options=options)
    if args.json:
        print_json(report.to_json())
        return 0
    verb = "would load" if args.dry_run else "loaded"
    unit = "taxonomy entries" if reader.taxonomy else "norms"
    print(f"{report.source}: read {report.read}, {verb} {report.loaded} new {unit}, "
          f"{report.duplicates} duplicates, {report.rejected} rejected in {report.seconds:.2f}s"
          + (" (dry run: nothing written)" if args.dry_run else ""))
    for reason, n in sorted(report.rejected_reasons.items(), key=lambda kv: -kv[1])[:10]:
        print(f"  rejected {n:>6}  {reason}")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from schema.queries import stats

    with _engine(args).connect() as conn:
        data = stats(conn)
    if args.json:
        print_json(data)
    else:
        print(table(list(data.items()), ("what", "count")))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from normbank import cli_bank

    return cli_bank.export(args, _engine(args))


def cmd_sources(args: argparse.Namespace) -> int:
    from normbank import cli_bank

    if args.action == "remove":
        return cli_bank.remove_source(args, _engine(args))
    return cli_bank.list_sources(args, _engine(args))


def cmd_formats(args: argparse.Namespace) -> int:
    from ingest.readers import READERS

    rows = [(r.format, r.title, r.licence) for r in READERS.values()]
    if args.json:
        print_json([{"format": f, "title": t, "licence": lic} for f, t, lic in rows])
    else:
        print(table(rows, ("format", "corpus", "licence")))
    return 0


def cmd_frames(args: argparse.Namespace) -> int:
    from normbank import cli_bank

    return cli_bank.frames(args, _engine(args))


def _facts(pairs: Sequence[str] | None, flag: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs or ():
        name, sep, value = pair.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise NormbankError(f"{flag} takes name=value, got {pair!r}")
        name = name.strip()
        out[name] = [*out[name], value.strip()] if name in out and isinstance(out[name], list) else (
            [out[name], value.strip()] if name in out else value.strip())
    return out


def _request(args: argparse.Namespace) -> Any:
    """The JudgeRequest (with --behavior) or QueryRequest the arguments describe, checked like an HTTP body."""
    from pydantic import ValidationError

    from api.models import JudgeRequest, PartyIn, QueryRequest

    try:
        person = PartyIn(role=args.person_role, attributes=_facts(args.person_attr, "--person-attr"),
                         behaviors=args.person_behavior or [])
        other = PartyIn(role=args.other_role, attributes=_facts(args.other_attr, "--other-attr"))
        common = dict(setting=args.setting, person=person, other=other, environment=_facts(args.env, "--env"))
        if args.behavior:
            return JudgeRequest(**common, behavior=args.behavior)
        return QueryRequest(**common, limit=args.limit)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "arguments"
        raise NormbankError(f"invalid query: {where}: {first['msg']}") from None


def cmd_query(args: argparse.Namespace) -> int:
    from api import service
    from api.retrieval import Retriever
    from schema.frames import FrameCache

    request = _request(args)
    engine = _engine(args)
    cache = FrameCache(engine)
    # The API's retriever, so free text links as the API links it (dense linking included); linking reads
    # the index's vectors when there is one and never starts a build.
    retriever = Retriever(engine, _settings(args))
    if args.behavior:
        response = service.judge(cache, request, retriever)
        results = [response]
    else:
        response = service.query(cache, request, retriever)
        results = response["results"]
    if args.json:
        print(json.dumps(response, ensure_ascii=False, indent=2))
        return 0
    for unused in response["unused"]:
        print(f"note: the bank has never seen {unused['subject']} {unused['name']!r}; it was not used")
    print(table([result_row(r) for r in results],
                 ("behaviour", "status", "verdict", "confidence", "deciding frames", "conditions")))
    if not args.behavior and response["next_cursor"]:
        print(f"... {response['total'] - len(results)} more behaviours (raise --limit)")
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    from api.retrieval import Retriever

    retriever = Retriever(_engine(args), _settings(args))
    backend = getattr(retriever.encoder, "backend", None)  # the hashing encoder has none

    def starting(reason: str) -> None:
        print(f"building the index ({reason}) with {retriever.encoder.name}" + (f" on {backend}" if backend else ""),
              file=sys.stderr)

    manifest = retriever.build_if_stale(progress=_progress(args), force=args.rebuild, on_start=starting)
    if manifest is None:
        print(f"index is up to date ({retriever.store.current_manifest().build}); --rebuild forces a new one")
        return 0
    if args.json:  # texts: distinct texts in the index; embedded: those computed by this build
        print_json({**manifest.to_dict(), "texts": manifest.distinct_texts})
    else:
        print(f"index {manifest.build}: {manifest.distinct_texts} distinct texts, {manifest.embedded} embedded "
              f"in {manifest.embed_seconds:.1f}s (the rest kept from earlier builds), "
              f"indexed in {manifest.index_seconds:.1f}s, {manifest.bytes_on_disk / 1e6:.1f} MB; "
              + ", ".join(f"{k} {v}" for k, v in manifest.collections.items()))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    if getattr(args, "database", None):
        os.environ["NORMBANK_DATABASE_URL"] = args.database  # the app factory reads the settings itself
    _engine(args).dispose()  # fail fast, with a clear message, before the server starts
    check_port_free(args.host, args.port)
    print(f"normbank: serving on http://{args.host}:{args.port} (docs at /docs)", file=sys.stderr)
    uvicorn.run("api.app:create_app", factory=True, host=args.host, port=args.port, workers=args.workers,
                log_level=args.log_level)
    return 0


def cmd_mcp(args: argparse.Namespace) -> int:
    from api import mcp_server

    _engine(args).dispose()  # fail fast, with a clear message, before the server starts
    if args.http:
        print(f"normbank: MCP over streamable HTTP at http://{args.host}:{args.port}/mcp", file=sys.stderr)
    mcp_server.run(_settings(args), http=args.http, host=args.host, port=args.port)
    return 0


# -- parser -------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--database", metavar="URL", default=argparse.SUPPRESS,
                        help="database URL (default: $NORMBANK_DATABASE_URL, else a SQLite file in $NORMBANK_DATA_DIR)")

    parser = Parser(prog="normbank", description="Situational social norms as a service.",
                                     parents=[common])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__import__('normbank').__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, func: Callable[[argparse.Namespace], int], help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help, description=help)
        p.set_defaults(func=func)
        return p

    _write_commands(command)
    _read_commands(command)
    return parser


def _write_commands(command: Callable[..., argparse.ArgumentParser]) -> None:
    """Commands that create or change the bank, or serve it."""
    p = command("init", cmd_init, "create the database or upgrade it to the current schema")
    p.add_argument("--sample", action="store_true", help="also load the sample corpus shipped with normbank")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)

    from ingest.readers import READERS

    p = command("ingest", cmd_ingest, "import a corpus file or directory")
    p.add_argument("format", metavar="FORMAT", help=f"one of: {', '.join(READERS)}")
    p.add_argument("path", metavar="PATH", help="the corpus file or directory")
    p.add_argument("--source", help="source name to record (default: the format's usual name)")
    p.add_argument("--mapping", metavar="MAP.toml", help="table: the mapping file naming the columns")
    p.add_argument("--keep-bad", action="store_true", help="social-chem-101: keep rows marked rot-bad = 1")
    p.add_argument("--dry-run", action="store_true", help="read, check and count everything, then roll back")
    p.add_argument("--json", action="store_true", help="print one JSON object with the counts")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show a progress bar (default: when stderr is a terminal)")

    from normbank.cli_bank import add_export_arguments

    p = command("export", cmd_export, "write the bank (or one source) to a file that `ingest normbank-jsonl` reads back")
    add_export_arguments(p)

    p = command("index", cmd_index, "build the vector indexes (when stale or missing, or with --rebuild)")
    p.add_argument("--rebuild", action="store_true", help="build even when the index is up to date")
    p.add_argument("--json", action="store_true", help="print the new index's manifest")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)

    p = command("serve", cmd_serve, "run the HTTP API")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=port, default=8000)
    p.add_argument("--workers", type=positive_int, default=1)
    p.add_argument("--log-level", default="info")

    p = command("mcp", cmd_mcp, "serve the bank to agents over the Model Context Protocol (stdio by default)")
    p.add_argument("--http", action="store_true", help="streamable HTTP at http://HOST:PORT/mcp instead of stdio")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)


def _read_commands(command: Callable[..., argparse.ArgumentParser]) -> None:
    """Commands that only read the bank."""
    p = command("stats", cmd_stats, "count what the bank holds")
    p.add_argument("--json", action="store_true")

    p = command("sources", cmd_sources, "list imported sources and their last import; `sources remove NAME` "
                "withdraws one")
    p.add_argument("action", nargs="?", choices=("list", "remove"), default="list")
    p.add_argument("name", nargs="?", metavar="NAME", help="the source to remove")
    p.add_argument("--json", action="store_true")

    p = command("formats", cmd_formats, "list the corpus formats `ingest` reads")
    p.add_argument("--json", action="store_true")

    p = command("query", cmd_query, "which norms apply to a context (one behaviour with --behavior)")
    p.add_argument("--setting", required=True, type=non_empty, help="e.g. restaurant")
    p.add_argument("--behavior", type=non_empty, help="judge only this behaviour")
    p.add_argument("--person-role", metavar="ROLE")
    p.add_argument("--person-attr", metavar="NAME=VALUE", action="append", help="repeatable, e.g. 'age bracket=teen'")
    p.add_argument("--person-behavior", metavar="BEHAVIOUR", action="append", help="something PERSON is also doing")
    p.add_argument("--other-role", metavar="ROLE")
    p.add_argument("--other-attr", metavar="NAME=VALUE", action="append")
    p.add_argument("--env", metavar="NAME=VALUE", action="append", help="repeatable, e.g. 'country=japan'")
    p.add_argument("--limit", type=positive_int, default=50, help="behaviours to show without --behavior (1 to 1000)")
    p.add_argument("--json", action="store_true", help="print the same JSON as the HTTP API")

    p = command("frames", cmd_frames, "print a few frames as statements")
    p.add_argument("--limit", type=positive_int, default=10)
    p.add_argument("--source", help="only frames of this source (e.g. social-chem-101), with its provenance")


def main(argv: Sequence[str] | None = None) -> int:
    # Process-wide settings belong here, in the entry point, not in library modules; `serve`'s workers
    # inherit them. Nothing downloads weights at run time (the encoder also loads with local_files_only).
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    # One OpenMP thread per torch computation (learning the query map at index time; the torch embedding
    # backend): on cores shared with other processes, two threads spin at every barrier waiting for a
    # descheduled partner, which made learning the map several times slower. torch reads it when first
    # imported, which is after this.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except NormbankError as exc:
        print(f"normbank: error: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("normbank: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `normbank sources | head`
        sys.stderr.close()
        return 0
    except Exception as exc:  # a database driver's error: one line, no SQL (anything else is a bug: traceback)
        message = database_error(exc)
        if message is None:
            raise
        print(f"normbank: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
