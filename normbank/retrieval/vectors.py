"""A FAISS inner-product index over normalised vectors (so scores are cosines), keyed by our own ids.

Identical vectors are stored once: NormBank's 121k norms share 35k texts (frames that differ only in
their conditions), and a graph over thousands of copies of one point is slow to build and finds its
neighbours badly. Each stored row maps to its ids through two numpy int64 arrays (`ids` grouped by row,
`offsets` into it) rather than faiss' IDMap, so any 63-bit content-hash id (`normbank.ids.stable_id`)
survives a save and load. Small indexes are exact (`IndexFlatIP`); from `exact_below` distinct rows on
they are HNSW graphs, approximate but sub-linear.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import faiss
import numpy as np

from normbank.errors import IndexNotReady, InvalidInput
from normbank.retrieval.adapter import map_queries

# Below this many distinct vectors, search is exact. On the 155k generated corpus's 35,271 distinct norm
# vectors (tests/bench/bench_index.py, 2026-11-28), HNSW answered in 0.13 ms where exact search took
# 1.7 ms; of the exact 10 nearest distinct vectors it found 0.98 at efSearch 64, 0.99 at 128 (0.18 ms).
# Grounding and search ask for 100 candidates, so they run at efSearch >= 100 (see `search`).
EXACT_BELOW = 20_000
HNSW_NEIGHBOURS = 32  # M: graph degree; 32 is the usual recall/memory balance for 384-d text vectors
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 64  # raised to k for larger k: with ef < k the graph walk returns fewer than k hits

# Building uses every core the process may run on; searching uses one: a single query is too small to split,
# and OpenMP's thread start-up costs more than the search. faiss.omp_set_num_threads sets the count for the
# calling thread only (OpenMP's per-thread setting), so it changes nothing for the process's other threads;
# the cores are counted here because OMP_NUM_THREADS (which `normbank` sets to 1 for torch) must not
# slow the graph build.
_BUILD_THREADS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


class VectorIndex:
    """Cosine nearest neighbours of normalised vectors; every result is an (id, score) pair."""

    def __init__(self, index: faiss.Index, ids: np.ndarray, offsets: np.ndarray | None = None,
                 query_map: np.ndarray | None = None):
        if offsets is None:
            offsets = np.arange(len(ids) + 1, dtype=np.int64)
        if index.ntotal != len(offsets) - 1 or offsets[-1] != len(ids):
            raise IndexNotReady(f"vector index holds {index.ntotal} vectors but {len(offsets) - 1} id groups "
                                f"over {len(ids)} ids")
        self._index = index
        self._ids = ids
        self._offsets = offsets
        self._one_id_per_row = len(ids) == index.ntotal
        if query_map is not None and query_map.shape != (index.d, index.d):
            raise IndexNotReady(f"query map of shape {query_map.shape} for a {index.d}-d index")
        self.query_map = query_map  # applied to queries before search (normbank.retrieval.adapter)
        if isinstance(index, faiss.IndexHNSW):
            index.hnsw.efSearch = HNSW_EF_SEARCH

    @classmethod
    def build(cls, vectors: np.ndarray, ids: Sequence[int], *, exact_below: int = EXACT_BELOW,
              query_map: np.ndarray | None = None) -> VectorIndex:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2:
            raise InvalidInput(f"vectors must be a 2-d array, got shape {vectors.shape}")
        id_array = _as_ids(ids)
        if len(id_array) != vectors.shape[0]:
            raise InvalidInput(f"{vectors.shape[0]} vectors but {len(id_array)} ids")
        vectors, id_array, offsets = _distinct_rows(vectors, id_array)
        n, dimension = vectors.shape
        if n < exact_below or n == 0:
            index = faiss.IndexFlatIP(dimension)
        else:
            index = faiss.IndexHNSWFlat(dimension, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        if n:
            faiss.omp_set_num_threads(_BUILD_THREADS)
            index.add(vectors)
        return cls(index, id_array, offsets, None if query_map is None else np.asarray(query_map, dtype=np.float32))

    @property
    def dimension(self) -> int:
        return self._index.d

    @property
    def exact(self) -> bool:
        return not isinstance(self._index, faiss.IndexHNSW)

    def __len__(self) -> int:
        """How many ids (entries) the index holds; `rows` is how many distinct vectors."""
        return len(self._ids)

    @property
    def rows(self) -> int:
        return int(self._index.ntotal)

    def __repr__(self) -> str:
        kind = "exact" if self.exact else "hnsw"
        return f"VectorIndex({len(self)} ids, {self.rows} x {self.dimension}, {kind})"

    def search(self, queries: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        """The k best (id, cosine) pairs per query row, best first (fewer when the index is smaller).
        Ids sharing one vector share its score. A single 1-d query vector is taken as one row. The
        index's query map, if it has one, is applied to the queries first."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if queries.ndim == 1:
            queries = queries[None, :]
        if queries.ndim != 2 or (queries.shape[0] and queries.shape[1] != self.dimension):
            raise InvalidInput(f"queries must have shape (n, {self.dimension}), got {queries.shape}")
        queries = np.ascontiguousarray(map_queries(self.query_map, queries))
        rows = min(k, self.rows)
        if k <= 0 or rows <= 0 or queries.shape[0] == 0:
            return [[] for _ in range(queries.shape[0])]
        faiss.omp_set_num_threads(1)
        params = None
        if rows > HNSW_EF_SEARCH and not self.exact:
            params = faiss.SearchParametersHNSW()
            params.efSearch = rows
        scores, positions = self._index.search(queries, rows, params=params)
        if self._one_id_per_row:
            return [
                [(int(self._ids[p]), float(s)) for p, s in zip(row_positions, row_scores) if p >= 0]
                for row_positions, row_scores in zip(positions, scores)
            ]
        out = []
        ids, offsets = self._ids, self._offsets
        for row_positions, row_scores in zip(positions, scores):
            hits: list[tuple[int, float]] = []
            for p, s in zip(row_positions, row_scores):
                if p < 0:
                    continue
                score = float(s)
                hits.extend((int(i), score) for i in ids[offsets[p]: offsets[p + 1]][: k - len(hits)])
                if len(hits) >= k:
                    break
            out.append(hits)
        return out

    def entries(self) -> tuple[list[int], np.ndarray]:
        """Every id with its vector (vectors repeated for ids that share one), in stored order."""
        rows = self._index.reconstruct_n(0, self.rows) if self.rows else np.zeros((0, self.dimension), np.float32)
        return [int(i) for i in self._ids], np.repeat(rows, np.diff(self._offsets), axis=0)

    def save(self, path_prefix: str | Path) -> list[Path]:
        """Write `<prefix>.faiss`, `<prefix>.ids.npy`, `<prefix>.offsets.npy` and, when the index has a
        query map, `<prefix>.query_map.npy`; returns the paths."""
        index_path, ids_path, offsets_path, map_path = _paths(path_prefix)
        faiss.write_index(self._index, str(index_path))
        arrays = [(ids_path, self._ids), (offsets_path, self._offsets)]
        if self.query_map is not None:
            arrays.append((map_path, self.query_map))
        for path, array in arrays:
            with open(path, "wb") as f:
                np.save(f, array, allow_pickle=False)
        return [index_path] + [path for path, _ in arrays]

    @classmethod
    def load(cls, path_prefix: str | Path) -> VectorIndex:
        index_path, ids_path, offsets_path, map_path = _paths(path_prefix)
        try:
            index = faiss.read_index(str(index_path))
            ids = np.load(ids_path, allow_pickle=False)
            offsets = np.load(offsets_path, allow_pickle=False)
            query_map = np.load(map_path, allow_pickle=False) if map_path.exists() else None
        except (OSError, RuntimeError, ValueError) as exc:
            raise IndexNotReady(f"cannot read vector index {index_path}: {exc}") from exc
        return cls(index, ids.astype(np.int64, copy=False), offsets.astype(np.int64, copy=False),
                   None if query_map is None else query_map.astype(np.float32, copy=False))


