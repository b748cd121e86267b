"""The moral-stories reader: a hand-written JSONL fixture with malformed lines, and the real 1,000 stories."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from ingest.pipeline import run_import
from normbank.errors import MalformedCorpus, MissingColumns
from schema.catalog import get_norm
from schema.models import Behavior, ImportRun, Norm, NormExample, RejectedRow, Source
from tests.conftest import FIXTURES, shared

FIXTURE = FIXTURES / "moral-stories" / "moral_stories.fixture.jsonl"
REJECTED = {3: "bad JSON: Expecting ',' delimiter", 4: "missing field(s) immoral_action", 5: "empty norm",
            6: "not a JSON object"}


def _import(engine, path=FIXTURE, **kw):
    return run_import(engine=engine, format="moral-stories", path=path, **kw)


def test_each_story_is_one_norm_in_two_frames(engine):
    report = _import(engine)
    # Frames are counted: 3 good stories (one repeated) give 6 frames, 4 lines are rejected.
    assert (report.read, report.loaded, report.duplicates, report.rejected) == (10, 4, 2, 4)
    with engine.connect() as conn:
        norms = conn.execute(select(Behavior.name, Norm.label, Norm.rule_text, Norm.support, Norm.setting_id, Norm.id)
                             .join(Behavior, Behavior.id == Norm.behavior_id).order_by(Norm.row_number, Norm.label)).all()
        assert [(n.name, n.label, n.rule_text, n.support) for n in norms] == [
            ("sam returns the drill the same evening", "expected", "You should return things you borrow.", 2),
            ("sam keeps the drill for months", "taboo", "You should return things you borrow.", 2),
            ("ana tells her mother she broke the vase", "expected", "It's wrong to lie to your parents.", 1),
            ("ana says the cat broke the vase", "taboo", "It's wrong to lie to your parents.", 1),
        ]
        assert all(n.setting_id is None for n in norms)
        rejected = {r.row_number: r for r in conn.execute(select(RejectedRow)).all()}
        assert set(rejected) == set(REJECTED)
        for number, fragment in REJECTED.items():
            assert fragment in rejected[number].reason
        assert json.loads(rejected[5].raw)["ID"] == "FX5"  # the line as it was
        detail = get_norm(conn, norms[3].id)
        source = conn.execute(select(Source)).one()
    assert detail["attributes"] == {"ID": "FX8"}
    assert detail["examples"] == [{"polarity": "violates", "situation": "Ana broke a vase.", "dialogue": None, "row": 8,
                                   "extra": {"intention": "Ana wants to avoid trouble.",
                                             "action": "Ana says the cat broke the vase.",
                                             "consequence": "The cat is punished."}}]
    assert (source.name, source.licence, source.url) == ("moral-stories", "MIT", "https://github.com/demelin/moral_stories")


def test_reimport_adds_nothing(engine):
    first = _import(engine)
    second = _import(engine)
    assert (second.read, second.loaded) == (first.read, 0)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Norm)).scalar() == 4
        assert conn.execute(select(func.count()).select_from(NormExample)).scalar() == 6


@pytest.mark.parametrize("content, error, fragment", [
    (b"label,input,is_short,edited\n0,I told my baby I loved her.,True,False\n", MissingColumns,
     "expected one JSON object a line with ID, norm, situation"),
    (b"\x00\x01\x02\xff\xfe binary", MalformedCorpus, "not a UTF-8 text file"),
])
def test_wrong_format_fails_before_writing(engine, tmp_path, content, error, fragment):
    path = tmp_path / "wrong.jsonl"
    path.write_bytes(content)
    with pytest.raises(error) as caught:
        _import(engine, path=path)
    assert fragment in caught.value.message and "\n" not in caught.value.message
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ImportRun)).scalar() == 0


def test_real_dev_stories(engine):
    report = _import(engine, path=shared("moral-stories") / "moral_stories_dev.jsonl")
    assert report.read == 2000 and report.rejected == 0
    assert report.read == report.loaded + report.duplicates + report.rejected
    with engine.connect() as conn:
        labels = dict(conn.execute(select(Norm.label, func.count()).group_by(Norm.label)).all())
        examples = conn.execute(select(func.count()).select_from(NormExample)).scalar()
        first = conn.execute(select(Behavior.name, Norm.label).join(Behavior, Behavior.id == Norm.behavior_id)
                             .where(Norm.rule_text == "You should help others when they're in danger.",
                                    Norm.row_number == 1).order_by(Norm.label)).all()
    assert set(labels) == {"expected", "taboo"} and examples == 2000
    assert [tuple(r) for r in first] == [
        ("brian drags his hose next door and starts putting out the fire at his neighbor's house", "expected"),
        ("brian carefully protects his property by spraying any flames on his property with his hose", "taboo")]
