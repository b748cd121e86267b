"""A FAISS inner-product index over normalised vectors (so scores are cosines), keyed by our own ids.

Positions map to ids through a numpy int64 array rather than faiss' IDMap, so any 63-bit content-hash id
(`normbank.ids.stable_id`) survives a save and load. Small indexes are exact (`IndexFlatIP`); from
`exact_below` rows on they are HNSW graphs, approximate but sub-linear.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import faiss
import numpy as np

from normbank.errors import IndexNotReady, InvalidInput

EXACT_BELOW = 50_000
HNSW_NEIGHBOURS = 32  # M: graph degree; 32 is the usual recall/memory balance for 384-d text vectors
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 64  # raised to k for larger k: with ef < k the graph walk returns fewer than k hits

# Building uses every core; searching uses one. A single query is too small to split, and OpenMP's
# thread start-up costs more than the search (the thread count is per calling thread in OpenMP).
_BUILD_THREADS = faiss.omp_get_max_threads()


class VectorIndex:
    """Cosine nearest neighbours of normalised vectors; every result is an (id, score) pair."""

    def __init__(self, index: faiss.Index, ids: np.ndarray):
        if index.ntotal != len(ids):
            raise IndexNotReady(f"vector index holds {index.ntotal} vectors but {len(ids)} ids")
        self._index = index
        self._ids = ids
        if isinstance(index, faiss.IndexHNSW):
            index.hnsw.efSearch = HNSW_EF_SEARCH

    @classmethod
    def build(cls, vectors: np.ndarray, ids: Sequence[int], *, exact_below: int = EXACT_BELOW) -> VectorIndex:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2:
            raise InvalidInput(f"vectors must be a 2-d array, got shape {vectors.shape}")
        id_array = _as_ids(ids)
        if len(id_array) != vectors.shape[0]:
            raise InvalidInput(f"{vectors.shape[0]} vectors but {len(id_array)} ids")
        n, dimension = vectors.shape
        if n < exact_below or n == 0:
            index = faiss.IndexFlatIP(dimension)
        else:
            index = faiss.IndexHNSWFlat(dimension, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        if n:
            faiss.omp_set_num_threads(_BUILD_THREADS)
            index.add(vectors)
        return cls(index, id_array)

    @property
    def dimension(self) -> int:
        return self._index.d

    @property
    def exact(self) -> bool:
        return not isinstance(self._index, faiss.IndexHNSW)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def __repr__(self) -> str:
        kind = "exact" if self.exact else "hnsw"
        return f"VectorIndex({len(self)} x {self.dimension}, {kind})"

    def search(self, queries: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        """The k best (id, cosine) pairs per query row, best first (fewer when the index is smaller).
        A single 1-d query vector is taken as one row."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if queries.ndim == 1:
            queries = queries[None, :]
        if queries.ndim != 2 or (queries.shape[0] and queries.shape[1] != self.dimension):
            raise InvalidInput(f"queries must have shape (n, {self.dimension}), got {queries.shape}")
        k = min(k, len(self))
        if k <= 0 or queries.shape[0] == 0:
            return [[] for _ in range(queries.shape[0])]
        faiss.omp_set_num_threads(1)
        params = None
        if k > HNSW_EF_SEARCH and not self.exact:
            params = faiss.SearchParametersHNSW()
            params.efSearch = k
        scores, positions = self._index.search(queries, k, params=params)
        return [
            [(int(self._ids[p]), float(s)) for p, s in zip(row_positions, row_scores) if p >= 0]
            for row_positions, row_scores in zip(positions, scores)
        ]

    def save(self, path_prefix: str | Path) -> list[Path]:
        """Write `<prefix>.faiss` and `<prefix>.ids.npy`; returns both paths."""
        index_path, ids_path = _paths(path_prefix)
        faiss.write_index(self._index, str(index_path))
        with open(ids_path, "wb") as f:
            np.save(f, self._ids, allow_pickle=False)
        return [index_path, ids_path]

    @classmethod
    def load(cls, path_prefix: str | Path) -> VectorIndex:
        index_path, ids_path = _paths(path_prefix)
        try:
            index = faiss.read_index(str(index_path))
            ids = np.load(ids_path, allow_pickle=False)
        except (OSError, RuntimeError, ValueError) as exc:
            raise IndexNotReady(f"cannot read vector index {index_path}: {exc}") from exc
        return cls(index, ids.astype(np.int64, copy=False))


def _paths(path_prefix: str | Path) -> tuple[Path, Path]:
    prefix = str(path_prefix)
    return Path(prefix + ".faiss"), Path(prefix + ".ids.npy")


def _as_ids(ids: Sequence[int]) -> np.ndarray:
    try:
        return np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, dtype=np.int64).reshape(-1)
    except OverflowError as exc:
        raise InvalidInput(f"ids must fit in a signed 64-bit integer: {exc}") from exc
