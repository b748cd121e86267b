"""`normbank export`, `normbank ingest normbank-jsonl` and `normbank sources remove` from the command line."""

from __future__ import annotations

import json

from normbank.cli import main, sample_corpus_path
from tests.conftest import FIXTURES

NOISE = FIXTURES / "normbank" / "noise.csv"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _stats(capsys, url) -> dict:
    return json.loads(run(capsys, "stats", "--json", "--database", url)[1])


def test_export_import_and_remove(capsys, database_url, tmp_path):
    run(capsys, "--database", database_url, "init")
    run(capsys, "ingest", "normbank", str(sample_corpus_path()), "--source", "sample", "--database", database_url)
    run(capsys, "ingest", "normbank", str(NOISE), "--source", "noise", "--database", database_url)
    before = _stats(capsys, database_url)

    path = tmp_path / "bank.jsonl"
    code, _out, err = run(capsys, "export", str(path), "--database", database_url)
    assert code == 0 and f"exported {before['norms']} norms" in err
    assert not path.with_name("bank.jsonl.partial").exists()
    code, _out, err = run(capsys, "export", str(tmp_path / "NormBank.csv"), "--format", "normbank", "--source", "noise",
                          "--database", database_url)
    assert code == 0 and (tmp_path / "NormBank.csv").read_text().startswith("setting,behavior,setting-behavior,")

    code, out, err = run(capsys, "sources", "remove", "noise", "--database", database_url)
    assert code == 0 and "removed source 'noise'" in out, err
    after = _stats(capsys, database_url)
    assert after["sources"] == 1 and after["rejected_rows"] == 0 and after["norms"] < before["norms"]
    code, _out, err = run(capsys, "sources", "remove", "noise", "--database", database_url)
    assert code == 1 and err.strip() == "normbank: error: no source named 'noise'"

    copy = f"sqlite:///{tmp_path / 'copy.db'}"
    code, out, err = run(capsys, "ingest", "normbank-jsonl", str(path), "--json", "--database", copy)
    assert code == 0, err
    assert json.loads(out)["source"] == "sample, noise"
    assert _stats(capsys, copy) == before


def test_export_of_an_unknown_source_is_a_one_line_error(capsys, database_url, tmp_path):
    run(capsys, "--database", database_url, "init")
    code, _out, err = run(capsys, "export", str(tmp_path / "x.jsonl"), "--source", "nope", "--database", database_url)
    assert code == 1 and err.strip() == "normbank: error: no source named 'nope'"
    assert list(tmp_path.glob("x.jsonl*")) == []
