"""Full-text search per corpus: a large corpus's documents cannot fill the list."""

from __future__ import annotations

from sqlalchemy import select

import normbank.cli
from ingest.pipeline import run_import
from schema import lexical
from schema.models import Norm, Source
from tests.conftest import FIXTURES


def test_per_source_search_gives_every_corpus_its_own_best_hits(engine):
    run_import(engine=engine, format="normbank", path=normbank.cli.sample_corpus_path(), source="normbank-sample")
    run_import(engine=engine, format="social-chem-101", path=FIXTURES / "social-chem-101" / "social-chem-101.fixture.tsv")
    with engine.connect() as conn:
        rule_of = dict(conn.execute(select(Norm.id, Norm.rule_text)).all())
        source_of = dict(conn.execute(select(Norm.id, Source.name).join(Source, Source.id == Norm.source_id)).all())
        names = {name: sid for sid, name in conn.execute(select(Source.id, Source.name))}
        text = "reading a diary at a restaurant"
        plain = lexical.search(conn, text, limit=3, kind="norm")
        grouped = lexical.search(conn, text, limit=3, kind="norm", per_source=True)
    assert len(plain) == 3  # one list over every corpus
    found = {}
    for norm_id, kind, score, source_id in grouped:
        assert kind == "norm" and names[source_of[norm_id]] == source_id
        found.setdefault(source_of[norm_id], []).append(score)
    assert set(found) == {"normbank-sample", "social-chem-101"}  # both corpora answer
    assert all(len(scores) <= 3 and scores == sorted(scores, reverse=True) for scores in found.values())
    best_social = next(n for n, *_ in grouped if source_of[n] == "social-chem-101")
    assert "diary" in rule_of[best_social]
