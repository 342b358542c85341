"""A cache of chunk embeddings for the benchmark, so 100k papers are embedded once, not once per run.

Keyed by the sha1 of the exact text ingest embeds (title/authors/year header + passage), in a folder per
index fingerprint (model + chunking), so a change of either never reuses stale vectors. Stored as shards:
`keys-N.npy` (sorted 20-byte digests) and `vecs-N.f32` (raw float32 rows). Rows are read with pread, not
memory-mapped or loaded whole, so the cache adds almost nothing to the measured peak RSS of an ingest.

`install(cache)` wraps rag.embedding.Embedder.embed: hits come from the cache, misses go through the real
model (and are added to the cache); the time spent in the model is counted, so embedding throughput is
reported apart from the rest of ingest.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DIM = 384
FLUSH_EVERY = 4096


@dataclass
class EmbedStats:
    cached: int = 0  # texts served from the cache
    embedded: int = 0  # texts that went through the model
    model_seconds: float = 0.0
    lookup_seconds: float = 0.0
    randomized: int = 0  # texts given random vectors (fill_random), not the model's


class VectorCache:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._shards: list[tuple[np.ndarray, Path]] = []  # (sorted keys, vectors file); rows follow key order
        for keys_file in sorted(folder.glob("keys-*.npy")):
            vecs = keys_file.with_name(keys_file.name.replace("keys-", "vecs-").replace(".npy", ".f32"))
            if vecs.exists() and vecs.stat().st_size == np.load(keys_file, mmap_mode="r").shape[0] * DIM * 4:
                self._shards.append((np.load(keys_file), vecs))
        self._pending_keys: list[bytes] = []
        self._pending_vecs: list[np.ndarray] = []
        self._pending: dict[bytes, int] = {}

    def __len__(self) -> int:
        return sum(len(k) for k, _ in self._shards) + len(self._pending_keys)

    @staticmethod
    def key(text: str) -> bytes:
        return hashlib.sha1(text.encode("utf-8")).digest()

    def get(self, keys: list[bytes]) -> tuple[np.ndarray, list[int]]:
        """Vectors for the keys found (rows of missing keys are zero) and the positions of missing keys."""
        out = np.zeros((len(keys), DIM), dtype=np.float32)
        found = np.zeros(len(keys), dtype=bool)
        arr = np.array(keys, dtype="S20")
        for shard_keys, vecs_file in self._shards:
            pos = np.searchsorted(shard_keys, arr)
            pos[pos >= len(shard_keys)] = 0
            hit = (shard_keys[pos] == arr) & ~found
            if hit.any():
                with vecs_file.open("rb") as fh:
                    fd = fh.fileno()
                    for i in np.flatnonzero(hit):
                        row = os.pread(fd, DIM * 4, int(pos[i]) * DIM * 4)
                        out[i] = np.frombuffer(row, dtype=np.float32)
                found |= hit
        for i, k in enumerate(keys):
            if not found[i] and k in self._pending:
                out[i] = self._pending_vecs[self._pending[k]]
                found[i] = True
        return out, [int(i) for i in np.flatnonzero(~found)]

    def add(self, keys: list[bytes], vecs: np.ndarray) -> None:
        for k, v in zip(keys, vecs, strict=True):
            if k not in self._pending:
                self._pending[k] = len(self._pending_keys)
                self._pending_keys.append(k)
                self._pending_vecs.append(np.asarray(v, dtype=np.float32))
        if len(self._pending_keys) >= FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        """Write pending vectors as a new shard (atomically: keys last, so a half shard is never read)."""
        if not self._pending_keys:
            return
        keys = np.array(self._pending_keys, dtype="S20")
        order = np.argsort(keys)
        vecs = np.stack(self._pending_vecs)[order]
        name = f"{int(time.time() * 1000)}-{os.getpid()}"
        vecs_file = self.folder / f"vecs-{name}.f32"
        vecs.astype(np.float32).tofile(vecs_file)
        tmp = self.folder / f"tmp-{name}.npy"
        np.save(tmp, keys[order])
        os.replace(tmp, self.folder / f"keys-{name}.npy")
        self._shards.append((keys[order], vecs_file))
        self._pending_keys, self._pending_vecs, self._pending = [], [], {}


def cache_for(settings) -> VectorCache:  # type: ignore[no-untyped-def]
    from rag.store import fingerprint

    return VectorCache(Path(__file__).resolve().parent / "out" / "vectors" / fingerprint(settings))


def random_vectors(keys: list[bytes]) -> np.ndarray:
    """Unit vectors drawn from each text's hash: NOT the model's. Only for measuring what does not depend on
    the vectors' values (start-up time, memory, the cost of small ingests into a big store); every figure
    measured with them is labelled so."""
    out = np.stack([np.random.default_rng(int.from_bytes(k[:8], "big")).standard_normal(DIM) for k in keys])
    return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def install(cache: VectorCache, use_cache: bool = True, fill_random: bool = False) -> EmbedStats:
    """Route Embedder.embed through the cache (use_cache=False only counts time spent in the model;
    fill_random: chunks the cache lacks get random_vectors instead of the model's, counted in `randomized`)."""
    from rag.embedding import Embedder

    stats = EmbedStats()
    original = Embedder.embed

    def embed(self, texts, *args, **kwargs):  # type: ignore[no-untyped-def]
        if not use_cache or len(texts) <= 1:  # single texts are questions, not chunks
            t = time.perf_counter()
            out = original(self, texts, *args, **kwargs)
            if len(texts) > 1:
                stats.model_seconds += time.perf_counter() - t
                stats.embedded += len(texts)
            return out
        t = time.perf_counter()
        keys = [VectorCache.key(x) for x in texts]
        out, missing = cache.get(keys)
        stats.lookup_seconds += time.perf_counter() - t
        stats.cached += len(texts) - len(missing)
        if missing and fill_random:
            out[missing] = random_vectors([keys[i] for i in missing])
            stats.randomized += len(missing)
        elif missing:
            t = time.perf_counter()
            vecs = original(self, [texts[i] for i in missing], *args, **kwargs)
            stats.model_seconds += time.perf_counter() - t
            stats.embedded += len(missing)
            out[missing] = vecs
            cache.add([keys[i] for i in missing], vecs)
        return out

    Embedder.embed = embed  # type: ignore[method-assign]
    return stats
