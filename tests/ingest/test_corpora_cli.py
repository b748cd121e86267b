"""`normbank ingest` for the corpora without a setting: one command per corpus, JSON reports whose counts
add up, reader options, and one-line errors for a wrong file or a bad mapping."""

from __future__ import annotations

import json

import pytest

from normbank.cli import main
from tests.conftest import FIXTURES, REPO

SOCIAL = FIXTURES / "social-chem-101" / "social-chem-101.fixture.tsv"
STORIES = FIXTURES / "moral-stories" / "moral_stories.fixture.jsonl"
TABLE = FIXTURES / "table"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv, counts", [
    (["social-chem-101", str(SOCIAL)], (13, 5, 1, 7)),
    (["social-chem-101", str(SOCIAL), "--keep-bad"], (13, 6, 1, 6)),
    (["moral-stories", str(STORIES)], (10, 4, 2, 4)),
    (["table", str(TABLE / "norms.tsv"), "--mapping", str(TABLE / "norms.toml")], (8, 3, 1, 4)),
])
def test_one_command_per_corpus(capsys, database_url, argv, counts):
    code, out, _ = run(capsys, "ingest", *argv, "--json", "--database", database_url)
    report = json.loads(out)
    assert code == 0 and (report["read"], report["loaded"], report["duplicates"], report["rejected"]) == counts
    code, out, _ = run(capsys, "ingest", *argv, "--json", "--database", database_url)
    assert json.loads(out)["loaded"] == 0  # re-importing adds nothing


@pytest.mark.parametrize("argv, message", [
    (["social-chem-101", str(FIXTURES / "normbank" / "noise.csv")],
     "is not a Social-Chem-101 TSV: missing column(s) area, split"),
    (["moral-stories", str(SOCIAL)], "is not Moral Stories JSONL"),
    (["table", str(TABLE / "norms.tsv")], "the table format needs a mapping file (--mapping MAP.toml)"),
    (["table", str(TABLE / "norms.tsv"), "--mapping", str(REPO / "examples" / "mappings" / "ethics-commonsense.toml")],
     "missing column(s) input, label"),
    (["normbank", str(SOCIAL), "--keep-bad"], "format 'normbank' takes no option keep_bad"),
])
def test_wrong_input_is_a_one_line_error(capsys, tmp_path, argv, message):
    code, out, err = run(capsys, "ingest", *argv, "--database", f"sqlite:///{tmp_path / 'x.db'}")
    assert code != 0 and message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_formats_lists_every_reader_with_its_licence(capsys):
    code, out, _ = run(capsys, "formats", "--json")
    formats = {f["format"]: f["licence"] for f in json.loads(out)}
    assert formats["social-chem-101"] == "CC BY-SA 4.0" and formats["moral-stories"] == "MIT"
    assert "table" in formats


def test_frames_of_a_setting_less_source_cite_it(capsys, tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    assert run(capsys, "ingest", "moral-stories", str(STORIES), "--database", url)[0] == 0
    code, out, _ = run(capsys, "frames", "--source", "moral-stories", "--limit", "2", "--database", url)
    lines = out.strip().splitlines()
    assert code == 0 and len(lines) == 2
    assert all("(You should return things you borrow.)" in line for line in lines)
    assert all(line.endswith("-- moral-stories, MIT, https://github.com/demelin/moral_stories") for line in lines)
