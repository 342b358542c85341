"""sources → papers → chunks → embeddings → Chroma, idempotent and safe to interrupt.

Order of writes (see rag.store for why): 1. embed and add the chunks the store does not have yet;
2. upsert the paper records that changed (each names its chunks: this commits the paper);
3. delete paper records and chunks that no committed paper names any more, and collections of other
fingerprints. Nothing is written before every source has parsed, so bad input leaves the index as it was.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ingest.chunking import chunk_paper
from ingest.papers import build_papers
from ingest.sources import Record, parse_file, source_files
from rag import store
from rag.embedding import Embedder, load_tokenizer
from rag.errors import LabQAError, SourceError, SourceErrors, StoreError
from rag.settings import Settings
from rag.types import Chunk, Paper

Progress = Callable[[int, int], None]  # (done, total) chunks embedded


@dataclass
class IngestReport:
    papers: int
    records: int  # source records read (listing entries + abstracts)
    merged: int  # abstracts merged into a paper as another version
    chunks_added: int
    chunks_updated: int
    chunks_unchanged: int
    chunks_removed: int
    seconds: float
    skipped: list[str] = field(default_factory=list)  # bad records skipped with --skip-invalid

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def load_papers(paths: Iterable[Path], listing_year: int, skip_invalid: bool = False
                ) -> tuple[list[Paper], int, list[SourceError]]:
    """Parse every source; raise SourceErrors listing all bad records unless skip_invalid."""
    records: list[Record] = []
    errors: list[SourceError] = []
    for f in source_files(paths):
        for item in parse_file(f):
            (errors if isinstance(item, SourceError) else records).append(item)  # type: ignore[arg-type]
    papers, build_errors = build_papers(records, listing_year)
    errors += build_errors
    if errors and not skip_invalid:
        raise SourceErrors(errors)
    if not papers:
        raise LabQAError("No papers found in the sources: nothing to index.")
    return papers, len(records), errors


def ingest(settings: Settings, paths: list[Path] | None = None, skip_invalid: bool = False,
           progress: Progress | None = None) -> IngestReport:
    t0 = time.perf_counter()
    papers, n_records, errors = load_papers(paths or [settings.data_dir], settings.listing_year, skip_invalid)
    tokenizer = load_tokenizer()
    chunks = {p.paper_id: chunk_paper(p, tokenizer, settings.chunk_tokens, settings.chunk_overlap_sentences)
              for p in papers}
    by_id = {p.paper_id: p for p in papers}

    client = store.open_client(settings, create=True)
    chunk_name, paper_name = store.collection_names(settings)
    try:
        chunk_col = client.get_or_create_collection(chunk_name, metadata={"hnsw:space": "cosine"},
                                                    embedding_function=None)
        paper_col = client.get_or_create_collection(paper_name, embedding_function=None)
        committed = store.read_papers(paper_col)
        present = store.all_ids(chunk_col)
    except Exception as exc:
        raise store.store_error(exc, settings) from exc

    wanted = {c.chunk_id: c for cs in chunks.values() for c in cs}
    old_ids = {cid for rec in committed.values() for cid in rec.chunk_ids}
    counts = _diff_counts(old_ids, set(wanted))

    try:
        _add_chunks(settings, chunk_col, [c for cid, c in wanted.items() if cid not in present], by_id, progress)
        changed = []
        for p in papers:
            ids = [c.chunk_id for c in chunks[p.paper_id]]
            rec = committed.get(p.paper_id)
            if rec is None or rec.digest != store.paper_digest(p, ids):
                changed.append((p, ids))
        step = client.get_max_batch_size()
        for i in range(0, len(changed), step):
            batch = changed[i:i + step]
            paper_col.upsert(ids=[p.paper_id for p, _ in batch],
                             metadatas=[store.encode_paper(p, ids) for p, ids in batch],
                             documents=[p.title for p, _ in batch],
                             embeddings=[[0.0] for _ in batch])  # records are looked up by id, never by vector
        gone_papers = [pid for pid in committed if pid not in by_id]
        stale = sorted(present - set(wanted))
        for i in range(0, len(gone_papers), step):
            paper_col.delete(ids=gone_papers[i:i + step])
        for i in range(0, len(stale), step):
            chunk_col.delete(ids=stale[i:i + step])
        for col in client.list_collections():  # indexes built with other models/chunking settings
            name = col if isinstance(col, str) else col.name
            if name.startswith(f"{store.PREFIX}_") and name not in (chunk_name, paper_name):
                client.delete_collection(name)
    except LabQAError:
        raise
    except Exception as exc:
        raise store.store_error(exc, settings) from exc

    merged = sum(len(p.provenance) - 1 for p in papers)
    return IngestReport(papers=len(papers), records=n_records, merged=merged, seconds=time.perf_counter() - t0,
                        skipped=[str(e) for e in errors], **counts)


def _diff_counts(old: set[str], new: set[str]) -> dict[str, int]:
    """Added/updated/unchanged/removed by chunk slot (paper + position); the id carries a content hash."""
    def slot(cid: str) -> str:
        return cid.rsplit("-", 1)[0]

    old_slots = {slot(c) for c in old}
    new_slots = {slot(c) for c in new}
    changed = new - old
    return {
        "chunks_added": sum(1 for c in changed if slot(c) not in old_slots),
        "chunks_updated": sum(1 for c in changed if slot(c) in old_slots),
        "chunks_unchanged": len(new & old),
        "chunks_removed": len(old_slots - new_slots),
    }


def _add_chunks(settings: Settings, collection, todo: list[Chunk], papers: dict[str, Paper],  # type: ignore[no-untyped-def]
                progress: Progress | None) -> None:
    if not todo:
        if progress:
            progress(0, 0)
        return
    from llama_index.core.schema import MetadataMode
    from llama_index.vector_stores.chroma import ChromaVectorStore

    vector_store = ChromaVectorStore(chroma_collection=collection)
    embedder = Embedder(settings.models_dir, settings.embed_threads)
    # Write in slices no larger than the store accepts; embed each slice just before writing it, so an
    # interruption loses at most one slice of work and memory stays flat on large corpora.
    step = min(256, collection._client.get_max_batch_size() if hasattr(collection, "_client") else 256)
    done = 0
    for i in range(0, len(todo), step):
        nodes = [store.chunk_node(c, papers[c.paper_id]) for c in todo[i:i + step]]
        vectors = embedder.embed([n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes],
                                 settings.embed_batch_size)
        for node, vec in zip(nodes, vectors, strict=True):
            node.embedding = vec.tolist()
        try:
            vector_store.add(nodes)
        except Exception as exc:
            raise store.store_error(exc, settings) from exc
        done += len(nodes)
        if progress:
            progress(done, len(todo))


__all__ = ["IngestReport", "StoreError", "ingest", "load_papers"]
