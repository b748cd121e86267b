"""Build the vector indexes from the database: what `normbank index` and the server's rebuild run."""

from __future__ import annotations

import logging
from functools import partial
from typing import Iterable, Mapping

import numpy as np

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from normbank.ids import stable_id
from normbank.retrieval.adapter import learn_query_map, map_queries
from normbank.retrieval.encoder import Encoder
from normbank.retrieval.store import IndexStore, Manifest
from schema.engine import redact
from schema.identity import data_stamp
from schema.models import Norm, Source
from schema.queries import data_version
from schema.texts import collections

log = logging.getLogger("normbank.index")

# A norm's prototype: its own text's vector moved towards the centroid of its example situations.
# Chosen on NormDial's dev fold (tests/bench/retrieval_normdial.py --fold dev): nearest-example search
# lost to the norm texts alone (recall@5 0.40 vs 0.62 with the culture), the blend won (0.71).
PROTOTYPE_TEXT_WEIGHT = 0.7


PROTOTYPES = "norm_prototypes"  # the prototype collections are this, and this-<source hash> per corpus
PROBES = 2_000  # other corpora's situations (or norms) a corpus's score calibration is measured on


def prototype_collections(names: Iterable[str]) -> list[str]:
    """The prototype collections of a build (one per corpus)."""
    return [name for name in names if name == PROTOTYPES or name.startswith(PROTOTYPES + "-")]


def prototypes(vectors_of, *, sources: Mapping[int, str] | None = None,
               learn: bool = True) -> dict[str, tuple[list[int], np.ndarray, np.ndarray | None, float, float]]:
    """Norm prototypes (a norm's text vector moved towards the centroid of its example situations), one
    collection per corpus (`sources`: norm id -> source name), each with the query map learned from that
    corpus's own examples (`normbank.retrieval.adapter`; None when there are too few) and its score
    calibration (offset, scale: `_calibration`), which puts every corpus's scores on one scale."""
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
    example_sources = np.array([(sources or {}).get(norm_id, "") for norm_id in example_ids], dtype=object)
    result = {}
    for source, rows in groups.items():
        ids = [norm_ids[row] for row in rows]
        query_map = _learn(ids, out[rows], example_ids, example_vectors) if learn else None
        # probes: what a query about another corpus looks like: its example situations, else its norms
        probes = np.asarray(example_vectors)[example_sources != source] if len(example_ids) else np.zeros((0, 0))
        if not len(probes):
            probes = out[np.setdiff1d(np.arange(len(norm_ids)), rows)]
        offset, scale = _calibration(query_map, out[rows], probes)
        name = PROTOTYPES if not source else f"{PROTOTYPES}-{stable_id('source', source) & (2**63 - 1):016x}"
        result[name] = (ids, out[rows], query_map, offset, scale)
    return result


def _learn(ids: list[int], targets: np.ndarray, example_ids, example_vectors) -> np.ndarray | None:
    """A corpus's query map, learned from its own examples against its own prototypes only."""
    row_of = {norm_id: row for row, norm_id in enumerate(ids)}
    known = [i for i, norm_id in enumerate(example_ids) if norm_id in row_of]
    if not known:
        return None
    return learn_query_map(np.asarray(example_vectors)[known],
                           np.array([row_of[example_ids[i]] for i in known], dtype=np.int64), targets)


def _calibration(query_map: np.ndarray | None, own: np.ndarray, probes: np.ndarray) -> tuple[float, float]:
    """(offset, scale) such that (score - offset) / scale says how far a query's score on this corpus stands
    above the best score of a query about another corpus (`probes`: its example situations or norms, through
    this corpus's map): the mean and spread of those best scores. Raw cosines do not compare across corpora:
    a corpus of many texts written like situations (Social-Chem's rules of thumb, Moral Stories) is close to
    any situation, and a map shifts its corpus's scores; calibrated, a corpus's norm leads only when the query
    is more about it than a query about another corpus would be. (0, 1) in a bank of one corpus."""
    if not len(probes):
        return 0.0, 1.0
    probes = probes[np.random.default_rng(0).permutation(len(probes))[:PROBES]]
    best = (map_queries(query_map, probes) @ own.T).max(axis=1)
    return float(best.mean()), float(best.std()) or 1.0


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
        sources = dict(conn.execute(select(Norm.id, Source.name).join(Source, Source.id == Norm.source_id)).all())
    manifest = store.build(texts, encoder, stamp, progress=progress, derive=partial(prototypes, sources=sources))
    log.info("index built for data version %s: %s", version, manifest.to_dict())
    return manifest

