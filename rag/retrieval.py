"""Hybrid retrieval over chunks — dense (Chroma through llama-index) and lexical (BM25 through
llama-index's BM25Retriever) fused by reciprocal rank — then grouped by paper: each paper once, with its
best passages, best first."""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict
from typing import Any

from rag import store
from rag.catalog import Catalog
from rag.embedding import Embedder, llama_embedding
from rag.errors import StoreError
from rag.settings import Settings
from rag.types import Evidence, Passage

RRF_K = 60  # the constant of the original RRF paper (and of llama-index's QueryFusionRetriever)
MODES = ("hybrid", "dense", "bm25")


class Index:
    """What a reader needs, loaded once: the committed catalog, the chunk texts and both retrievers."""

    def __init__(self, settings: Settings, embedder: Embedder) -> None:
        from llama_index.core import VectorStoreIndex
        from llama_index.core.schema import TextNode
        from llama_index.vector_stores.chroma import ChromaVectorStore

        t0 = time.perf_counter()
        self.settings = settings
        client = store.open_client(settings)
        chunk_name, paper_name = store.collection_names(settings)
        try:
            names = {c if isinstance(c, str) else c.name for c in client.list_collections()}
            if paper_name not in names or chunk_name not in names:
                raise store.missing_index_error(settings, client)
            self.chunk_col = client.get_collection(chunk_name, embedding_function=None)
            records = store.read_papers(client.get_collection(paper_name, embedding_function=None))
            self.chunk_ids = {cid for r in records.values() for cid in r.chunk_ids}
            got = self._get_chunks(sorted(self.chunk_ids))
        except StoreError:
            raise
        except Exception as exc:
            raise store.store_error(exc, settings) from exc
        if not records:
            raise StoreError(f"The index at {store.where(settings)} is empty. Run `labqa ingest`.")
        self.catalog = Catalog(sorted((r.paper for r in records.values()),
                                      key=lambda p: min((s.path, s.line) for s in p.provenance)
                                      if p.provenance else ("~", 0)))
        self.nodes: dict[str, Any] = {}
        for cid, text, meta in got:
            node = store.chunk_node_from_record(cid, text, meta)
            self.nodes[cid] = node
        self.chunks_by_paper: dict[str, list[str]] = defaultdict(list)
        for r in records.values():
            self.chunks_by_paper[r.paper.paper_id] = [c for c in r.chunk_ids if c in self.nodes]
        self.embedder = embedder
        self.vector_index = VectorStoreIndex.from_vector_store(
            ChromaVectorStore(chroma_collection=self.chunk_col), embed_model=llama_embedding(embedder))
        self.bm25 = _bm25([n for n in self.nodes.values() if isinstance(n, TextNode)], settings.candidate_k)
        self.load_ms = (time.perf_counter() - t0) * 1000

    def _get_chunks(self, ids: list[str], page: int = 5000) -> list[tuple[str, str, dict[str, Any]]]:
        out = []
        for i in range(0, len(ids), page):
            got = self.chunk_col.get(ids=ids[i:i + page], include=["documents", "metadatas"])
            out.extend(zip(got["ids"], got["documents"], got["metadatas"], strict=True))
        return out

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
        from llama_index.core.vector_stores import FilterOperator, MetadataFilter, MetadataFilters

        filters = None
        if scope is not None:
            if not scope:
                return []
            filters = MetadataFilters(filters=[MetadataFilter(key="paper_id", value=sorted(scope),
                                                              operator=FilterOperator.IN)])
        k = min(self.settings.candidate_k, max(1, len(self.nodes)))
        try:
            hits = self.vector_index.as_retriever(similarity_top_k=k, filters=filters).retrieve(query)
        except Exception as exc:
            raise store.store_error(exc, self.settings) from exc
        # llama-index reports exp(-distance); with cosine distance that is exp(cos - 1): undo it.
        return [(h.node.node_id, 1.0 + math.log(max(h.score or 1e-12, 1e-12)))
                for h in hits if h.node.node_id in self.nodes]

    def _lexical(self, query: str, scope: set[str] | None) -> list[tuple[str, float]]:
        if self.bm25 is None:
            return []
        try:
            hits = self.bm25.retrieve(query)
        except Exception:  # bm25s rejects queries with no indexable token (e.g. only stop words)
            logging.getLogger(__name__).debug("BM25 found no usable token in %r", query)
            return []
        out = []
        for h in hits:
            node = self.nodes.get(h.node.node_id)
            if node is None or (h.score or 0) <= 0:
                continue
            if scope is not None and node.metadata["paper_id"] not in scope:
                continue
            out.append((h.node.node_id, float(h.score or 0.0)))
        return out

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
                pid = self.nodes[cid].metadata["paper_id"]
                if pid not in seen:
                    seen[pid] = len(seen)
                    paper_fused[pid] += 1.0 / (RRF_K + seen[pid] + 1)
        by_paper: dict[str, list[str]] = defaultdict(list)
        for cid in sorted(chunk_fused, key=lambda c: -chunk_fused[c]):
            by_paper[self.nodes[cid].metadata["paper_id"]].append(cid)
        out = []
        for pid, cids in by_paper.items():
            paper = self.catalog.get(pid)
            if paper is None:
                continue
            out.append(Evidence(
                paper=paper, score=paper_fused[pid],
                passages=[Passage(c, self.nodes[c].text, chunk_fused[c], self.nodes[c].metadata.get("page"))
                          for c in cids[:3]],
                dense=max((cos[c] for c in cids if c in cos), default=0.0),
                lexical=max((bm[c] for c in cids if c in bm), default=0.0),
            ))
        # Ties (equal paper ranks) go to the paper with the better chunk.
        out.sort(key=lambda e: (-e.score, -e.passages[0].score))
        return out

    def passages_of(self, paper_id: str) -> list[Passage]:
        return [Passage(c, self.nodes[c].text, 0.0, self.nodes[c].metadata.get("page"))
                for c in self.chunks_by_paper.get(paper_id, [])]


def _bm25(nodes: list[Any], k: int) -> Any:
    if not nodes:
        return None
    import Stemmer
    from llama_index.retrievers.bm25 import BM25Retriever

    logging.getLogger("bm25s").setLevel(logging.ERROR)
    return BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=min(k, len(nodes)),
                                       stemmer=Stemmer.Stemmer("english"), language="english")
