"""IndexStore: build, load, manifest and staleness; the atomic switch, crash safety, clean-up, racing
builders, and embedding each distinct text once. The hashing encoder stands in for the model."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from normbank.errors import IndexNotReady, InvalidInput
from normbank.retrieval import vectors as vectors_module
from normbank.retrieval.encoder import HashingEncoder
from normbank.retrieval.store import CURRENT, CURRENT_TMP, VECTOR_CACHE, IndexStore, Manifest, is_stale

COLLECTIONS = {
    "settings": [(1, "restaurant"), (2, "hospital"), (3, "library")],
    "behaviors": [(11, "eating sushi"), (12, "talking loudly"), (13, "restaurant")],  # "restaurant" again
    "norms": [(1 << 62, "It is rude to talk loudly in a library"), (101, "eating sushi"), (102, "hospital")],
}
DISTINCT = {text for pairs in COLLECTIONS.values() for _, text in pairs}
STAMP = {"data_version": 7, "database": "sqlite:///normbank.db"}


class CountingEncoder:
    """Wraps the hashing encoder, records every text it is asked for, and can fail on a chosen call."""

    def __init__(self, *, fail_on_call: int | None = None, name: str | None = None):
        self._inner = HashingEncoder(64)
        self.name, self.dimension = name or self._inner.name, self._inner.dimension
        self.texts: list[str] = []
        self.calls = 0
        self.fail_on_call = fail_on_call

    def encode(self, texts, *, batch_size=64, progress=False):
        self.calls += 1
        if self.calls == self.fail_on_call:
            raise RuntimeError("encoder crashed")
        self.texts += list(texts)
        return self._inner.encode(texts, batch_size=batch_size)


def build_dirs(root):
    """The builds in the store (and what is left of partial ones); not the vectors kept between builds."""
    return sorted(p.name for p in root.iterdir() if p.is_dir() and p.name != VECTOR_CACHE)


def test_build_then_load_and_search(tmp_path):
    store = IndexStore(tmp_path / "indexes")
    assert store.load() is None and store.current_manifest() is None
    encoder = HashingEncoder(64)
    manifest = store.build(COLLECTIONS, encoder, STAMP)

    assert manifest.model == "hashing-64" and manifest.dimension == 64
    assert manifest.stamp == STAMP
    assert manifest.collections == {"settings": 3, "behaviors": 3, "norms": 3}
    assert manifest.distinct_texts == len(DISTINCT) == 6
    assert manifest.bytes_on_disk > 0 and manifest.embed_seconds >= 0 and manifest.index_seconds >= 0
    assert manifest.built_at.endswith("+00:00")
    assert (tmp_path / "indexes" / CURRENT).read_text().strip() == manifest.build
    assert Manifest.from_json(manifest.to_json()) == manifest
    assert json.loads(manifest.to_json())["stamp"]["data_version"] == 7
    # a manifest of an earlier build, which also recorded the encoder's precision, still reads
    older = {**json.loads(manifest.to_json()), "precision": "bfloat16"}
    assert Manifest.from_json(json.dumps(older)) == manifest

    assert store.current_manifest() == manifest
    loaded = store.load()
    assert loaded.manifest == manifest
    assert {name: len(index) for name, index in loaded.collections.items()} == manifest.collections
    query = encoder.encode(["loud talking in the library"])
    assert loaded.search("norms", query, 1)[0][0][0] == 1 << 62  # big ids survive
    assert [i for i, _ in loaded.search("settings", encoder.encode(["restaurants"]), 3)[0]][0] == 1
    with pytest.raises(IndexNotReady):
        loaded.search("examples", query, 1)


def test_hnsw_and_empty_collections(tmp_path):
    store = IndexStore(tmp_path, exact_below=2)
    manifest = store.build({**COLLECTIONS, "examples": []}, HashingEncoder(64), STAMP)
    loaded = store.load()
    assert not loaded.collections["norms"].exact
    assert manifest.collections["examples"] == 0
    assert loaded.search("examples", HashingEncoder(64).encode(["x"]), 5) == [[]]
    assert IndexStore(tmp_path / "nothing").build({}, HashingEncoder(8), {}).distinct_texts == 0


def test_each_distinct_text_is_embedded_once(tmp_path):
    encoder = CountingEncoder()
    IndexStore(tmp_path).build(COLLECTIONS, encoder, STAMP)
    assert sorted(encoder.texts) == sorted(DISTINCT)


def test_a_build_embeds_only_texts_no_earlier_build_embedded(tmp_path):
    store = IndexStore(tmp_path)
    first = store.build(COLLECTIONS, HashingEncoder(64), STAMP)
    assert first.embedded == first.distinct_texts == len(DISTINCT)
    grown = {**COLLECTIONS, "norms": [*COLLECTIONS["norms"], (99, "a text no build has seen")]}
    encoder = CountingEncoder()
    second = store.build(grown, encoder, STAMP)
    assert encoder.texts == ["a text no build has seen"] and second.embedded == 1
    assert second.distinct_texts == len(DISTINCT) + 1
    loaded = store.load()  # the kept vectors are the ones a full build gives
    fresh = IndexStore(tmp_path / "fresh")
    fresh.build(grown, CountingEncoder(), STAMP)
    for name in grown:
        assert np.array_equal(loaded.collections[name].entries()[1], fresh.load().collections[name].entries()[1])
    other = CountingEncoder(name="another-model")  # another encoder's vectors are never reused
    store.build(grown, other, STAMP)
    assert sorted(other.texts) == sorted({t for pairs in grown.values() for _, t in pairs})


def test_staleness_reasons(tmp_path):
    store = IndexStore(tmp_path)
    assert store.is_stale(None, model="hashing-64", stamp=STAMP) == "missing"
    manifest = store.build(COLLECTIONS, HashingEncoder(64), {**STAMP, "tables": ("norms", "settings")})
    assert is_stale(manifest, model="hashing-64", stamp=STAMP) is None
    assert is_stale(manifest, model="hashing-64", stamp={"tables": ("norms", "settings")}) is None  # via JSON
    assert store.is_stale(manifest, model="sentence-transformers/all-MiniLM-L6-v2", stamp=STAMP) == (
        "built with model hashing-64, configured sentence-transformers/all-MiniLM-L6-v2"
    )
    assert is_stale(manifest, model="hashing-64", stamp={**STAMP, "data_version": 9}) == (
        "built for data version 7, database is at 9"
    )
    assert "database" in is_stale(manifest, model="hashing-64", stamp={**STAMP, "database": "postgresql://db/x"})
    assert "schema" in is_stale(manifest, model="hashing-64", stamp={"schema": 3})


def test_a_crash_while_embedding_leaves_the_previous_build_live(tmp_path):
    store = IndexStore(tmp_path)
    first = store.build(COLLECTIONS, HashingEncoder(64), STAMP)
    before = store.load()
    grown = {**COLLECTIONS, "norms": [*COLLECTIONS["norms"], (99, "a new text to embed")]}
    with pytest.raises(RuntimeError, match="encoder crashed"):
        store.build(grown, CountingEncoder(fail_on_call=1), {**STAMP, "data_version": 8})
    assert_only_build_is(tmp_path, store, first, before)


def test_a_crash_while_writing_indexes_leaves_the_previous_build_live(tmp_path, monkeypatch):
    store = IndexStore(tmp_path)
    first = store.build(COLLECTIONS, HashingEncoder(64), STAMP)
    before = store.load()
    saves = []
    real_save = vectors_module.VectorIndex.save

    def save_then_crash(self, prefix):
        saves.append(prefix)
        if len(saves) == 2:
            raise OSError("disk full")
        return real_save(self, prefix)

    monkeypatch.setattr(vectors_module.VectorIndex, "save", save_then_crash)
    with pytest.raises(OSError, match="disk full"):
        store.build(COLLECTIONS, HashingEncoder(64), {**STAMP, "data_version": 8})
    assert_only_build_is(tmp_path, store, first, before)


def assert_only_build_is(root, store, manifest, before):
    assert not (root / CURRENT_TMP).exists()
    assert build_dirs(root) == [manifest.build]  # the failed build's directory is gone too
    after = store.load()
    assert after.manifest == manifest
    query = HashingEncoder(64).encode(["eating sushi"])
    for name in COLLECTIONS:
        assert after.search(name, query, 3) == before.search(name, query, 3)


def test_old_builds_are_removed_but_the_previous_one_is_kept(tmp_path):
    store = IndexStore(tmp_path)
    manifests = [store.build(COLLECTIONS, HashingEncoder(64), {"data_version": v}) for v in range(4)]
    assert build_dirs(tmp_path) == sorted(m.build for m in manifests[-2:])
    assert store.current_manifest() == manifests[-1]
    assert not (tmp_path / CURRENT_TMP).exists()


def test_racing_builders_leave_a_valid_current(tmp_path):
    store = IndexStore(tmp_path)
    errors: list[BaseException] = []
    results: list[Manifest] = []

    def build(version: int) -> None:
        try:
            results.append(IndexStore(tmp_path).build(COLLECTIONS, HashingEncoder(64), {"data_version": version}))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=build, args=(v,)) for v in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(results) == 6
    loaded = store.load()
    assert loaded is not None and loaded.manifest in results
    assert loaded.manifest.build in build_dirs(tmp_path) and len(build_dirs(tmp_path)) <= 2


def test_broken_current_or_build_reads_as_no_index(tmp_path, caplog):
    store = IndexStore(tmp_path)
    manifest = store.build(COLLECTIONS, HashingEncoder(64), STAMP)

    (tmp_path / manifest.build / "norms.faiss").write_bytes(b"not an index")
    assert store.current_manifest() == manifest  # the manifest alone is still fine
    assert store.load() is None
    assert "unreadable" in caplog.text

    (tmp_path / manifest.build / "manifest.json").write_text("{")
    assert store.current_manifest() is None

    (tmp_path / CURRENT).write_text("../../etc")
    assert store.load() is None and store.current_manifest() is None

    (tmp_path / CURRENT).write_text("build-20240101T000000000000Z-deadbeef\n")  # names nothing
    assert store.load() is None and store.current_manifest() is None


def test_bad_collection_names_and_stamps_are_rejected(tmp_path):
    store = IndexStore(tmp_path)
    with pytest.raises(InvalidInput):
        store.build({"../norms": [(1, "x")]}, HashingEncoder(8), STAMP)
    with pytest.raises(InvalidInput):
        store.build(COLLECTIONS, HashingEncoder(8), {"when": object()})
    assert not tmp_path.exists() or build_dirs(tmp_path) == []


def test_loaded_vectors_are_float32_cosines(tmp_path):
    store = IndexStore(tmp_path)
    store.build(COLLECTIONS, HashingEncoder(64), STAMP)
    hits = store.load().search("settings", HashingEncoder(64).encode(["hospital"]), 1)[0]
    assert hits[0][0] == 2 and hits[0][1] == pytest.approx(1.0, abs=1e-5)
    assert isinstance(hits[0][1], float) and np.isfinite(hits[0][1])
