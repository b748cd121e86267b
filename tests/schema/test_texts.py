"""What the vector index embeds: every norm and example, and only the behaviours linking can offer."""

from __future__ import annotations

from sqlalchemy import select

import normbank.cli
from ingest.pipeline import run_import
from schema.models import Behavior, Norm, Source
from schema.texts import collections
from tests.conftest import FIXTURES


def test_setting_less_behaviours_are_not_embedded_but_their_norms_and_examples_are(engine):
    run_import(engine=engine, format="normbank", path=normbank.cli.sample_corpus_path(), source="normbank-sample")
    run_import(engine=engine, format="social-chem-101", path=FIXTURES / "social-chem-101" / "social-chem-101.fixture.tsv")
    with engine.connect() as conn:
        texts = collections(conn)
        by_source = {}
        for norm_id, source, setting_id, behavior in conn.execute(
                select(Norm.id, Source.name, Norm.setting_id, Behavior.name)
                .join(Source, Source.id == Norm.source_id).join(Behavior, Behavior.id == Norm.behavior_id)):
            by_source.setdefault(source, []).append((norm_id, setting_id, behavior))
    behaviours = {name for _, name in texts["behaviors"]}
    social, sample = by_source["social-chem-101"], by_source["normbank-sample"]
    assert all(setting is None for _, setting, _ in social)
    assert not behaviours & {behavior for _, _, behavior in social}  # no setting: never a linking candidate
    assert {behavior for _, _, behavior in sample} <= behaviours  # a setting's behaviours are all there
    norm_ids = {norm_id for norm_id, _ in texts["norms"]}
    assert {norm_id for norm_id, _, _ in social + sample} <= norm_ids
    diary = next(norm_id for norm_id, _, behavior in social if behavior == "reading your roommate's diary")
    assert (diary, "It's wrong to read someone's diary.") in texts["norms"]
    assert (diary, "reading my roommate's \"private\" diary") in texts["examples"]
