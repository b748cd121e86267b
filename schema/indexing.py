"""Build the vector indexes from the database: what `normbank index` and the server's rebuild run."""

from __future__ import annotations

import logging

import numpy as np

from sqlalchemy.engine import Connection, Engine

from normbank.retrieval.adapter import learn_query_map
from normbank.retrieval.encoder import Encoder
from normbank.retrieval.store import IndexStore, Manifest
from schema.engine import redact
from schema.identity import data_stamp
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


def stamp_for(engine: Engine, conn: Connection) -> dict:
    """What an index is stamped with: the database (without password), its data version, and the data
    stamp (schema.identity) that also changes when the database is re-created or rolled back."""
    return {"data_version": data_version(conn), "data_stamp": data_stamp(conn), "database": redact(str(engine.url))}


def current_stamp(engine: Engine) -> dict:
    with engine.connect() as conn:
        return stamp_for(engine, conn)


def build_index(engine: Engine, store: IndexStore, encoder: Encoder, *, progress: bool = False) -> Manifest:
    """Embed every distinct text of the bank once and swap the new indexes in atomically."""
    with engine.connect() as conn:
        stamp = stamp_for(engine, conn)
        texts = collections(conn)
        version = stamp["data_version"]
    manifest = store.build(texts, encoder, stamp, progress=progress, derive=prototypes)
    log.info("index built for data version %s: %s", version, manifest.to_dict())
    return manifest

