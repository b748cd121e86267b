"""Export and import back: an empty bank that imports a bank's export holds the same norms (same ids), the
same counts and gives the same answers to /v1/query for every setting (SQLite and PostgreSQL)."""

from __future__ import annotations

import json

import orjson
import pytest
from sqlalchemy import select

import normbank.cli
from api import service
from api.models import QueryRequest
from ingest.export import NORM_FIELDS, export_jsonl
from ingest.pipeline import run_import
from schema.engine import make_engine
from schema.frames import FrameCache
from schema.migrate import upgrade
from schema.models import Norm, NormExample, NormRow, RejectedRow, Setting, Source
from schema.queries import stats
from tests.conftest import FIXTURES, _drop_schema, _postgres_schema_url, shared


def _second_database(database_url: str, tmp_path):
    """An empty database of the same kind as `database_url`: (url, cleanup)."""
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'copy.db'}", lambda: None
    url, schema = _postgres_schema_url()
    return url, lambda: _drop_schema(schema)


def _answers(engine) -> dict:
    """Every setting's /v1/query answer for a context with nothing known, all pages."""
    cache = FrameCache(engine)
    out = {}
    for name in sorted(cache.setting_ids()):
        pages, cursor = [], None
        while True:
            response = service.query(cache, QueryRequest(setting=name, limit=1000, cursor=cursor))
            pages.append(response)
            cursor = response["next_cursor"]
            if cursor is None:
                break
        out[name] = pages
    return out


def _content(engine) -> dict:
    with engine.connect() as conn:
        return {
            "stats": stats(conn),
            "norms": sorted(tuple(r) for r in conn.execute(select(Norm.id, Norm.support, Norm.statement, Norm.row_number))),
            "rows": sorted(tuple(r) for r in conn.execute(select(NormRow.norm_id, NormRow.row_number))),
            "examples": sorted(tuple(r) for r in conn.execute(select(NormExample.id, NormExample.situation))),
            "rejected": sorted(tuple(r) for r in conn.execute(select(RejectedRow.row_number, RejectedRow.reason))),
        }


def _export_to(engine, path) -> None:
    with engine.connect() as conn, path.open("wb") as out:
        for chunk in export_jsonl(conn):
            out.write(chunk)


@pytest.mark.slow
def test_export_then_import_gives_the_same_bank(engine, database_url, tmp_path, taxonomy_dir, normdial_dir):
    run_import(engine=engine, format="normbank-taxonomy", path=taxonomy_dir)
    run_import(engine=engine, format="normbank", path=normbank.cli.sample_corpus_path(), source="normbank-sample")
    run_import(engine=engine, format="normdial", path=normdial_dir)
    run_import(engine=engine, format="normbank", path=FIXTURES / "normbank" / "noise.csv", source="noise")
    path = tmp_path / "bank.jsonl"
    _export_to(engine, path)

    url, cleanup = _second_database(database_url, tmp_path)
    copy = make_engine(url)
    try:
        upgrade(copy)
        report = run_import(engine=copy, format="normbank-jsonl", path=path)
        assert report.source == "normbank-taxonomy, normbank-sample, normdial, noise"
        before, after = _content(engine), _content(copy)
        assert before["stats"]["norms"] > 500 and before["rejected"] and before["examples"]
        for key in before:
            assert after[key] == before[key], key
        assert _answers(copy) == _answers(engine)
        # And the copy's own export is the same file (but for the header's time and data version).
        second = tmp_path / "again.jsonl"
        _export_to(copy, second)
        assert path.read_bytes().splitlines()[1:] == second.read_bytes().splitlines()[1:]
    finally:
        copy.dispose()
        cleanup()


def test_export_lines_carry_every_norm_column(engine, tmp_path):
    run_import(engine=engine, format="normbank", path=normbank.cli.sample_corpus_path(), source="normbank-sample")
    with engine.connect() as conn:
        lines = [orjson.loads(line) for line in b"".join(export_jsonl(conn)).splitlines()]
        settings = conn.execute(select(Setting.name)).scalars().all()
    assert lines[0]["format"] == "normbank-jsonl"
    assert lines[1] == {"type": "source", "name": "normbank-sample", "kind": "normbank", "version": None,
                        "licence": "CC BY-SA 4.0", "url": "https://github.com/SALT-NLP/normbank",
                        "sha256": lines[1]["sha256"]}
    norms = [x for x in lines if x["type"] == "norm"]
    assert {*NORM_FIELDS, "agreement", "support", "annotator"} <= set(norms[0])
    assert {n["setting"] for n in norms} <= set(settings)
    supported = next(n for n in norms if n["support"] > 1)
    assert len(supported["rows"]) == supported["support"]


def test_one_source_is_exported_and_imported_alone(engine, database_url, tmp_path):
    run_import(engine=engine, format="normbank", path=normbank.cli.sample_corpus_path(), source="a")
    run_import(engine=engine, format="normbank", path=normbank.cli.sample_corpus_path(), source="b")
    path = tmp_path / "a.jsonl"
    with engine.connect() as conn:
        path.write_bytes(b"".join(export_jsonl(conn, "a")))
    text = path.read_text()
    assert '"name":"a"' in text and '"name":"b"' not in text
    url, cleanup = _second_database(database_url, tmp_path)
    copy = make_engine(url)
    try:
        upgrade(copy)
        report = run_import(engine=copy, format="normbank-jsonl", path=path)
        with engine.connect() as conn:
            ids = set(conn.execute(select(Norm.id).join(Source, Source.id == Norm.source_id)
                                   .where(Source.name == "a")).scalars())
        with copy.connect() as conn:
            assert set(conn.execute(select(Norm.id)).scalars()) == ids
        assert report.source == "a" and report.loaded == len(ids)
    finally:
        copy.dispose()
        cleanup()


def test_a_file_that_is_not_an_export_is_refused(engine, tmp_path):
    from normbank.errors import MalformedCorpus

    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps({"type": "norm"}) + "\n")
    with pytest.raises(MalformedCorpus, match="not a normbank export"):
        run_import(engine=engine, format="normbank-jsonl", path=path)
