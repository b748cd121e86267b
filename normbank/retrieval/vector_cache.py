"""Vectors kept by text and encoder between index builds, so a build embeds only texts it has not seen.

One folder per encoder (its name and backend: the same model on another runtime gives slightly other
vectors) under the index store, holding the texts of the last build as JSON and their vectors as one
float32 matrix. A build reads it, embeds what is missing, and writes the texts it used in place of the
old ones (so texts no longer in the bank fall out). A cache that cannot be read is ignored: the build
then embeds everything, as a first build does.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
from pathlib import Path
from typing import Any, Sequence

import numpy as np

log = logging.getLogger("normbank.retrieval")

TEXTS, VECTORS = "texts.json", "vectors.npy"


class VectorCache:
    def __init__(self, root: Path, encoder: Any):
        key = f"{encoder.name}|{getattr(encoder, 'backend', '')}|{encoder.dimension}"
        self.folder = Path(root) / hashlib.sha256(key.encode()).hexdigest()[:16]
        self.dimension = encoder.dimension

    def load(self) -> dict[str, np.ndarray]:
        """text -> vector of the last build with this encoder; empty when there is none or it is unreadable."""
        try:
            saved = json.loads((self.folder / TEXTS).read_text(encoding="utf-8"))
            vectors = np.load(self.folder / VECTORS)
            texts = saved["texts"]
            if vectors.shape != (len(texts), self.dimension) or _digest(vectors) != saved["digest"]:
                raise ValueError("the texts and the vectors are of different builds")
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring the vector cache in %s: %s", self.folder, exc)
            return {}
        return dict(zip(texts, vectors))

    def save(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Keep these texts' vectors for the next build (written aside, then switched in)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        tag = f"{os.getpid()}-{secrets.token_hex(4)}"  # builders in other processes write beside this one
        tmp_texts, tmp_vectors = self.folder / f"{TEXTS}.{tag}.tmp", self.folder / f"tmp-{tag}-{VECTORS}"
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        tmp_texts.write_text(json.dumps({"digest": _digest(vectors), "texts": list(texts)}, ensure_ascii=False),
                             encoding="utf-8")
        np.save(tmp_vectors, vectors)
        # a crash between the two renames leaves texts and vectors whose digests differ: load() ignores them
        os.replace(tmp_vectors, self.folder / VECTORS)
        os.replace(tmp_texts, self.folder / TEXTS)


def _digest(vectors: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(vectors, dtype=np.float32).tobytes()).hexdigest()
