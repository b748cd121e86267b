"""Versioned index builds on disk, stamped with what they were built from and switched atomically.

Layout under `root` (usually `<data_dir>/indexes`):

    CURRENT                         the live build's directory name; only ever replaced with os.replace
    build-<utc time>-<random>/      a finished build: manifest.json, <collection>.faiss, <collection>.ids.npy
    .partial-build-<...>/           a build being written, or one a crash abandoned (removed after a day)
    .lock                           serialises switch and clean-up between builders (POSIX flock)

A build embeds every distinct text once, writes and fsyncs everything into a directory no reader knows
about, and only then points CURRENT at it, so a reader sees the old build or the new one, never half of
one. The previous build is kept because a process may still be loading it; older ones are deleted.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shutil
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from normbank.errors import IndexNotReady, InvalidInput
from normbank.retrieval.encoder import Encoder
from normbank.retrieval.vector_cache import VectorCache
from normbank.retrieval.vectors import EXACT_BELOW, VectorIndex

log = logging.getLogger("normbank.retrieval")

FORMAT_VERSION = 4  # 2: identical vectors stored once (<collection>.offsets.npy); 3: learned query maps; 4: score calibration
CURRENT = "CURRENT"
CURRENT_TMP = "CURRENT.tmp"
MANIFEST = "manifest.json"
LOCK = ".lock"
PARTIAL_PREFIX = ".partial-"
VECTOR_CACHE = "vectors"  # the folder of the vectors kept between builds (vector_cache.py)
PARTIAL_MAX_AGE_SECONDS = 24 * 3600  # longer than any build takes; younger ones may still be in progress
_BUILD_NAME = re.compile(r"build-\d{8}T\d{12}Z-[0-9a-f]{8}")
_COLLECTION_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,63}")  # it becomes a file name


@dataclass(frozen=True)
class Manifest:
    """What one build holds and what it was built from (written as manifest.json inside the build)."""

    build: str  # the build directory's name
    model: str
    dimension: int
    stamp: dict[str, Any]  # the caller's description of the data, e.g. {"data_version": 7, "database": ...}
    collections: dict[str, int]  # rows per collection
    distinct_texts: int
    embed_seconds: float
    index_seconds: float
    bytes_on_disk: int  # the vector and id files
    built_at: str
    query_maps: tuple[str, ...] = ()  # collections whose queries go through a learned map (adapter.py)
    embedded: int | None = None  # texts this build computed (the rest came from the vector cache)
    score_offsets: dict[str, float] = field(default_factory=dict)  # subtracted from a collection's scores
    score_scales: dict[str, float] = field(default_factory=dict)  # a collection's scores, less the offset, over this
    derive_seconds: float | None = None  # of index_seconds, computing the derived collections (prototypes, maps)
    format: int = FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("format") != FORMAT_VERSION:
            raise ValueError(f"not a format-{FORMAT_VERSION} index manifest")
        # Keys it does not know are ignored: older builds also recorded the encoder's precision.
        optional = ("query_maps", "embedded", "score_offsets", "score_scales", "derive_seconds")
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name not in optional},
                   query_maps=tuple(data.get("query_maps", ())), embedded=data.get("embedded"),
                   score_offsets=dict(data.get("score_offsets", {})), score_scales=dict(data.get("score_scales", {})),
                   derive_seconds=data.get("derive_seconds"))


@dataclass(frozen=True)
class LoadedIndexes:
    """Every collection of one build, in memory (deleting the build directory no longer affects it)."""

    manifest: Manifest
    collections: dict[str, VectorIndex]

    def search(self, collection: str, query_vectors: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        index = self.collections.get(collection)
        if index is None:
            raise IndexNotReady(
                f"no {collection!r} index in build {self.manifest.build}; it has: {', '.join(sorted(self.collections))}"
            )
        return index.search(query_vectors, k)


def is_stale(manifest: Manifest | None, *, model: str, stamp: Mapping[str, Any]) -> str | None:
    """Why an index built as `manifest` does not serve `model` over data described by `stamp`, or None.
    Only the stamp's keys are compared; keys the manifest has beyond them are ignored."""
    if manifest is None:
        return "missing"
    if manifest.model != model:
        return f"built with model {manifest.model}, configured {model}"
    for key, value in _plain(stamp).items():
        if key not in manifest.stamp:
            if key == "data_stamp":
                return "built before indexes were stamped with the database's identity"
            return f"built without a {key.replace('_', ' ')} stamp, now {value}"
        built = manifest.stamp[key]
        if built != value:
            if key == "data_version":
                return f"built for data version {built}, database is at {value}"
            if key == "data_stamp":
                if manifest.stamp.get("data_version") != stamp.get("data_version"):
                    continue  # the data version differs too: its message says more
                return "built for another state of the database (created again, or rolled back, since)"
            return f"built for {key.replace('_', ' ')} {built}, now {value}"
    return None


