"""Hybrid retrieval over chunks — dense (Chroma, cosine distance) and lexical (bm25s over the persisted
local copy, rag.local_index) fused by reciprocal rank — then grouped by paper: each paper once, with its
best passages, best first."""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from rag import changes, local_index, store
from rag.catalog import Catalog
from rag.embedding import Embedder
from rag.errors import StoreError
from rag.settings import Settings
from rag.types import Evidence, Passage

RRF_K = 60  # the constant of the original RRF paper (and of llama-index's QueryFusionRetriever)
MODES = ("hybrid", "dense", "bm25")


class Index:
    """What a reader needs: the catalog, chunk texts and BM25 from the persisted local copy
    (rag.local_index), dense search in Chroma. One Index is one version of the store; `refreshed` makes
    the next one from the change log."""

    def __init__(self, settings: Settings, embedder: Embedder, client: Any = None,
                 previous: local_index.LocalIndex | None = None, head: changes.Head | None = None) -> None:
        t0 = time.perf_counter()
        self.settings, self.embedder = settings, embedder
        self.client = client or store.open_client(settings)
        chunk_name, paper_name = store.collection_names(settings)
        try:
            names = {c if isinstance(c, str) else c.name for c in self.client.list_collections()}
            if paper_name not in names or chunk_name not in names:
                raise store.missing_index_error(settings, self.client)
            self.chunk_col = self.client.get_collection(chunk_name, embedding_function=None)
            self.log = changes.open_log(self.client, settings)
            local = local_index.sync(settings, self.client, current=previous, head=head)
            assert local is not None
            self.local = local
        except StoreError:
            raise
        except Exception as exc:
            raise store.store_error(exc, settings) from exc
        if not self.local.records:
            raise StoreError(f"The index at {store.where(settings)} is empty. Run `labqa ingest`.")
        self.catalog: Catalog = self.local.catalog
        if previous is None:  # a following process saves it after switching to it (Assistant._refresh)
            self.local.save_derived()
        self.load_ms = (time.perf_counter() - t0) * 1000

    @property
    def version(self) -> changes.Head:
        return changes.Head(self.local.version, self.local.epoch)

    def store_head(self) -> changes.Head:
        """The store's current version: one small read (the check a running process makes before questions)."""
        try:
            if self.log is None:  # an index built before the change log: it appears with the next ingest
                self.log = changes.open_log(self.client, self.settings)
            return changes.read_head(self.log)
        except Exception as exc:
            raise store.store_error(exc, self.settings) from exc

    def refreshed(self, head: changes.Head) -> Index:
        """The index at `head`: only the papers the change log names are read again. The embedded store is
        reopened, since a PersistentClient keeps serving the vectors it loaded (Chroma's readers do not
        follow another process's writes); a server is always current."""
        client = self.client
        if not self.settings.chroma_url:
            store.forget_client(self.settings)
            client = store.open_client(self.settings)
        return Index(self.settings, self.embedder, client, previous=self.local, head=head)

    def search(self, query: str, mode: str = "hybrid", paper_ids: list[str] | None = None,
               timings: dict[str, float] | None = None) -> list[Evidence]:
        """Papers for the query, best first; `paper_ids` restricts the search (filters, follow-ups)."""
        timings = timings if timings is not None else {}
        scope = set(paper_ids) if paper_ids is not None else None
        dense: list[tuple[str, float]] = []
        lexical: list[tuple[str, float]] = []
        if mode in ("hybrid", "dense"):
            t = time.perf_counter()
            dense = self._dense(query, scope)
            timings["dense_ms"] = (time.perf_counter() - t) * 1000
        if mode in ("hybrid", "bm25"):
            t = time.perf_counter()
            lexical = self._lexical(query, scope)
            timings["bm25_ms"] = (time.perf_counter() - t) * 1000
        return self._group(dense, lexical)

    def _dense(self, query: str, scope: set[str] | None) -> list[tuple[str, float]]:
        where = None
        if scope is not None:
            if not scope:
                return []
            where = {"paper_id": {"$in": sorted(scope)}}
        k = min(self.settings.candidate_k, max(1, self.local.chunk_count))
        vector = self.embedder.embed_cached([query])[0]
        try:
            got = self.chunk_col.query(query_embeddings=[vector.tolist()], n_results=k, where=where,
                                       include=["distances"])
        except Exception as exc:
            raise store.store_error(exc, self.settings) from exc
        # The collection uses cosine distance (1 - cosine similarity): the score is read from it directly.
        return [(cid, 1.0 - float(d)) for cid, d in zip(got["ids"][0], got["distances"][0], strict=True)
                if cid in self.local.where]

    def _lexical(self, query: str, scope: set[str] | None) -> list[tuple[str, float]]:
        return self.local.search(query, self.settings.candidate_k, scope)

    def _group(self, dense: list[tuple[str, float]], lexical: list[tuple[str, float]]) -> list[Evidence]:
        """Reciprocal rank fusion of the two retrievers' PAPER rankings (a paper ranks where its best chunk
        does). Fusing chunk ranks instead lets a paper with several middling chunks outrank a one-chunk
        paper that both retrievers put first. Written out rather than through QueryFusionRetriever: that
        class fuses nodes (chunks) and overwrites their scores, and the planner needs the raw cosine and
        BM25 scores (abstention, relevance cut-offs). Same formula, same k."""
        chunk_fused: dict[str, float] = defaultdict(float)
        paper_fused: dict[str, float] = defaultdict(float)
        cos: dict[str, float] = {}
        bm: dict[str, float] = {}
        for hits, best in ((dense, cos), (lexical, bm)):
            seen: dict[str, int] = {}
            for rank, (cid, s) in enumerate(hits):
                chunk_fused[cid] += 1.0 / (RRF_K + rank + 1)
                best[cid] = s
                pid = self.local.paper_of(cid)
                if pid not in seen:
                    seen[pid] = len(seen)
                    paper_fused[pid] += 1.0 / (RRF_K + seen[pid] + 1)
        by_paper: dict[str, list[str]] = defaultdict(list)
        for cid in sorted(chunk_fused, key=lambda c: -chunk_fused[c]):
            by_paper[self.local.paper_of(cid)].append(cid)
        out = []
        for pid, cids in by_paper.items():
            paper = self.catalog.get(pid)
            if paper is None:
                continue
            out.append(Evidence(
                paper=paper, score=paper_fused[pid],
                passages=[Passage(c, self.local.text(c), chunk_fused[c], self.local.page(c)) for c in cids[:3]],
                dense=max((cos[c] for c in cids if c in cos), default=0.0),
                lexical=max((bm[c] for c in cids if c in bm), default=0.0),
            ))
        # Ties (equal paper ranks) go to the paper with the better chunk.
        out.sort(key=lambda e: (-e.score, -e.passages[0].score))
        return out

    def passages_of(self, paper_id: str) -> list[Passage]:
        rec = self.local.records.get(paper_id)
        return [Passage(c, self.local.text(c), 0.0, self.local.page(c))
                for c in (rec.chunk_ids if rec else []) if c in self.local.where]
