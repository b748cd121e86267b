"""Reading and normalising a corpus, in this process or, for large files, in a worker process.

A worker process reads and normalises while the importing process loads the database, so the two
overlap on two cores (a thread would not: normalising holds the interpreter's lock nearly all the time).
It is spawned, not forked: it shares no database connection, lock or thread with the importing process,
which may be a server. Spawning imports the caller's `__main__` module in the worker, so a script that
imports large files must keep its top-level code under `if __name__ == "__main__":`, as with any
multiprocessing (or set NORMBANK_INGEST_WORKER=0).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from itertools import islice
from pathlib import Path
from types import MappingProxyType
from typing import Iterator

from ingest.normalise import Batch, Normaliser
from ingest.readers import Reader, get_reader
from normbank.scales import Scales

WORKER_MIN_RECORDS = 20_000  # files with fewer records are normalised in the importing process
READ_AHEAD_BATCHES = 4  # batches the worker may run ahead of the loader: bounds the memory they take
_batches: Iterator[Batch] | None = None  # in the worker process: what `_next_batch` hands out


def normalised(reader: Reader, path: Path, normaliser: Normaliser, batch_size: int,
               options: dict | None = None) -> Iterator[Batch]:
    """The normalised batches of the corpus at `path`, `batch_size` records each (`options`: the reader's)."""
    records = reader.read(path, **(options or {}))
    while batch := list(islice(records, batch_size)):
        yield normaliser.batch(batch)


def use_worker(reader: Reader, path: Path) -> bool:
    """Whether to normalise in a worker process: NORMBANK_INGEST_WORKER=0 or 1 overrides the choice made
    from the file's size and the cores."""
    setting = os.environ.get("NORMBANK_INGEST_WORKER", "auto").lower()
    if setting in {"0", "1"}:
        return setting == "1"
    return (os.cpu_count() or 1) >= 2 and (reader.estimate(path) or 0) >= WORKER_MIN_RECORDS


def normalised_in_worker(reader: Reader, path: Path, batch_size: int, run: tuple[str, int, int],
                         scales: Scales, options: dict | None = None) -> Iterator[Batch]:
    """`normalised`, computed in a worker process up to READ_AHEAD_BATCHES ahead of the caller, for the
    run `(source, source_id, run_id)`."""
    worker = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=_start,
                                 initargs=(reader.format, path, batch_size, run, dict(scales.ranks),
                                           dict(scales.aliases), dict(options or {})))
    try:
        ahead = deque(worker.submit(_next_batch) for _ in range(READ_AHEAD_BATCHES))
        while (batch := ahead.popleft().result()) is not None:
            ahead.append(worker.submit(_next_batch))
            yield batch
    finally:
        worker.shutdown(cancel_futures=True)


def _start(format: str, path: Path, batch_size: int, run: tuple[str, int, int], ranks: dict, aliases: dict,
           options: dict) -> None:
    """In the worker process: set up its batches, and end it when the importing process ends."""
    global _batches
    reader = get_reader(format)
    source, source_id, run_id = run
    scales = Scales(MappingProxyType(ranks), MappingProxyType(aliases))
    _batches = normalised(reader, path, Normaliser(source=source, source_id=source_id, run_id=run_id,
                                                   scales=scales, reject_frame=reader.reject_frame), batch_size,
                          options)
    parent = multiprocessing.parent_process()
    if parent is not None:  # a killed importer must not leave its worker behind
        threading.Thread(target=lambda: (parent.join(), os._exit(1)), daemon=True).start()


def _next_batch() -> Batch | None:
    return next(_batches, None)
