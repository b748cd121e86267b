"""FrameCache: candidate norms and loose frames are kept per data version and dropped when it changes."""

from __future__ import annotations

from ingest.pipeline import run_import
from schema.frames import FrameCache
from tests.conftest import FIXTURES


def test_norms_are_read_once_per_data_version_and_missing_ids_are_left_out(engine, monkeypatch):
    from sqlalchemy import event, select

    from schema import frames
    from schema.models import Norm

    run_import(engine=engine, format="normdial", path=FIXTURES / "normdial")
    with engine.connect() as conn:
        ids = [i for (i,) in conn.execute(select(Norm.id).order_by(Norm.id))]
    cache = FrameCache(engine, check_seconds=3600)
    statements = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    first = cache.norms(ids[:3] + [10**9])  # an id no longer in the bank: left out, not an error
    assert set(first) == set(ids[:3])
    row, atoms = first[ids[0]]
    assert row.id == ids[0] and row.behavior and isinstance(atoms, tuple)
    assert list(atoms) == sorted(atoms, key=lambda a: a.text)
    reads = len(statements)
    assert reads >= 2  # rows and atoms
    assert cache.norms(ids[:3]) == first and len(statements) == reads  # from memory
    cache.norms(ids[:4])
    assert len(statements) > reads  # only the new id is read
    cache.invalidate()
    reads = len(statements)
    assert cache.norms(ids[:1])[ids[0]][0].id == ids[0] and len(statements) > reads  # the data changed: read again

    monkeypatch.setattr(frames, "NORMS_KEPT", 2)
    cache.invalidate()
    cache.norms(ids[:5])
    assert list(cache.current()._norms) == ids[3:5]  # the oldest went first


def test_loose_frames_are_compiled_once_whatever_their_order(engine):
    from normbank.constraints import parse_atom
    from normbank.compiled import Frame

    run_import(engine=engine, format="normdial", path=FIXTURES / "normdial")
    cache = FrameCache(engine, check_seconds=3600)
    a = Frame(id=7, behavior="greet", label="expected", atoms=())
    b = Frame(id=3, behavior="greet", label="taboo", atoms=(parse_atom("PERSON age is child"),))
    compiled = cache.loose([a, b])
    assert [f.id for f in compiled.frames] == [3, 7] and cache.loose([b, a]) is compiled
    assert cache.loose([a]) is not compiled
    cache.invalidate()
    assert cache.loose([a, b]) is not compiled  # dropped with the data version
