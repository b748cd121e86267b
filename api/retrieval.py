"""The retrieval side of a running service: the encoder, the vector indexes on disk, lexical search and
linking. One `Retriever` per app; it notices a stale or missing index and rebuilds it as configured:

- `rebuild` (default): at start and whenever an import makes the index stale, in the background; the old
  index keeps answering until the new one is swapped in atomically;
- `demand`: on the first request that needs the index, which waits for it;
- `off`: never; dense retrieval is unavailable and free text is served by lexical search alone.

Builds run in a child process, `normbank index` (which takes the build lock, so one server of a bank
builds and the others find the index fresh once they hold it): the encoder's working memory, the texts and
vectors of the whole bank and the graph build stay out of the server, which only loads the finished files.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
from sqlalchemy.engine import Engine

from normbank.config import Settings
from normbank.errors import IndexNotReady
from normbank.retrieval.encoder import Encoder, get_encoder
from normbank.retrieval.store import IndexStore, LoadedIndexes, Manifest
from schema import lexical
from normbank.retrieval.fusion import best_per_key
from schema.build_lock import index_build_lock
from schema import indexing
from schema.indexing import current_stamp, prototype_collections
from schema.texts import LINKING_COLLECTIONS, linking_collections

log = logging.getLogger("normbank.retrieval")

VECTOR_CACHE_SIZE = 50_000  # linking candidates' vectors kept in memory (settings, roles, behaviours, values)


class Retriever:
    def __init__(self, engine: Engine, settings: Settings, *, encoder: Encoder | None = None):
        self.engine = engine
        self.settings = settings
        self.mode = settings.index_on_start
        self.store = IndexStore(Path(settings.data_dir) / "indexes")
        self.models_dir = Path(settings.data_dir) / "models"  # cached ONNX exports
        self.model = settings.embedding_model
        self.backend = settings.embedding_backend
        self._encoder = encoder
        self._loaded: LoadedIndexes | None = None
        self._loaded_at = 0.0
        self._stale_checked = 0.0
        self._check_seconds = settings.cache_check_seconds
        self._lock = threading.RLock()
        self._build_lock = threading.Lock()
        self._builder: threading.Thread | None = None
        self._watcher: threading.Thread | None = None
        self._child: subprocess.Popen | None = None
        self._stop = threading.Event()
        self._last_error: str | None = None
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._stored: tuple[str, dict[str, np.ndarray]] | None = None  # (build, text -> vector) of the index

    # -- encoder and indexes -------------------------------------------------------------------------
    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            with self._lock:
                if self._encoder is None:
                    self._encoder = get_encoder(self.model, backend=self.backend, cache_dir=self.models_dir)
        return self._encoder

    def staleness(self) -> str | None:
        manifest = self.store.current_manifest()
        if manifest is None:
            return "missing"
        return self.store.is_stale(manifest, model=self.encoder.name, stamp=current_stamp(self.engine))

    def rebuild(self, *, progress: bool = False) -> None:
        """Build now in a child process (one build at a time per process, and per bank across servers) and
        load the result; when another server built it meanwhile, load that one."""
        with self._build_lock:
            try:
                if self.settings.index_build == "child":
                    self._build_in_child(progress=progress)
                else:
                    self.build_if_stale(progress=progress)
                self._last_error = None
            except Exception as exc:  # noqa: BLE001 - reported by readiness, retried on the next trigger
                self._last_error = f"{type(exc).__name__}: {exc}"
                log.error("index build failed: %s", exc)
                raise
            self._reload(force=True)

    def build_if_stale(self, *, progress: bool = False, force: bool = False,
                       on_start: Callable[[str], None] | None = None) -> Manifest | None:
        """What `normbank index` does, in this process: under the bank's build lock (a server, or another
        `normbank index`, may have built it while this one waited), build the index when it is stale or
        `force`d; None when it is up to date. `on_start` hears why a build starts."""
        with index_build_lock(self.engine, self.store.root):
            reason = self.staleness()
            if reason is None and not force:
                return None
            if on_start is not None:
                on_start(reason or "forced")
            return indexing.build_index(self.engine, self.store, self.encoder, progress=progress)

    def _build_in_child(self, *, progress: bool) -> None:
        """`normbank index` on this server's database, data directory and model, in a child process."""
        env = {**os.environ, "NORMBANK_DATABASE_URL": self.settings.resolved_database_url,
               "NORMBANK_DATA_DIR": str(Path(self.settings.data_dir).resolve()),
               "NORMBANK_EMBEDDING_BACKEND": self.backend}
        if self.model:
            env["NORMBANK_EMBEDDING_MODEL"] = self.model
        argv = [sys.executable, "-m", "normbank.cli", "index", "--progress" if progress else "--no-progress"]
        if self._stop.is_set():
            raise IndexNotReady("the server is stopping")
        self._child = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=None if progress else subprocess.PIPE, text=True)
        try:
            _, errors = self._child.communicate()
        finally:
            code, self._child = self._child.returncode, None
        if code != 0:  # its error goes to the log only: it may name paths and hosts, which /readyz must not
            tail = [line for line in (errors or "").strip().splitlines() if line.strip()][-5:]
            log.error("`normbank index` exited with %s:\n%s", code, "\n".join(tail))
            raise IndexNotReady(f"the index build (`normbank index`) exited with {code}; the server's log says why")

    def _build_in_background(self) -> None:
        if self._builder is not None and self._builder.is_alive():
            return

        def run():
            try:
                self.rebuild()
            except Exception:  # noqa: BLE001 - logged in rebuild
                pass

        self._builder = threading.Thread(target=run, name="normbank-index-build", daemon=True)
        self._builder.start()

    @property
    def building(self) -> bool:
        return self._builder is not None and self._builder.is_alive()

    def start(self) -> None:
        """Called at app start: in `rebuild` mode, bring a stale or missing index up to date, then keep
        watching for new data (an import here or in another process) and rebuild in the background as
        soon as it shows; in every mode but `off`, load the encoder in the background, so that the first
        free-text request does not wait for it."""
        if self.mode == "rebuild" and self.staleness() is not None:
            self._build_in_background()
        else:
            self._reload(force=True)
        if self.mode != "off":
            self._stop.clear()
            self._watcher = threading.Thread(target=self._watch, name="normbank-index-watch", daemon=True)
            self._watcher.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Called at app shutdown: ends the watcher and a build still running (its files are never switched
        in half-written; another server or the next start builds again), and waits for them (an in-process
        build at most `timeout` seconds), so that no thread of a stopped server reads the database."""
        self._stop.set()
        child = self._child
        if child is not None and child.poll() is None:
            child.terminate()
        for thread in (self._watcher, self._builder):
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout)

    def _watch(self) -> None:
        try:
            self.encoder.encode(["warm up"])
        except Exception:  # noqa: BLE001 - the first request will report it
            log.exception("could not load the encoder")
        while self.mode == "rebuild" and not self._stop.wait(max(self._check_seconds, 1.0)):
            try:
                if not self.building and self.staleness() is not None:
                    log.info("new data: rebuilding the vector index in the background")
                    self._build_in_background()
            except Exception:  # noqa: BLE001 - e.g. the database is down for a moment; /readyz says so
                log.debug("index watch failed", exc_info=True)

    def wait(self, timeout: float | None = None) -> None:
        if self._builder is not None:
            self._builder.join(timeout)

    def _reload(self, *, force: bool = False) -> LoadedIndexes | None:
        now = time.monotonic()
        if not force and now - self._loaded_at < self._check_seconds:
            return self._loaded
        manifest = self.store.current_manifest()
        with self._lock:
            current = self._loaded.manifest if self._loaded is not None else None
            if manifest is not None and (current is None or manifest.build != current.build):
                self._loaded = self.store.load()
            self._loaded_at = now
        return self._loaded

    def indexes(self) -> LoadedIndexes | None:
        """The freshest loaded indexes, triggering a rebuild as the mode says; None if none exist yet."""
        loaded = self._reload()
        if self.mode == "off":
            return loaded
        if time.monotonic() - self._stale_checked >= self._check_seconds:
            self._stale_checked = time.monotonic()
            if self.staleness() is not None:
                if self.mode == "demand":
                    self.rebuild()
                    return self._loaded
                self._build_in_background()
        return loaded

    def status(self) -> dict:
        manifest = self.store.current_manifest()
        reason = self.staleness() if self.mode != "off" or manifest is not None else "off"
        state = "fresh" if reason is None else ("building" if self.building else "stale")
        if manifest is None:
            state = "building" if self.building else ("off" if self.mode == "off" else "missing")
        return {"state": state, "reason": reason, "mode": self.mode, "model": self.encoder.name,
                "manifest": manifest.to_dict() if manifest else None, "last_error": self._last_error}

    # -- dense and lexical ---------------------------------------------------------------------------
    def _stored_vectors(self) -> Mapping[str, np.ndarray]:
        """Text -> vector of what linking resolves to (settings, behaviours, roles, values), read from the
        loaded index when it was built with this encoder; empty when there is none. Rebuilt per index
        build (texts the index does not know yet are encoded on demand)."""
        loaded = self._reload()
        if loaded is None or loaded.manifest.model != self.encoder.name:
            return {}
        stored = self._stored
        if stored is not None and stored[0] == loaded.manifest.build:
            return stored[1]
        with self._lock:
            if self._stored is not None and self._stored[0] == loaded.manifest.build:
                return self._stored[1]
            with self.engine.connect() as conn:
                pairs = linking_collections(conn)
            out: dict[str, np.ndarray] = {}
            for name in LINKING_COLLECTIONS:
                index = loaded.collections.get(name)
                if index is None:
                    continue
                ids, vectors = index.entries()
                row = {item_id: i for i, item_id in enumerate(ids)}
                for item_id, text in pairs.get(name, ()):
                    if item_id in row:
                        out.setdefault(text, vectors[row[item_id]])
            self._stored = (loaded.manifest.build, out)
            return out

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for texts, cached (linking asks for the same candidates again and again); what the index
        already holds is read from it, the rest is encoded."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if missing:
            stored = self._stored_vectors()
            if stored:
                with self._lock:
                    for text in [t for t in missing if t in stored]:
                        self._vectors[text] = stored[text]
                missing = [t for t in missing if t not in stored]
        if missing:
            fresh = self.encoder.encode(missing)
            with self._lock:
                for text, vector in zip(missing, fresh):
                    self._vectors[text] = vector
                while len(self._vectors) > VECTOR_CACHE_SIZE:
                    self._vectors.popitem(last=False)
        return np.stack([self._vectors[t] if t in self._vectors else self.encoder.encode([t])[0] for t in texts])

    def dense(self, text: str, collection: str, k: int, *, vector: np.ndarray | None = None) -> list[tuple[int, float]]:
        loaded = self.indexes()
        if loaded is None or collection not in loaded.collections:
            raise IndexNotReady(
                "the vector index is not built yet" + (" (building now)" if self.building else "; run `normbank index`")
            )
        query = vector if vector is not None else self.encoder.encode([text])
        return loaded.search(collection, query.reshape(1, -1), k)[0]

    def dense_norms(self, text: str, k: int) -> list[tuple[int, float]]:
        """Norm ids for a free text over every corpus's prototypes, best first: the text is encoded once
        and searched in each corpus's collection through that corpus's own query map; each corpus's scores
        are calibrated (less its offset, over its scale: schema.indexing._calibration), so that they compare
        like with like."""
        loaded = self.indexes()
        names = prototype_collections(loaded.collections) if loaded is not None else []
        if not names:
            raise IndexNotReady(
                "the vector index is not built yet" + (" (building now)" if self.building else "; run `normbank index`")
            )
        query = self.encoder.encode([text]).reshape(1, -1)
        offsets, scales = loaded.manifest.score_offsets, loaded.manifest.score_scales
        scored = [(norm_id, (score - offsets.get(name, 0.0)) / scales.get(name, 1.0))
                  for name in names for norm_id, score in loaded.search(name, query, k)[0]]
        return best_per_key(scored)[:k]

    def dense_available(self) -> bool:
        try:
            loaded = self.indexes()
        except Exception:  # noqa: BLE001 - a failed build means: no dense side
            return False
        return loaded is not None

    def lexical(self, text: str, k: int, *, kind: str | None = None) -> list[tuple[int, str, float]]:
        with self.engine.connect() as conn:
            return lexical.search(conn, text, limit=k, kind=kind)

    # -- linking -------------------------------------------------------------------------------------
    @property
    def links_densely(self) -> bool:
        """Whether linking may use embeddings: not when the index is off and no encoder was handed in."""
        return self.mode != "off" or self._encoder is not None

    def similarity(self, text: str, candidates: Sequence[str]) -> np.ndarray:
        """Cosines of `text` to each candidate (linking's dense side)."""
        vectors = self.embed(list(candidates) + [text])
        return vectors[:-1] @ vectors[-1]
