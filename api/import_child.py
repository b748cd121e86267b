"""One HTTP import job, run in a child process of the server that took the upload (api/imports.py starts it):
the same pipeline as `normbank ingest` (`ingest.pipeline.run_import`), with its own interpreter lock, so that
loading the bank does not wait on the server's lock while the server answers queries, nor the other way round.

    NORMBANK_DATABASE_URL=... python -m api.import_child --job-id ID --format F --path P [--source S]

It writes one JSON object per line to standard output: `{"read": n}` as batches are loaded, then
`{"report": {...}, "run_id": n}` or `{"error": "..."}`. It ends at once, without committing, when its
standard input closes: the server that started it stopped or was killed, so the job will be reported as
failed after the restart and the database must hold nothing of it.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading

import orjson


def _emit(obj: dict) -> None:
    sys.stdout.buffer.write(orjson.dumps(obj) + b"\n")
    sys.stdout.buffer.flush()


def _end_with_parent() -> None:
    """Exit as soon as standard input closes (the server is gone); never returns otherwise."""
    while sys.stdin.buffer.read(1 << 16):
        pass
    os._exit(1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api.import_child")
    parser.add_argument("--job-id", required=True)
    parser.add_argument("--format", required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--source")
    args = parser.parse_args(argv)
    threading.Thread(target=_end_with_parent, name="normbank-import-parent", daemon=True).start()

    from ingest.pipeline import run_import
    from schema.engine import make_engine

    engine = make_engine(os.environ["NORMBANK_DATABASE_URL"])
    read = 0

    def count(n: int) -> None:
        nonlocal read
        read += n
        _emit({"read": read})

    try:
        report = run_import(engine=engine, format=args.format, path=args.path, source=args.source,
                            on_progress=count, job_id=args.job_id)
    except Exception as exc:  # noqa: BLE001 - the job reports it
        message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        _emit({"error": str(message)[:2000], "read": read})
        return 1
    finally:
        engine.dispose()
    _emit({"report": report.to_json(), "run_id": report.run_id, "read": report.read})
    return 0


if __name__ == "__main__":
    sys.exit(main())
