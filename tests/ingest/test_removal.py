"""Removing a source: only its data goes, the data version moves, and removals and imports that run at
the same time queue on the write lock and both come out right."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from ingest.pipeline import run_import
from ingest.removal import remove_source
from normbank.cli import sample_corpus_path
from normbank.errors import SourceNotFound
from schema.models import Norm, NormExample, Source
from schema.queries import data_version, stats
from tests.conftest import FIXTURES


def _norms_of(engine, name: str) -> set[int]:
    with engine.connect() as conn:
        return set(conn.execute(select(Norm.id).join(Source, Source.id == Norm.source_id)
                                .where(Source.name == name)).scalars())


def test_removal_takes_only_the_source_and_moves_the_data_version(engine):
    run_import(engine=engine, format="normbank", path=sample_corpus_path(), source="a")
    run_import(engine=engine, format="normdial", path=FIXTURES / "normdial", source="dial")
    run_import(engine=engine, format="normbank", path=FIXTURES / "normbank" / "noise.csv", source="noise")
    kept = _norms_of(engine, "a") | _norms_of(engine, "noise")
    with engine.connect() as conn:
        version, before = data_version(conn), stats(conn)
    result = remove_source(engine=engine, name="dial")
    with engine.connect() as conn:
        assert data_version(conn) > version
        after = stats(conn)
        assert conn.execute(select(NormExample.id)).first() is None  # only NormDial brought examples
    assert result["norms"] == before["norms"] - after["norms"] > 0
    assert after["sources"] == before["sources"] - 1
    assert after["rejected_rows"] == before["rejected_rows"] - result["rejected_rows"] >= 10  # noise.csv's stay
    assert _norms_of(engine, "a") | _norms_of(engine, "noise") == kept
    with pytest.raises(SourceNotFound):
        remove_source(engine=engine, name="dial")


def test_removals_and_an_import_at_once_are_serialised(engine):
    for name in ("a", "b"):
        run_import(engine=engine, format="normbank", path=sample_corpus_path(), source=name)
    expected = _norms_of(engine, "a")
    errors = []

    def attempt(work):
        try:
            work()
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    jobs = [lambda: remove_source(engine=engine, name="a"), lambda: remove_source(engine=engine, name="b"),
            lambda: run_import(engine=engine, format="normbank", path=sample_corpus_path(), source="c")]
    threads = [threading.Thread(target=attempt, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert _norms_of(engine, "a") == set() and _norms_of(engine, "b") == set()
    assert len(_norms_of(engine, "c")) == len(expected)
    with engine.connect() as conn:
        assert stats(conn)["sources"] == 1
