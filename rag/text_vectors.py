"""Short texts of the collection embedded one by one — each word (rag.word_support) and each sentence (the
offline answerer's choice of sentences) — kept on disk beside the model.

A text's vector depends only on the embedding model, never on the collection, so one file per model (and
precision) serves every index and never goes stale: texts are added as papers and questions bring new ones. The file is rewritten
atomically (temporary file, then rename); two processes racing only lose each other's newest words, which are
computed again when next needed. One numpy .npz file (words and float16 vectors) rather than Chroma: these are
lookups by exact word, never nearest-neighbour queries."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np

from rag.embedding import DIM, Embedder, model_id

SAVE_EVERY = 10.0  # seconds between rewrites of the file while new words keep coming


class TextVectors:
    def __init__(self, folder: Path, embedder: Embedder) -> None:
        self.embedder = embedder
        name = f"text-vectors-{model_id().replace('/', '_')}-{embedder.precision}"
        self.path = folder / f"{name}.npz"
        self._lock = threading.Lock()
        self._index: dict[str, int] = {}
        self._stored = np.zeros((0, DIM), dtype=np.float16)
        self._fresh: list[np.ndarray] = []  # rows computed since the file was last written
        self._saved_at = 0.0
        self._load()

    def _load(self) -> None:
        try:
            with np.load(self.path, allow_pickle=False) as data:
                words, vecs = data["words"], data["vectors"]
        except (OSError, ValueError, KeyError):
            return  # missing or damaged: start empty, the words are computed again
        if vecs.ndim == 2 and vecs.shape == (len(words), DIM):
            self._index = {str(w): i for i, w in enumerate(words)}
            self._stored = vecs.astype(np.float16)

    def __len__(self) -> int:
        return len(self._index)

    def get(self, words: list[str]) -> np.ndarray:
        """Unit vectors (float32) for the texts, in order; texts never seen are embedded now, in one batch."""
        with self._lock:
            missing = [w for w in dict.fromkeys(words) if w not in self._index]
        if missing:
            fresh = self.embedder.embed(missing, batch_size=128).astype(np.float16)
            with self._lock:
                for w, v in zip(missing, fresh, strict=True):
                    if w not in self._index:
                        self._index[w] = len(self._stored) + sum(len(f) for f in self._fresh)
                        self._fresh.append(v[None, :])
                if time.monotonic() - self._saved_at > SAVE_EVERY:
                    self._save_locked()
        with self._lock:
            rows = [self._index[w] for w in words]
            table = self._table_locked()
        return np.asarray(table[rows], dtype=np.float32) if rows else np.zeros((0, DIM), dtype=np.float32)

    def save(self) -> None:
        with self._lock:
            self._save_locked()

    def _table_locked(self) -> np.ndarray:
        if self._fresh:
            self._stored = np.concatenate([np.asarray(self._stored), *self._fresh])
            self._fresh = []
        return self._stored

    def _save_locked(self) -> None:
        table = self._table_locked()
        self._saved_at = time.monotonic()
        words = sorted(self._index, key=self._index.__getitem__)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as f:
                np.savez(f, words=np.array(words, dtype=str), vectors=table)
            os.replace(tmp, self.path)
        except OSError:
            tmp.unlink(missing_ok=True)
            pass  # a read-only or full disk: keep the vectors in memory, compute them again next time
