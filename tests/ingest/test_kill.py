"""A killed import (a real process, SIGKILL) leaves no partial rows; running it again completes it."""

from __future__ import annotations

import csv
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import func, select

from ingest.pipeline import _IMPORT_LOCK
from schema.models import ImportRun, Norm, NormConstraint, NormRow, Source
from tests.conftest import REPO

ROWS = 60_000
HEADER = ["setting", "behavior", "setting-behavior", "constraints", "constraints_given", "constraint_predict",
          "norm", "label", "split"]


def _write_corpus(path) -> None:
    labels = [("expected", "2"), ("normal", "1"), ("taboo", "0")]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HEADER)
        for i in range(ROWS):
            behavior = f"behaviour {i % 9000}"
            constraints = f"[PERSON]'s role is 'role {i % 97}' [AND] time of day is 'hour {i % 13}'"
            norm, label = labels[i % 3]
            writer.writerow([f"setting {i % 50}", behavior, "", constraints, "", "", norm, label, "train"])


def _lock_held(url: str) -> bool:
    """Whether an import transaction is open: it is what we must catch in the middle."""
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        probe = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            probe.close()
    conninfo = url.replace("+psycopg", "")
    with psycopg.connect(conninfo) as conn:
        return bool(conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s AND granted", (_IMPORT_LOCK,)
        ).fetchone()[0])


def _children(pid: int) -> set[int]:
    """The live processes whose parent is `pid` (Linux /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _ingest_cmd(url: str, path) -> list[str]:
    return [sys.executable, "-m", "normbank.cli", "--database", url, "ingest", "normbank", str(path), "--json",
            "--no-progress"]


@pytest.mark.slow
@pytest.mark.parametrize("worker", ["1", "0"], ids=["worker-process", "one-process"])
def test_sigkill_midway_leaves_no_partial_import_and_rerun_completes(engine, database_url, tmp_path, worker):
    corpus = tmp_path / "big.csv"
    _write_corpus(corpus)
    env = {**os.environ, "PYTHONPATH": str(REPO), "NORMBANK_INGEST_WORKER": worker}
    proc = subprocess.Popen(_ingest_cmd(database_url, corpus), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not _lock_held(database_url):
        assert proc.poll() is None, f"import ended before we could kill it: {proc.communicate()}"
        assert time.monotonic() < deadline, "the import never opened its transaction"
        time.sleep(0.02)
    time.sleep(0.5)  # let it write a few batches inside the transaction
    children = _children(proc.pid)
    while worker == "1" and not children:  # the worker process is started once the transaction is open
        assert time.monotonic() < deadline, "the import never started its worker process"
        time.sleep(0.02)
        children = _children(proc.pid)
    assert proc.poll() is None, "import finished too fast to be killed midway; raise ROWS"
    assert worker == "1" or not children
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    # Nothing of the killed import may linger: neither its transaction nor its worker process.
    deadline = time.monotonic() + 10
    while _lock_held(database_url) or any(map(_alive, children)):
        assert time.monotonic() < deadline, "the killed import's transaction or worker is still there"
        time.sleep(0.05)

    with engine.connect() as conn:
        for model in (Norm, NormRow, NormConstraint, ImportRun, Source):
            assert conn.execute(select(func.count()).select_from(model)).scalar() == 0, model.__tablename__

    done = subprocess.run(_ingest_cmd(database_url, corpus), env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    import json

    report = json.loads(done.stdout)
    assert report["read"] == ROWS and report["rejected"] == 0
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(NormRow)).scalar() == ROWS
        assert conn.execute(select(func.count()).select_from(Norm)).scalar() == report["loaded"]
        assert conn.execute(select(ImportRun.status)).scalars().all() == ["committed"]
