"""The `normbank` command: JSON shapes, one-line errors with a non-zero exit, --database everywhere."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from normbank.cli import main
from tests.conftest import FIXTURES, REPO

NOISE = FIXTURES / "normbank" / "noise.csv"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_init_ingest_stats_sources_json(capsys, database_url):
    code, out, _ = run(capsys, "--database", database_url, "init")
    assert code == 0 and "database ready" in out
    code, out, _ = run(capsys, "ingest", "normbank", str(NOISE), "--json", "--database", database_url)
    assert code == 0
    report = json.loads(out)
    assert set(report) == {"source", "format", "read", "loaded", "duplicates", "rejected", "seconds"}
    assert (report["source"], report["format"], report["read"]) == ("normbank", "normbank", 31)
    assert report["rejected"] == 10 and report["loaded"] + report["duplicates"] == 21
    assert isinstance(report["seconds"], float)
    code, out, _ = run(capsys, "stats", "--json", "--database", database_url)
    stats = json.loads(out)
    assert set(stats) == {"settings", "roles", "behaviors", "norms", "constraint_atoms", "sources", "rejected_rows"}
    assert stats["norms"] == report["loaded"] and stats["rejected_rows"] == 10 and stats["sources"] == 1
    code, out, _ = run(capsys, "sources", "--database", database_url)
    assert code == 0 and "normbank" in out and "committed" in out


def test_init_with_sample_loads_the_packaged_corpus(capsys, tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    code, out, _ = run(capsys, "init", "--sample", "--database", url)
    assert code == 0 and "sample corpus: read" in out
    code, out, _ = run(capsys, "stats", "--json", "--database", url)
    assert json.loads(out)["norms"] >= 150


def test_env_var_selects_the_database(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("NORMBANK_DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    assert run(capsys, "init")[0] == 0
    assert (tmp_path / "env.db").exists()


def test_dry_run_writes_nothing(capsys, tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    run(capsys, "init", "--database", url)
    code, out, _ = run(capsys, "ingest", "normbank", str(NOISE), "--dry-run", "--database", url)
    assert code == 0 and "would load" in out and "dry run" in out
    _, out, _ = run(capsys, "stats", "--json", "--database", url)
    assert json.loads(out)["norms"] == 0


@pytest.mark.parametrize(
    "argv, message",
    [
        (["ingest", "nope", "x.csv"], "unknown format 'nope'; known formats: normbank, normbank-taxonomy"),
        (["ingest", "normbank", "/does/not/exist.csv"], "no such file: /does/not/exist.csv"),
        (["stats", "--database", "postgresql://bob:hunter2@127.0.0.1:1/nodb"],
         "cannot reach the database at postgresql+psycopg://bob:***@127.0.0.1:1/nodb"),
    ],
)
def test_errors_are_one_line_with_non_zero_exit(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code != 0
    assert message in err
    assert "hunter2" not in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_missing_columns_are_named(capsys, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("setting,behavior\nrestaurant,eat\n", encoding="utf-8")
    code, _, err = run(capsys, "ingest", "normbank", str(bad), "--database", f"sqlite:///{tmp_path / 'x.db'}")
    assert code == 1 and "missing column(s) constraints, norm" in err


def test_uninitialised_database_says_what_to_do(capsys, tmp_path):
    code, _, err = run(capsys, "stats", "--database", f"sqlite:///{tmp_path / 'empty.db'}")
    assert code == 1 and "run `normbank init` first" in err


def test_console_script_is_installed():
    bindir = __import__("pathlib").Path(sys.executable).parent
    result = subprocess.run([str(bindir / "normbank"), "--help"], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0 and "ingest" in result.stdout and "--database" in result.stdout


def test_index_builds_once_and_reports_up_to_date(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("NORMBANK_EMBEDDING_MODEL", "hashing")
    monkeypatch.setenv("NORMBANK_DATA_DIR", str(tmp_path))
    url = f"sqlite:///{tmp_path / 'x.db'}"
    run(capsys, "init", "--sample", "--database", url)
    code, out, _ = run(capsys, "index", "--json", "--database", url)
    manifest = json.loads(out)
    assert code == 0 and manifest["model"] == "hashing-384" and manifest["collections"]["norms"] == 281
    prototypes = [n for name, n in manifest["collections"].items() if name.startswith("norm_prototypes")]
    assert prototypes == [281] and manifest["stamp"]["data_version"] == 1  # one corpus: one collection
    assert manifest["texts"] == manifest["embedded"] > 281  # a first build embeds every text
    assert (tmp_path / "indexes" / "CURRENT").read_text().strip() == manifest["build"]
    code, out, _ = run(capsys, "index", "--database", url)
    assert code == 0 and "up to date" in out
    code, out, _ = run(capsys, "index", "--rebuild", "--json", "--database", url)
    assert json.loads(out)["build"] != manifest["build"]
