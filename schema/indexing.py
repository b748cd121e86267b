"""Build the vector indexes from the database: what `normbank index` and the server's rebuild run."""

from __future__ import annotations

import logging
from functools import partial
from typing import Iterable, Mapping

import numpy as np

from sqlalchemy import select
from sqlalchemy.engine import Engine

from normbank.ids import stable_id
from normbank.retrieval.adapter import learn_query_map, map_queries
from normbank.retrieval.encoder import Encoder
from normbank.retrieval.store import IndexStore, Manifest
from schema.engine import redact
from schema.models import Norm, Source
from schema.queries import data_version
from schema.texts import collections

log = logging.getLogger("normbank.index")

# A norm's prototype: its own text's vector moved towards the centroid of its example situations.
# Chosen on NormDial's dev fold (tests/bench/retrieval_normdial.py --fold dev): nearest-example search
# lost to the norm texts alone (recall@5 0.40 vs 0.62 with the culture), the blend won (0.71).
PROTOTYPE_TEXT_WEIGHT = 0.7


PROTOTYPES = "norm_prototypes"  # the prototype collections are this, and this-<source hash> per corpus
PROBES = 2_000  # other corpora's norms a map's score offset is measured on


def prototype_collections(names: Iterable[str]) -> list[str]:
    """The prototype collections of a build (one per corpus)."""
    return [name for name in names if name == PROTOTYPES or name.startswith(PROTOTYPES + "-")]


def prototypes(vectors_of, *, sources: Mapping[int, str] | None = None,
               learn: bool = True) -> dict[str, tuple[list[int], np.ndarray, np.ndarray | None, float]]:
    """Norm prototypes (a norm's text vector moved towards the centroid of its example situations), one
    collection per corpus (`sources`: norm id -> source name), each with the query map learned from that
    corpus's own examples (`normbank.retrieval.adapter`; None when there are too few) and the score
    offset that puts its mapped scores on the scale of plain cosines."""
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
    groups: dict[str, list[int]] = {}
    for row, norm_id in enumerate(norm_ids):
        groups.setdefault((sources or {}).get(norm_id, ""), []).append(row)
    result = {}
    for source, rows in groups.items():
        ids = [norm_ids[row] for row in rows]
        query_map = _learn(ids, out[rows], example_ids, example_vectors) if learn else None
        others = np.setdiff1d(np.arange(len(norm_ids)), rows)
        offset = _offset(query_map, out[rows], out[others]) if query_map is not None else 0.0
        name = PROTOTYPES if not source else f"{PROTOTYPES}-{stable_id('source', source) & (2**63 - 1):016x}"
        result[name] = (ids, out[rows], query_map, offset)
    return result


def _learn(ids: list[int], targets: np.ndarray, example_ids, example_vectors) -> np.ndarray | None:
    """A corpus's query map, learned from its own examples against its own prototypes only."""
    row_of = {norm_id: row for row, norm_id in enumerate(ids)}
    known = [i for i, norm_id in enumerate(example_ids) if norm_id in row_of]
    if not known:
        return None
    return learn_query_map(np.asarray(example_vectors)[known],
                           np.array([row_of[example_ids[i]] for i in known], dtype=np.int64), targets)


def _offset(query_map: np.ndarray, own: np.ndarray, others: np.ndarray) -> float:
    """How much the map raises the best score of a query that is not about this corpus (other corpora's
    norms as probes): subtracted from mapped scores, so that they compare like with like with the plain
    cosines of corpora without a map. 0 when the bank holds no other corpus."""
    if not len(others):
        return 0.0
    probes = others[np.random.default_rng(0).permutation(len(others))[:PROBES]]
    plain = (probes @ own.T).max(axis=1)
    mapped = (map_queries(query_map, probes) @ own.T).max(axis=1)
    return float(np.mean(mapped - plain))


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
        sources = dict(conn.execute(select(Norm.id, Source.name).join(Source, Source.id == Norm.source_id)).all())
    manifest = store.build(texts, encoder, stamp_for(engine, version), progress=progress,
                           derive=partial(prototypes, sources=sources))
    log.info("index built for data version %s: %s", version, manifest.to_dict())
    return manifest