class IndexStore:
    """The index builds under `root`. `stamp`s are written to disk as they are: no credentials in them."""

    def __init__(self, root: Path, *, exact_below: int = EXACT_BELOW):
        self.root = Path(root)
        self.exact_below = exact_below

    is_stale = staticmethod(is_stale)

    def build(
        self,
        collections: Mapping[str, Sequence[tuple[int, str]]],
        encoder: Encoder,
        stamp: Mapping[str, Any],
        *,
        progress: bool = False,
        derive: Callable[[Callable[[str], tuple[list[int], np.ndarray]]], Mapping[str, tuple]] | None = None,
    ) -> Manifest:
        """Embed, index, write and switch CURRENT to a new build; returns its manifest.

        `derive`, when given, is called with a function returning a collection's (ids, vectors) and may
        return more collections computed from them (e.g. per-norm prototypes), as (ids, vectors) or
        (ids, vectors, query map or None); they are indexed too, with their query maps."""
        for name in collections:
            if not _COLLECTION_NAME.fullmatch(name):
                raise InvalidInput(f"bad collection name {name!r}: letters, digits, '_' and '-' only")
        started = time.perf_counter()
        cache = VectorCache(self.root / VECTOR_CACHE, encoder)
        layout, vectors, embedded = _embed(collections, encoder, progress, cache)
        embed_seconds = time.perf_counter() - started

        now = datetime.now(timezone.utc)
        build_name = f"build-{now:%Y%m%dT%H%M%S%f}Z-{secrets.token_hex(4)}"
        self.root.mkdir(parents=True, exist_ok=True)
        partial = self.root / (PARTIAL_PREFIX + build_name)
        partial.mkdir()
        try:
            started = time.perf_counter()
            counts, query_maps, (offsets, scales), written, derive_seconds = self._write_collections(
                partial, layout, vectors, derive)
            index_seconds = time.perf_counter() - started
            manifest = Manifest(
                build=build_name,
                model=encoder.name,
                dimension=encoder.dimension,
                stamp=_plain(stamp),
                collections=counts,
                distinct_texts=len(vectors),
                embedded=embedded,
                embed_seconds=round(embed_seconds, 3),
                index_seconds=round(index_seconds, 3),
                bytes_on_disk=sum(path.stat().st_size for path in written),
                built_at=now.isoformat(timespec="seconds"),
                query_maps=tuple(query_maps),
                score_offsets=offsets,
                score_scales=scales,
                derive_seconds=round(derive_seconds, 3),
            )
            self._publish(partial, build_name, manifest, written)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        log.info(
            "index build %s: %d distinct texts (%d embedded, the rest cached) in %.1fs with %s, %s indexed in %.1fs, %d bytes",
            build_name, len(vectors), embedded, embed_seconds, encoder.name, manifest.collections, index_seconds,
            manifest.bytes_on_disk,
        )
        return manifest

    def _write_collections(self, partial: Path, layout: dict[str, tuple[list[int], list[int]]],
                           vectors: np.ndarray, derive: Callable | None) -> tuple[dict, list, tuple[dict, dict], list[Path], float]:
        """Index and save every collection (and the derived ones) under `partial`."""
        written: list[Path] = []
        counts: dict[str, int] = {}
        for name, (ids, rows) in layout.items():
            index = VectorIndex.build(vectors[rows], ids, exact_below=self.exact_below)
            written += index.save(partial / name)
            counts[name] = len(ids)
        started = time.perf_counter()
        derived = derive(lambda name: (layout[name][0], vectors[layout[name][1]])) if derive else {}
        derive_seconds = time.perf_counter() - started
        query_maps, offsets, scales = [], {}, {}
        for name, (ids, derived_vectors, *extra) in derived.items():
            if not _COLLECTION_NAME.fullmatch(name) or name in layout:
                raise InvalidInput(f"bad derived collection name {name!r}")
            query_map = extra[0] if extra else None
            if len(extra) > 1 and extra[1]:
                offsets[name] = round(float(extra[1]), 6)
            if len(extra) > 2 and extra[2] != 1.0:
                scales[name] = round(float(extra[2]), 6)
            index = VectorIndex.build(np.asarray(derived_vectors, dtype=np.float32), list(ids),
                                      exact_below=self.exact_below, query_map=query_map)
            written += index.save(partial / name)
            counts[name] = len(ids)
            if query_map is not None:
                query_maps.append(name)
        return counts, query_maps, (offsets, scales), written, derive_seconds

    def _publish(self, partial: Path, build_name: str, manifest: Manifest, written: list[Path]) -> None:
        """Make the finished build durable, then switch CURRENT to it atomically."""
        for path in written:
            _fsync_path(path)
        _write_durably(partial / MANIFEST, manifest.to_json())
        _fsync_path(partial)
        with self._switch_lock():
            final = self.root / build_name
            os.rename(partial, final)
            previous = self._current_name()
            try:
                _write_durably(self.root / CURRENT_TMP, build_name + "\n")
                os.replace(self.root / CURRENT_TMP, self.root / CURRENT)
            except BaseException:
                (self.root / CURRENT_TMP).unlink(missing_ok=True)
                raise
            _fsync_path(self.root)
            self._clean_up(keep={build_name, previous})

    def load(self) -> LoadedIndexes | None:
        """The live build in memory, or None when there is none or it cannot be read (logged)."""
        for _ in range(3):
            name = self._current_name()
            if name is None:
                return None
            try:
                manifest = self._read_manifest(name)
                if not all(_COLLECTION_NAME.fullmatch(c) for c in manifest.collections):
                    raise ValueError("the manifest names a collection that is not a plain file name")
                collections = {c: VectorIndex.load(self.root / name / c) for c in manifest.collections}
                for c, index in collections.items():
                    if index.dimension != manifest.dimension or len(index) != manifest.collections[c]:
                        raise IndexNotReady(f"{c} index does not match the manifest")
                    if (index.query_map is not None) != (c in manifest.query_maps):
                        raise IndexNotReady(f"{c} index's query map does not match the manifest")
                return LoadedIndexes(manifest=manifest, collections=collections)
            except (IndexNotReady, OSError, ValueError, TypeError, KeyError) as exc:
                if self._current_name() != name:
                    continue  # a builder switched (and cleaned up) while we read: read the new build
                log.error("index build %s under %s is unreadable: %s", name, self.root, exc)
                return None
        return None

    def current_manifest(self) -> Manifest | None:
        """The live build's manifest without loading any vectors, or None (logged when broken)."""
        name = self._current_name()
        if name is None:
            return None
        try:
            return self._read_manifest(name)
        except (OSError, ValueError, TypeError, KeyError) as exc:
            log.error("index build %s under %s has no readable manifest: %s", name, self.root, exc)
            return None

    def _read_manifest(self, name: str) -> Manifest:
        return Manifest.from_json((self.root / name / MANIFEST).read_text("utf-8"))

    def _current_name(self) -> str | None:
        try:
            name = (self.root / CURRENT).read_text("utf-8").strip()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.error("cannot read %s: %s", self.root / CURRENT, exc)
            return None
        if not _BUILD_NAME.fullmatch(name):
            log.error("%s names %r, which is not a build directory", self.root / CURRENT, name)
            return None
        return name

    def _clean_up(self, *, keep: set[str | None]) -> None:
        """Delete finished builds other than `keep` and CURRENT's, and partial ones a crash left behind.
        Runs under the switch lock, so no other builder is between its rename and its switch."""
        keep = keep | {self._current_name()}
        cutoff = time.time() - PARTIAL_MAX_AGE_SECONDS
        for entry in self.root.iterdir():
            try:
                finished = _BUILD_NAME.fullmatch(entry.name) and entry.name not in keep
                abandoned = entry.name.startswith(PARTIAL_PREFIX) and entry.stat().st_mtime < cutoff
                if entry.is_dir() and (finished or abandoned):
                    shutil.rmtree(entry)
                    log.info("removed old index build %s", entry)
            except OSError as exc:
                log.warning("could not remove old index build %s: %s", entry, exc)

    @contextmanager
    def _switch_lock(self) -> Iterator[None]:
        try:
            import fcntl
        except ImportError:  # not POSIX: builders must not race there
            yield
            return
        with open(self.root / LOCK, "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _plain(stamp: Mapping[str, Any]) -> dict[str, Any]:
    """The stamp as it reads back from JSON (tuples become lists), so comparisons after a round trip hold."""
    try:
        return json.loads(json.dumps(dict(stamp), sort_keys=True))
    except TypeError as exc:
        raise InvalidInput(f"index stamp must be JSON-serialisable: {exc}") from exc


def _write_durably(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _fsync_path(path: Path) -> None:
    """fsync a file, or a directory so the names in it are durable (not possible on every platform)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _embed(collections: Mapping[str, Sequence[tuple[int, str]]], encoder: Encoder, progress: bool,
           cache: VectorCache) -> tuple[dict[str, tuple[list[int], list[int]]], np.ndarray, int]:
    """Embed each distinct text once, and only those the cache does not hold; returns collection -> (ids,
    rows in the matrix), the matrix and the number of texts embedded."""
    texts: dict[str, int] = {}  # distinct text -> its row in the embedding matrix
    layout: dict[str, tuple[list[int], list[int]]] = {}
    for name, pairs in collections.items():
        ids, rows = layout.setdefault(name, ([], []))
        for item_id, text in pairs:
            ids.append(item_id)
            rows.append(texts.setdefault(text, len(texts)))
    known = cache.load()
    missing = [text for text in texts if text not in known]
    fresh = np.asarray(encoder.encode(missing, progress=progress), dtype=np.float32) if missing else None
    if missing and fresh.shape != (len(missing), encoder.dimension):
        raise IndexNotReady(
            f"encoder {encoder.name} returned shape {fresh.shape} for {len(missing)} texts "
            f"of dimension {encoder.dimension}"
        )
    vectors = np.zeros((len(texts), encoder.dimension), dtype=np.float32)
    fresh_row = {text: i for i, text in enumerate(missing)}
    for text, row in texts.items():
        vectors[row] = fresh[fresh_row[text]] if text in fresh_row else known[text]
    cache.save(list(texts), vectors)
    return layout, vectors, len(missing)
