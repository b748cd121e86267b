"""Build the vector indexes from the database: what `normbank index` and the server's rebuild run."""

from __future__ import annotations

import logging

import numpy as np

from sqlalchemy.engine import Engine

from normbank.retrieval.adapter import learn_query_map
from normbank.retrieval.encoder import Encoder
from normbank.retrieval.store import IndexStore, Manifest
from schema.engine import redact
from schema.queries import data_version
from schema.texts import collections

log = logging.getLogger("normbank.index")

# A norm's prototype: its own text's vector moved towards the centroid of its example situations.
# Chosen on NormDial's dev fold (tests/bench/retrieval_normdial.py --fold dev): nearest-example search
# lost to the norm texts alone (recall@5 0.40 vs 0.62 with the culture), the blend won (0.71).
PROTOTYPE_TEXT_WEIGHT = 0.7


def prototypes(vectors_of, *, learn: bool = True) -> dict[str, tuple[list[int], np.ndarray, np.ndarray | None]]:
    """The `norm_prototypes` collection, derived from the `norms` and `examples` vectors, with the query
    map learned from the examples (`normbank.retrieval.adapter`; None when there are too few)."""
    norm_ids, norm_vectors = vectors_of("norms")
    example_ids, example_vectors = vectors_of("examples")
    sums: dict[int, np.ndarray] = {}
    counts: dict[int, int] = {}
    for norm_id, vector in zip(example_ids, example_vectors):
        sums[norm_id] = sums.get(norm_id, 0) + vector
        counts[norm_id] = counts.get(norm_id, 0) + 1
    out = np.array(norm_vectors, dtype=np.float32, copy=True)
    for row, norm_id in enumerate(norm_ids):
        if norm_id in sums:
            centroid = sums[norm_id] / counts[norm_id]
            centroid /= np.linalg.norm(centroid) or 1.0
            blended = PROTOTYPE_TEXT_WEIGHT * out[row] + (1 - PROTOTYPE_TEXT_WEIGHT) * centroid
            out[row] = blended / (np.linalg.norm(blended) or 1.0)
    query_map = None
    if learn and sums:
        row_of = {norm_id: row for row, norm_id in enumerate(norm_ids)}
        known = [i for i, norm_id in enumerate(example_ids) if norm_id in row_of]
        query_map = learn_query_map(np.asarray(example_vectors)[known],
                                    np.array([row_of[example_ids[i]] for i in known], dtype=np.int64), out)
    return {"norm_prototypes": (list(norm_ids), out, query_map)}


def stamp_for(engine: Engine, version: int) -> dict:
    """What an index is stamped with: the database (without password) and its data version."""
    return {"data_version": version, "database": redact(str(engine.url))}


def current_stamp(engine: Engine) -> dict:
    with engine.connect() as conn:
        return stamp_for(engine, data_version(conn))


def build_index(engine: Engine, store: IndexStore, encoder: Encoder, *, progress: bool = False) -> Manifest:
    """Embed every distinct text of the bank once and swap the new indexes in atomically."""
    with engine.connect() as conn:
        version = data_version(conn)
        texts = collections(conn)
    manifest = store.build(texts, encoder, stamp_for(engine, version), progress=progress, derive=prototypes)
    log.info("index built for data version %s: %s", version, manifest.to_dict())
    return manifest

