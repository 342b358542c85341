"""The Chroma store: an embedded PersistentClient under LABQA_HOME, or a `chroma run` server when
LABQA_CHROMA_URL is set. Two collections per index fingerprint:

- chunks: one record per chunk (vector, passage text, flat paper metadata), written through llama-index's
  ChromaVectorStore;
- papers: one record per paper holding the Paper as JSON and the ids of its chunks. This is the commit
  record: ingest writes a paper's chunks first and its paper record after, and deletes stale chunks last,
  so readers — which only trust chunks a paper record names — never see a half-written paper.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from rag.errors import IndexMissingError, StoreError
from rag.settings import Settings
from rag.types import Chunk, Paper

SCHEMA = 1  # bump when the stored layout changes: the fingerprint then points at fresh collections
PREFIX = "labqa"
# Metadata llama-index puts in front of the passage when embedding (and BM25 indexes): what helps retrieval.
EMBED_KEYS = ("title", "authors", "year")


def fingerprint(settings: Settings) -> str:
    """Embedding model + chunking decide the vectors; changing either builds a new index, never mixes."""
    from rag.embedding import model_id

    spec = json.dumps({"model": model_id(), "chunk_tokens": settings.chunk_tokens,
                       "overlap": settings.chunk_overlap_sentences, "schema": SCHEMA}, sort_keys=True)
    return hashlib.sha1(spec.encode()).hexdigest()[:10]


def where(settings: Settings) -> str:
    return settings.chroma_url or str(settings.home / "chroma")


def open_client(settings: Settings, create: bool = False) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    try:
        if settings.chroma_url:
            url = urlparse(settings.chroma_url)
            if not url.hostname:
                raise StoreError(f"LABQA_CHROMA_URL={settings.chroma_url!r} is not a URL like http://127.0.0.1:8000")
            client = chromadb.HttpClient(host=url.hostname, port=url.port or 8000, ssl=url.scheme == "https",
                                         settings=chroma_settings)
            client.heartbeat()
            return client
        path = settings.home / "chroma"
        if not create and not (path / "chroma.sqlite3").exists():
            raise IndexMissingError(str(path))
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    except StoreError:
        raise
    except Exception as exc:  # chromadb raises many types; all mean "the store is not usable"
        raise store_error(exc, settings) from exc


def store_error(exc: Exception, settings: Settings) -> StoreError:
    text = f"{type(exc).__name__}: {exc}"
    if settings.chroma_url:
        return StoreError(f"Cannot reach the Chroma server at {settings.chroma_url} ({text}). "
                          "Start it with `chroma run --path DIR --host 127.0.0.1 --port N`, or unset LABQA_CHROMA_URL.")
    low = text.lower()
    if "readonly" in low or "read-only" in low or "permission" in low:
        hint = "The store folder is read-only: fix its permissions."
    elif "disk" in low and "full" in low or "no space" in low:
        hint = "The disk is full: free space and run `labqa ingest` again (the previous index is intact)."
    else:
        hint = f"The store may be corrupt: delete {settings.home / 'chroma'} and run `labqa ingest` to rebuild it."
    return StoreError(f"Chroma store at {settings.home / 'chroma'} failed ({text}). {hint}")


def collection_names(settings: Settings) -> tuple[str, str]:
    fp = fingerprint(settings)
    return f"{PREFIX}_chunks_{fp}", f"{PREFIX}_papers_{fp}"


def chunk_node(chunk: Chunk, paper: Paper, embedding: list[float] | None = None) -> Any:
    from llama_index.core.schema import TextNode

    meta: dict[str, Any] = {
        "paper_id": paper.paper_id, "title": paper.title, "authors": paper.authors_display,
        "category": paper.category or "", "has_code": paper.has_code, "position": chunk.position,
    }
    if paper.year:
        meta["year"] = paper.year
    return TextNode(
        id_=chunk.chunk_id, text=chunk.text, metadata=meta, embedding=embedding,
        excluded_embed_metadata_keys=[k for k in meta if k not in EMBED_KEYS],
        excluded_llm_metadata_keys=[k for k in meta if k not in EMBED_KEYS],
    )


@dataclass
class PaperRecord:
    paper: Paper
    chunk_ids: list[str]
    digest: str


def paper_digest(paper: Paper, chunker_version: int) -> str:
    """Changes when the paper or the chunking code changes: an unchanged digest means the stored chunks are
    still right (model and chunk settings are fixed by the collection's fingerprint), so ingest skips it."""
    content = {k: v for k, v in paper.to_dict().items() if k != "provenance"}  # where it came from: no chunk changes
    return hashlib.sha1(json.dumps([content, chunker_version], sort_keys=True).encode()).hexdigest()[:16]


def encode_paper(paper: Paper, chunk_ids: list[str], digest: str) -> dict[str, Any]:
    return {"json": json.dumps(paper.to_dict()), "chunk_ids": " ".join(chunk_ids), "digest": digest}


def read_papers(collection: Any, page: int = 5000) -> dict[str, PaperRecord]:
    """All committed paper records (paged: a large catalog does not come back in one response)."""
    out: dict[str, PaperRecord] = {}
    offset = 0
    while True:
        got = collection.get(include=["metadatas"], limit=page, offset=offset)
        for pid, meta in zip(got["ids"], got["metadatas"], strict=True):
            out[pid] = PaperRecord(Paper.from_dict(json.loads(meta["json"])), meta["chunk_ids"].split(),
                                   meta["digest"])
        if len(got["ids"]) < page:
            return out
        offset += page


def all_ids(collection: Any, page: int = 20000) -> set[str]:
    ids: set[str] = set()
    offset = 0
    while True:
        got = collection.get(include=[], limit=page, offset=offset)
        ids.update(got["ids"])
        if len(got["ids"]) < page:
            return ids
        offset += page


def chunk_node_from_record(chunk_id: str, text: str, meta: dict[str, Any]) -> Any:
    """Rebuild the llama-index node that ingest stored (same metadata, same embed/BM25 view)."""
    from llama_index.core.vector_stores.utils import metadata_dict_to_node

    node = metadata_dict_to_node(meta, text=text)
    node.id_ = chunk_id
    return node


def load_catalog(settings: Settings) -> list[Paper]:
    """The committed papers, in source order (no embedder or retriever needed)."""
    client = open_client(settings)
    _, paper_name = collection_names(settings)
    try:
        col = client.get_collection(paper_name, embedding_function=None)
        records = read_papers(col)
    except Exception as exc:
        raise StoreError(f"No index for the current settings at {where(settings)} ({type(exc).__name__}). "
                         "Run `labqa ingest`.") from exc
    return sorted((r.paper for r in records.values()),
                  key=lambda p: min((s.path, s.line) for s in p.provenance) if p.provenance else ("~", 0))
