"""The `table` reader: any CSV, TSV or JSONL through a TOML mapping, on hand-written fixtures and on the
real ETHICS commonsense-morality file with the shipped mapping (examples/mappings/ethics-commonsense.toml)."""

from __future__ import annotations

import csv
from collections import Counter

import pytest
from sqlalchemy import func, select

from ingest.pipeline import run_import
from normbank.errors import InvalidInput, InvalidMapping, MissingColumns
from schema.catalog import get_norm, list_norms
from schema.models import Behavior, ImportRun, Norm, RejectedRow, Setting, Source
from tests.conftest import FIXTURES, REPO, shared

TABLE = FIXTURES / "table"
ETHICS_MAPPING = REPO / "examples" / "mappings" / "ethics-commonsense.toml"
REJECTED = {3: "agreement '1.5' is not a share in 0..1", 5: "kinda", 6: "row has 2 fields, the header has 10",
            8: "empty behavior (column 'act')"}


def _import(engine, path=TABLE / "norms.tsv", mapping=TABLE / "norms.toml", **kw):
    return run_import(engine=engine, format="table", path=path, options={"mapping": str(mapping)}, **kw)


def test_every_mapping_key_on_a_tsv(engine):
    report = _import(engine)
    assert (report.read, report.loaded, report.duplicates, report.rejected) == (8, 3, 1, 4)
    assert report.source == "house-rules"
    with engine.connect() as conn:
        rows = conn.execute(select(Behavior.name, Setting.name.label("setting"), Norm.label, Norm.constraints,
                                   Norm.agreement, Norm.rule_text, Norm.category, Norm.support, Norm.id)
                            .join(Behavior, Behavior.id == Norm.behavior_id)
                            .outerjoin(Setting, Setting.id == Norm.setting_id).order_by(Norm.row_number)).all()
        assert [tuple(r)[:-1] for r in rows] == [
            ("leave a tip", "restaurant", "expected", "[PERSON]'s role is 'customer' [AND] country is 'the united states'",
             0.9, "Tipping is customary.", "etiquette", 2),
            ("leave a tip", "restaurant", "taboo", "country is 'japan'", 0.8, "Tipping can be rude in Japan.",
             "etiquette", 1),
            ("greet the host", "party", "normal", "", None, None, "etiquette", 1),
        ]
        rejected = {r.row_number: r.reason for r in conn.execute(select(RejectedRow)).all()}
        assert set(rejected) == set(REJECTED)
        assert all(fragment in rejected[n] for n, fragment in REJECTED.items()), rejected
        source = conn.execute(select(Source)).one()
        detail = get_norm(conn, rows[0].id)
    assert (source.name, source.kind, source.licence, source.url) == (
        "house-rules", "table", "CC0 1.0", "https://example.org/house-rules")
    assert detail["attributes"] == {"id": "1"} and detail["agreement"] == {"share": 0.9, "band": None}
    assert detail["source"] == {"name": "house-rules", "licence": "CC0 1.0", "url": "https://example.org/house-rules",
                                "row": 1}
    assert [e["situation"] for e in detail["examples"]] == ["Tipping is customary.", "Tipping is customary."]


def test_jsonl_with_a_dimension_column(engine):
    report = _import(engine, path=TABLE / "norms.jsonl", mapping=TABLE / "norms.jsonl.toml")
    assert (report.read, report.loaded, report.rejected) == (3, 2, 1)
    with engine.connect() as conn:
        assert dict(conn.execute(select(Norm.constraints, Norm.label)).all()) == {
            "country is 'japan'": "expected", "country is 'the united states'": "normal"}
        assert "bad JSON" in conn.execute(select(RejectedRow.reason)).scalar_one()


def _mapping(tmp_path, text: str):
    path = tmp_path / "map.toml"
    path.write_text(text)
    return path


GOOD = (TABLE / "norms.toml").read_text()


@pytest.mark.parametrize("text, error, fragment", [
    (GOOD.replace('behavior = "act"', 'behaviour = "act"'), InvalidMapping, "unknown key columns.behaviour"),
    (GOOD.replace('label = "verdict"', ''), InvalidMapping, "missing required key columns.label"),
    (GOOD.replace('category = "kind"', 'category = "genre"'), MissingColumns, "missing column(s) genre"),
    (GOOD.replace('fine = "normal"', ''), InvalidMapping, "no mapping for label value(s) 'fine' (first on row 4)"),
    (GOOD.replace('fine = "normal"', 'fine = "okay"'), InvalidMapping, "labels.fine = 'okay'"),
    (GOOD.replace('country = "region"', '"martian.age" = "region"'), InvalidMapping, "dimensions.martian.age"),
    ("[columns\n", InvalidMapping, "not a TOML mapping file"),
])
def test_a_bad_mapping_fails_before_any_row_is_written(engine, tmp_path, text, error, fragment):
    with pytest.raises(error) as caught:
        _import(engine, mapping=_mapping(tmp_path, text))
    assert fragment in caught.value.message, caught.value.message
    assert "\n" not in caught.value.message
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ImportRun)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(Norm)).scalar() == 0


def test_table_needs_a_mapping(engine):
    with pytest.raises(InvalidInput, match="needs a mapping file"):
        run_import(engine=engine, format="table", path=TABLE / "norms.tsv")


def test_ethics_commonsense_with_the_shipped_mapping(engine):
    path = shared("ethics-commonsense") / "cm_test.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        wanted = Counter({"1": "taboo", "0": "normal"}[row["label"]] for row in csv.DictReader(handle))
    report = run_import(engine=engine, format="table", path=path, options={"mapping": str(ETHICS_MAPPING)})
    assert report.source == "ethics-commonsense" and report.read == 3885 and report.rejected == 0
    assert report.read == report.loaded + report.duplicates + report.rejected
    again = run_import(engine=engine, format="table", path=path, options={"mapping": str(ETHICS_MAPPING)})
    assert again.loaded == 0
    with engine.connect() as conn:
        supports = Counter()
        for label, support in conn.execute(select(Norm.label, Norm.support)).all():
            supports[label] += support
        assert supports == wanted
        page, total, _ = list_norms(conn, source="ethics-commonsense", limit=1)
        # A long scenario (a forum post) is named by its first sentence; the example keeps the whole post.
        post = conn.execute(select(Norm.id).join(Behavior, Behavior.id == Norm.behavior_id).where(
            Behavior.name == "aita for telling my friends why my sister gets extra time on tests?")).scalar_one()
        example = get_norm(conn, post)["examples"][0]["situation"]
    assert example.startswith("AITA for telling my friends why my sister gets extra time on tests? | My twin sister")
    assert len(example) > 1000
    assert total == report.loaded and page[0]["setting"] is None
    assert page[0]["source"]["licence"] == "MIT" and page[0]["source"]["url"] == "https://github.com/hendrycks/ethics"
    assert set(page[0]["attributes"]) == {"is_short", "edited"}


def test_short_behavior_cuts_long_text_at_a_sentence_or_a_word():
    from ingest.readers.table import short_behavior

    assert short_behavior("leave a tip") == "leave a tip"
    assert short_behavior("AITA for X? | " + "body " * 100) == "AITA for X?"
    cut = short_behavior("word " * 100, limit=50)
    assert cut.endswith("…") and len(cut) <= 50 and cut.startswith("word word")
