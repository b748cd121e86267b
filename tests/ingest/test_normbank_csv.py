"""The NormBank.csv reader and the pipeline, on hand-written fixtures in the exact format, on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from ingest.pipeline import run_import
from normbank.cli import sample_corpus_path
from normbank.errors import MissingColumns
from schema.models import ConstraintAtom, ImportRun, Norm, NormConstraint, NormRow, RejectedRow, Source
from schema.queries import data_version, stats
from tests.conftest import FIXTURES

NOISE = FIXTURES / "normbank" / "noise.csv"

# Row number -> canonical constraints of the norm that row loads into.
LOADED = {
    1: "[PERSON]'s role is 'customer'",
    2: "[PERSON]'s age bracket is less than 'young adult' [AND] [PERSON]'s role is 'customer'",
    3: "[PERSON]'s role is 'server'",
    **{n: "[PERSON]'s age bracket is less than 'teen'" for n in (4, 5, 6, 7, 8)},
    **{n: "[PERSON]'s age bracket is less than or equal to 'teen'" for n in (9, 10)},
    **{n: "[PERSON]'s age bracket is greater than or equal to 'young adult'" for n in (11, 12, 13)},
    14: "[PERSON]'s role is 'customer'",
    15: "[PERSON]'s age bracket is 'teen'",
    16: "time of day is 'late night'",
    17: "[OTHER]'s role is 'server'",
    26: "",
    27: "[PERSON]'s role is 'customer' [AND] time of day is 'noon'",
    28: "[PERSON]'s role is 'customer' [AND] time of day is 'noon'",
    29: "[PERSON]'s role is 'customer'",
}
# Row number -> a fragment of the rejection reason.
REJECTED = {
    18: "role holds one value but the frame requires both 'driver' and 'passenger'",
    19: "noise cannot both be 'loud' and not be 'loud'",
    20: "age bracket cannot be both",
    21: "no relation",
    22: "empty behavior",
    23: "bad norm 'okay'",
    24: "label '2' does not match norm 'taboo'",
    25: "condition or state is alive",
    30: "unknown relation 'is kinda'",
    31: "empty value",
}


def _import(engine, path=NOISE, **kw):
    return run_import(engine=engine, format="normbank", path=path, **kw)


def test_noise_fixture_loads_what_normalises_and_rejects_the_rest_with_reasons(engine):
    report = _import(engine)
    assert report.read == 31
    assert report.rejected == len(REJECTED)
    distinct_norms = len({(n, c) for n, c in _norm_keys().items()})
    with engine.connect() as conn:
        rows = conn.execute(
            select(NormRow.row_number, Norm.constraints, Norm.label)
            .join(Norm, Norm.id == NormRow.norm_id)
        ).all()
        loaded = {row: constraints for row, constraints, _label in rows}
        assert loaded == LOADED
        rejected = {r.row_number: r for r in conn.execute(select(RejectedRow)).all()}
        assert set(rejected) == set(REJECTED)
        for number, fragment in REJECTED.items():
            assert fragment in rejected[number].reason, (number, rejected[number].reason)
            assert rejected[number].raw.startswith("restaurant,")
        norms = conn.execute(select(func.count()).select_from(Norm)).scalar()
    assert report.loaded == norms == distinct_norms
    assert report.duplicates == report.read - report.rejected - report.loaded


def _norm_keys():
    """(behaviour, label) per loaded row, as the fixture states them after normalisation."""
    behaviors = {1: "drink alcohol", 2: "drink alcohol", 3: "drink alcohol", **{n: "leave a tip" for n in range(4, 9)},
                 **{n: "order food" for n in range(9, 14)}, 14: "ask for the bill", 15: "ask for the bill",
                 16: "ask for the bill", 17: "ask for the bill", 26: "drink water", 27: "drink water",
                 28: "drink water", 29: "drink water"}
    return {(behaviors[n], LOADED[n]): None for n in LOADED}


def test_mixed_case_and_fallback_rows_normalise_behaviour_and_setting(engine):
    _import(engine)
    with engine.connect() as conn:
        norm = conn.execute(
            select(Norm).join(NormRow, NormRow.norm_id == Norm.id).where(NormRow.row_number == 14)
        ).one()
        assert norm.label == "expected"
        assert norm.statement == 'In a restaurant, "ask for the bill" is expected when the person is a customer.'
        atoms = conn.execute(
            select(ConstraintAtom.subject, ConstraintAtom.kind, ConstraintAtom.name, ConstraintAtom.relation,
                   ConstraintAtom.value)
            .join(NormConstraint, NormConstraint.atom_id == ConstraintAtom.id)
            .where(NormConstraint.norm_id == norm.id)
        ).all()
        assert atoms == [("person", "role", "role", "eq", "customer")]


def test_identical_frames_collapse_with_support_and_traceable_rows(engine):
    _import(engine)
    with engine.connect() as conn:
        norm = conn.execute(
            select(Norm).where(Norm.constraints == "[PERSON]'s age bracket is less than 'teen'")
        ).one()
        assert norm.support == 5
        assert norm.row_number == 4  # the first source row
        rows = conn.execute(select(NormRow.row_number).where(NormRow.norm_id == norm.id).order_by(NormRow.row_number))
        assert [r for (r,) in rows] == [4, 5, 6, 7, 8]
        reordered = conn.execute(
            select(Norm).where(Norm.constraints == "[PERSON]'s role is 'customer' [AND] time of day is 'noon'")
        ).one()
        assert reordered.support == 2


@pytest.mark.parametrize("batch_size", [1, 3, 5000])
def test_support_is_the_count_of_source_rows_however_the_rows_are_batched(engine, batch_size):
    """A first import counts support as the rows go in; a norm's rows may fall in several batches."""
    _import(engine, batch_size=batch_size)
    with engine.connect() as conn:
        support = dict(conn.execute(select(Norm.id, Norm.support)).all())
        rows = dict(conn.execute(select(NormRow.norm_id, func.count()).group_by(NormRow.norm_id)).all())
    assert support == rows and max(support.values()) == 5


