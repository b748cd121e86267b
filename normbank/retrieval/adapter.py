"""A query map learned from the bank's own examples: situations are phrased unlike the norms they
illustrate, so a linear map of the query vector (d x d, starting from the identity) is fitted so that each
example situation's nearest norm prototype is its own norm (softmax over all prototypes, cross-entropy,
a penalty on the distance from the identity). Search applies it to the query only; the stored vectors
stay as they are.

Chosen on NormDial's dev fold (tests/bench/retrieval_normdial.py --fold dev, 1,728 examples of 443
norms): with the culture given, dense recall@5 0.711 -> 0.760 and MRR 0.537 -> 0.613; hybrid recall@5
0.830 -> 0.867 and MRR 0.726 -> 0.756. A norm-side alternative (moving each prototype by the same loss)
lost (hybrid 0.837 / 0.733 at best); a category or label classifier on top added under 0.01.
"""

from __future__ import annotations

import logging
import time

import numpy as np

log = logging.getLogger("normbank.retrieval")

MIN_EXAMPLES = 50  # fewer examples than this (or of fewer norms) teach nothing reliable: no map
MIN_NORMS = 10
MAX_EXAMPLES = 50_000  # a larger bank trains on a sample of its examples
# Softmax over at most this many prototypes (all with examples first; of a corpus with more norms with
# examples, a random sample of them, and their examples). A step costs batch x targets: at 10,000 the maps of
# the Social-Chem-101 sample (9,185 norms) and ETHICS (3,879) took about 380 and 120 CPU seconds on a
# 2-core EPYC (30 steps timed, times 10); at 1,000 under 80 and 25. NormDial (460 norms), Moral Stories
# (776) and the 443 norms of NormDial's dev fold the map was tuned on are below it: learned as before.
MAX_TARGETS = 1_000
# Examples per step. 512 learns NormDial's dev-fold map as well as 2,048 did (hybrid with the culture
# recall@5 0.869 and MRR 0.758 both ways) at half the CPU: an all-corpora build's maps took 16 CPU seconds
# instead of 35 (docs/performance.md, "Corpora without settings").
BATCH = 512
STEPS = 300
LEARNING_RATE = 0.005
SCALE = 10.0  # cosine -> logit
IDENTITY_PENALTY = 0.001  # times the squared Frobenius distance from the identity
SEED = 0


def learn_query_map(
    examples: np.ndarray, labels: np.ndarray, targets: np.ndarray, *, steps: int = STEPS
) -> np.ndarray | None:
    """A (d, d) float32 matrix M such that normalise(q @ M.T) finds the right target for an example q,
    or None when there are too few examples to learn from.

    `examples` (n, d) are example situations' vectors, `labels` (n,) the row of each one's norm in
    `targets` (m, d), the norms' (normalised) vectors."""
    examples = np.asarray(examples, dtype=np.float32)
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    targets = np.asarray(targets, dtype=np.float32)
    if examples.ndim != 2 or targets.ndim != 2 or examples.shape[1] != targets.shape[1] or len(labels) != len(examples):
        raise ValueError(f"shapes do not fit: examples {examples.shape}, labels {labels.shape}, targets {targets.shape}")
    if len(examples) < MIN_EXAMPLES or len(np.unique(labels)) < MIN_NORMS:
        return None
    started = time.perf_counter()
    rng = np.random.default_rng(SEED)
    if len(examples) > MAX_EXAMPLES:
        keep = rng.choice(len(examples), MAX_EXAMPLES, replace=False)
        examples, labels = examples[keep], labels[keep]
    if len(targets) > MAX_TARGETS:  # the examples' own norms, then a sample of the others as negatives
        own = np.unique(labels)
        own = np.sort(rng.choice(own, MAX_TARGETS, replace=False)) if len(own) > MAX_TARGETS else own
        others = np.setdiff1d(np.arange(len(targets)), own)
        extra = rng.choice(others, min(len(others), MAX_TARGETS - len(own)), replace=False)
        chosen = np.concatenate([own, extra])
        position = np.full(len(targets), -1, dtype=np.int64)
        position[chosen] = np.arange(len(chosen))
        keep = position[labels] >= 0
        examples, labels, targets = examples[keep], position[labels[keep]], targets[chosen]

    # sentence-transformers' own dependency, imported only when a map is learned; on as many threads as the
    # program set (normbank/cli.py sets one).
    import torch

    out = _fit(torch, examples, labels, targets, steps)
    log.info("query map learned from %d examples of %d norms in %.1fs", len(examples), len(np.unique(labels)),
             time.perf_counter() - started)
    return out


def _fit(torch, examples: np.ndarray, labels: np.ndarray, targets: np.ndarray, steps: int) -> np.ndarray:
    """Adam on the softmax cross-entropy over the targets, from the identity, in minibatches of BATCH."""
    d = examples.shape[1]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        x, y, t = torch.from_numpy(examples), torch.from_numpy(labels), torch.from_numpy(targets)
        eye = torch.eye(d)
        m = eye.clone().requires_grad_(True)
        optimiser = torch.optim.Adam([m], lr=LEARNING_RATE)
        for _ in range(steps):
            batch = torch.randint(len(x), (BATCH,)) if len(x) > BATCH else slice(None)
            optimiser.zero_grad()
            q = torch.nn.functional.normalize(x[batch] @ m.T, dim=1)
            loss = torch.nn.functional.cross_entropy(SCALE * q @ t.T, y[batch]) + IDENTITY_PENALTY * ((m - eye) ** 2).sum()
            loss.backward()
            optimiser.step()
        return m.detach().numpy().astype(np.float32)


def map_queries(query_map: np.ndarray | None, queries: np.ndarray) -> np.ndarray:
    """Queries through the map, normalised again (so scores stay cosines); unchanged without a map."""
    if query_map is None:
        return queries
    mapped = np.asarray(queries, dtype=np.float32) @ query_map.T
    norms = np.linalg.norm(mapped, axis=-1, keepdims=True)
    return (mapped / np.where(norms == 0, 1.0, norms)).astype(np.float32)