def _paths(path_prefix: str | Path) -> tuple[Path, Path, Path, Path]:
    prefix = str(path_prefix)
    return (Path(prefix + ".faiss"), Path(prefix + ".ids.npy"), Path(prefix + ".offsets.npy"),
            Path(prefix + ".query_map.npy"))


def _distinct_rows(vectors: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(distinct vectors in first-seen order, ids grouped by vector in input order, group offsets)."""
    n = vectors.shape[0]
    if n == 0:
        return vectors, ids, np.zeros(1, dtype=np.int64)
    keys = np.ascontiguousarray(vectors).view(np.dtype((np.void, vectors.dtype.itemsize * vectors.shape[1])))[:, 0]
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    if len(first) == n:
        return vectors, ids, np.arange(n + 1, dtype=np.int64)
    # Renumber groups by first appearance, so the stored order follows the input's.
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    group = rank[inverse]
    by_group = np.argsort(group, kind="stable")
    counts = np.bincount(group, minlength=len(first))
    offsets = np.zeros(len(first) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return np.ascontiguousarray(vectors[first[order]]), ids[by_group], offsets


def _as_ids(ids: Sequence[int]) -> np.ndarray:
    try:
        return np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, dtype=np.int64).reshape(-1)
    except OverflowError as exc:
        raise InvalidInput(f"ids must fit in a signed 64-bit integer: {exc}") from exc
