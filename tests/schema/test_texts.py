"""What the vector index embeds: every norm and example, and only the behaviours linking can offer."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

import normbank.cli
from ingest.pipeline import run_import
from schema.models import Behavior, Norm, Source
from schema.texts import collections, repeats
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


def test_an_example_that_repeats_its_norm_is_not_embedded(engine, tmp_path):
    """ETHICS's mapping makes each scenario both the behaviour and the example: a short one is its
    behaviour word for word, a forum post begins with its behaviour (its title). Neither is a situation
    phrased apart from the norm, so neither is embedded as an example; the norms themselves are."""
    post = ("AITA for telling my sister’s “friend” to leave? | " + "She came over uninvited and stayed for hours. " * 8).strip()
    table = tmp_path / "cm.csv"
    table.write_text('label,input,is_short,edited\n1,I tossed an old lady across the road.,True,False\n'
                     f'0,"{post}",False,False\n', encoding="utf-8")
    run_import(engine=engine, format="table", path=table,
               options={"mapping": str(Path(__file__).resolve().parents[2] / "examples/mappings/ethics-commonsense.toml")})
    run_import(engine=engine, format="social-chem-101", path=FIXTURES / "social-chem-101" / "social-chem-101.fixture.tsv")
    with engine.connect() as conn:
        texts = collections(conn)
        ethics = [norm_id for norm_id, in conn.execute(
            select(Norm.id).join(Source, Source.id == Norm.source_id).where(Source.name == "ethics-commonsense"))]
    assert len(ethics) == 2 and set(ethics) <= {norm_id for norm_id, _ in texts["norms"]}
    assert not {norm_id for norm_id, _ in texts["examples"]} & set(ethics)
    assert "reading my roommate's \"private\" diary" in {text for _, text in texts["examples"]}  # a situation stays


def test_repeats_compares_words_not_spelling():
    assert repeats("I tossed an old lady across the road.", "i tossed an old lady across the road.")
    assert repeats("AITA for “stealing” a lady’s stuff | So I was at the bus stop", 'aita for "stealing" a lady\'s stuff')
    assert repeats("AITA if I stop paying my daughter’s tuition over a comment towards my new girlfriend", "aita if i stop paying my daughter's tuition over a comment towards my new girlfr")
    assert not repeats("reading my roommate's diary while she was out", "It's wrong to read someone's diary.", None)
    assert not repeats("a dinner at a friend's house", None, "")