def test_reimport_adds_nothing_and_changes_no_support(engine):
    first = _import(engine)
    with engine.connect() as conn:
        before = stats(conn), dict(conn.execute(select(Norm.id, Norm.support)).all())
        version_before = data_version(conn)
    second = _import(engine)
    with engine.connect() as conn:
        after = stats(conn), dict(conn.execute(select(Norm.id, Norm.support)).all())
        runs = conn.execute(select(ImportRun.status, ImportRun.loaded).order_by(ImportRun.id)).all()
        version_after = data_version(conn)
    assert before == after
    assert second.loaded == 0 and second.read == first.read
    assert second.duplicates == first.read - first.rejected
    # the re-import is recorded, but leaves the data version (and so every cache and index) as it was
    assert runs == [("committed", first.loaded), ("unchanged", 0)]
    assert version_after == version_before


def test_norm_ids_are_stable_across_databases_and_reimports(engine, tmp_path):
    from schema.engine import make_engine
    from schema.migrate import upgrade

    _import(engine)
    other = make_engine(f"sqlite:///{tmp_path / 'other.db'}")
    upgrade(other)
    _import(other)
    with engine.connect() as a, other.connect() as b:
        assert set(a.execute(select(Norm.id)).scalars()) == set(b.execute(select(Norm.id)).scalars())
    other.dispose()


def test_dry_run_counts_but_writes_nothing(engine):
    report = _import(engine, dry_run=True)
    assert report.loaded > 0 and report.rejected == len(REJECTED)
    with engine.connect() as conn:
        assert stats(conn)["norms"] == 0
        assert conn.execute(select(func.count()).select_from(ImportRun)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(Source)).scalar() == 0


def test_sample_corpus_loads_cleanly_and_is_non_monotonic(engine):
    report = _import(engine, path=sample_corpus_path(), source="normbank-sample")
    assert report.rejected == 0
    assert report.read >= 150
    with engine.connect() as conn:
        settings = conn.execute(select(func.count(func.distinct(Norm.setting_id)))).scalar()
        assert settings >= 8
        # The same setting and behaviour with different labels under different constraints.
        flips = conn.execute(
            select(Norm.setting_id, Norm.behavior_id).group_by(Norm.setting_id, Norm.behavior_id)
            .having(func.count(func.distinct(Norm.label)) > 1)
        ).all()
        assert len(flips) >= 10


def test_missing_columns_are_named(tmp_path, engine):
    bad = tmp_path / "bad.csv"
    bad.write_text("setting,behavior,norm\nrestaurant,eat,normal\n", encoding="utf-8")
    with pytest.raises(MissingColumns) as info:
        _import(engine, path=bad)
    assert "constraints" in info.value.message
    with engine.connect() as conn:
        assert stats(conn)["sources"] == 0


def test_provenance_points_at_source_and_row(engine):
    _import(engine, source="noise-fixture")
    with engine.connect() as conn:
        rows = conn.execute(select(Source.name, Source.licence, Norm.row_number).join(Norm, Norm.source_id == Source.id)).all()
    assert rows and all(name == "noise-fixture" and licence == "CC BY-SA 4.0" and row >= 1 for name, licence, row in rows)


def test_a_new_file_version_with_more_rows_raises_support_of_existing_norms(engine, tmp_path):
    _import(engine)
    grown = tmp_path / "noise-v2.csv"
    text = NOISE.read_text(encoding="utf-8")
    first_row = text.splitlines()[1]  # row 1: [PERSON]'s role is 'customer' (drink alcohol, normal)
    grown.write_text(text + first_row + "\n", encoding="utf-8")
    report = _import(engine, path=grown)
    assert report.loaded == 0 and report.read == 32
    with engine.connect() as conn:
        norm = conn.execute(
            select(Norm).join(NormRow, NormRow.norm_id == Norm.id).where(NormRow.row_number == 1)
        ).one()
        rows = conn.execute(select(NormRow.row_number).where(NormRow.norm_id == norm.id).order_by(NormRow.row_number))
        assert [r for (r,) in rows] == [1, 32]
        assert norm.support == 2


def _table_contents(engine) -> dict:
    with engine.connect() as conn:
        return {
            "norms": sorted(conn.execute(select(Norm.id, Norm.constraints, Norm.statement, Norm.support,
                                                Norm.row_number)).all()),
            "atoms": sorted(conn.execute(select(ConstraintAtom.id, ConstraintAtom.text)).all()),
            "conjunctions": sorted(conn.execute(select(NormConstraint.norm_id, NormConstraint.atom_id)).all()),
            "rows": sorted(conn.execute(select(NormRow.norm_id, NormRow.row_number)).all()),
            "rejected": sorted(conn.execute(select(RejectedRow.row_number, RejectedRow.reason)).all()),
        }


def test_worker_process_loads_exactly_what_one_process_loads(engine, monkeypatch, tmp_path):
    """Large files are normalised in a forked worker; the result must not depend on it."""
    from schema.engine import make_engine
    from schema.migrate import upgrade

    monkeypatch.setenv("NORMBANK_INGEST_WORKER", "1")
    report = _import(engine)
    again = _import(engine)  # a re-import through the worker adds nothing
    assert (again.loaded, again.duplicates) == (0, report.read - report.rejected)
    with_worker = _table_contents(engine)

    monkeypatch.setenv("NORMBANK_INGEST_WORKER", "0")
    single = make_engine(f"sqlite:///{tmp_path / 'single.db'}")
    try:
        upgrade(single)
        single_report = run_import(engine=single, format="normbank", path=NOISE)
        assert single_report.to_json() | {"seconds": 0} == report.to_json() | {"seconds": 0}
        assert _table_contents(single) == with_worker
    finally:
        single.dispose()


def test_worker_errors_reach_the_caller_and_roll_back(engine, monkeypatch, tmp_path):
    monkeypatch.setenv("NORMBANK_INGEST_WORKER", "1")
    broken = tmp_path / "broken.csv"
    good = NOISE.read_bytes()
    body = good.split(b"\n", 1)[1]
    # Past the first read buffer, so the header check passes and the worker meets the bad bytes.
    broken.write_bytes(good + body * (65536 // len(body) + 1) + b"restaurant,\xff\xfe broken utf-8,,,,,normal,1,train\n")
    with pytest.raises(UnicodeDecodeError):
        _import(engine, path=broken)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Norm)).scalar() == 0
        assert conn.execute(select(ImportRun.status)).scalars().all() == ["failed"]


def test_ids_that_clients_stored_stay_the_same(engine):
    """Norm, atom, setting and behaviour ids are content hashes clients keep: these are the sample corpus's
    (api/example_responses.json shows the norms' as 16 hex digits)."""
    _import(engine, path=sample_corpus_path(), source="normbank-sample")
    with engine.connect() as conn:
        norms = dict(conn.execute(select(Norm.id, Norm.constraints)).all())
        atoms = dict(conn.execute(select(ConstraintAtom.id, ConstraintAtom.text)).all())
        pairs = set(conn.execute(select(NormConstraint.norm_id, NormConstraint.atom_id)).all())
        ids = set(conn.execute(select(Norm.setting_id, Norm.behavior_id).where(Norm.id == 0x02751A32033A9B54)).all())
    assert norms[0x02751A32033A9B54] == "[PERSON]'s role is 'customer'"
    assert norms[0x5378B32611BD355D] == "[PERSON]'s condition or state is 'drunk' [AND] [PERSON]'s role is 'customer'"
    assert norms[0x69F24C45FAEE2F8B] == ("[PERSON]'s age bracket is less than 'young adult' [AND] "
                                         "[PERSON]'s role is 'customer'")
    assert norms[0x28DE06334E9E6131] == "[PERSON]'s role is 'server'"
    assert atoms[8526268095600558672] == "[PERSON]'s role is 'customer'"
    assert atoms[6495821592914031653] == "[PERSON]'s condition or state is 'drunk'"
    assert (0x69F24C45FAEE2F8B, 8526268095600558672) in pairs
    assert ids == {(5528141319111738450, 5549198395689245257)}  # restaurant, drink alcohol


def _schema(engine) -> dict:
    from sqlalchemy import inspect

    with engine.connect() as conn:
        inspector = inspect(conn)
        return {table: (sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                               for i in inspector.get_indexes(table)),
                        inspector.get_pk_constraint(table),
                        sorted(str(fk) for fk in inspector.get_foreign_keys(table)),
                        sorted(str(u) for u in inspector.get_unique_constraints(table)))
                for table in inspector.get_table_names()}


def test_a_first_import_leaves_every_index_and_key_as_migrated(engine):
    """Into empty tables the loader may build indexes and check keys once at the end: nothing of it shows."""
    before = _schema(engine)
    _import(engine, path=sample_corpus_path(), batch_size=50)
    _import(engine)  # into tables that are no longer empty
    assert _schema(engine) == before


def test_a_field_over_the_csv_limit_fails_the_import_naming_its_line(engine, tmp_path):
    import csv

    from normbank.errors import MalformedCorpus

    long = tmp_path / "long.csv"
    text = NOISE.read_text(encoding="utf-8")
    long.write_text(text + f"restaurant,{'x' * (csv.field_size_limit() + 1)},,,,,normal,1,train\n", encoding="utf-8")
    line = len(text.splitlines()) + 1
    with pytest.raises(MalformedCorpus, match=rf"line {line}: field larger than field limit"):
        _import(engine, path=long)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Norm)).scalar() == 0
        assert conn.execute(select(ImportRun.status, ImportRun.error)).one()[0] == "failed"
