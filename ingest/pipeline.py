"""sources → papers → chunks → embeddings → Chroma: idempotent, batched, safe to interrupt.

1. Parse every source (streamed line by line). Nothing is written before all of them parse, so bad input
   leaves the index exactly as it was.
2. Papers whose stored digest is unchanged are skipped without even being chunked.
3. The others go in batches: chunk, embed only the chunks the store does not hold yet, add them, then
   upsert the batch's paper records. A paper record names its chunks and is the commit point (see rag.store):
   readers trust only chunks a record names, so an interrupted run leaves every paper either old or new,
   never half-written, and the next run picks up where it stopped without re-embedding anything.
4. Sweep: delete records of papers gone from the sources, chunks no record names, and collections of other
   fingerprints (another embedding model or chunking).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ingest.chunking import CHUNKER_VERSION, chunk_papers
from ingest.papers import build_papers
from ingest.sources import Record, parse_file, source_files
from rag import store
from rag.errors import LabQAError, SourceError, SourceErrors
from rag.settings import Settings
from rag.types import Chunk, Paper

Progress = Callable[[int, int], None]  # (papers done, papers to index) — called after every batch


@dataclass
class IngestReport:
    papers: int
    records: int  # source records read (listing entries + abstracts)
    merged: int  # records merged into a paper as another version
    chunks_added: int
    chunks_updated: int
    chunks_unchanged: int
    chunks_removed: int
    seconds: float
    papers_indexed: int = 0  # papers (re)chunked and written by this run
    chunks_embedded: int = 0  # chunks that went through the embedding model
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
    client = store.open_client(settings, create=True)
    chunk_name, paper_name = store.collection_names(settings)
    try:
        chunk_col = client.get_or_create_collection(chunk_name, metadata={"hnsw:space": "cosine"},
                                                    embedding_function=None)
        paper_col = client.get_or_create_collection(paper_name, embedding_function=None)
        committed = store.read_papers(paper_col)
        max_batch = client.get_max_batch_size()
    except LabQAError:
        raise
    except Exception as exc:
        raise store.store_error(exc, settings) from exc

    digests = {p.paper_id: store.paper_digest(p, CHUNKER_VERSION) for p in papers}
    todo = [p for p in papers
            if p.paper_id not in committed or committed[p.paper_id].digest != digests[p.paper_id]]
    counts = {"chunks_added": 0, "chunks_updated": 0, "chunks_unchanged": 0, "chunks_removed": 0}
    keep: set[str] = set()  # every chunk id a current paper names
    relabel: list[Paper] = []  # same content, other provenance (e.g. the sources moved): record only
    for p in papers:
        if p.paper_id in committed and committed[p.paper_id].digest == digests[p.paper_id]:
            keep.update(committed[p.paper_id].chunk_ids)
            counts["chunks_unchanged"] += len(committed[p.paper_id].chunk_ids)
            if committed[p.paper_id].paper.provenance != p.provenance:
                relabel.append(p)

    writer = _BatchWriter(settings, chunk_col, paper_col, max_batch)
    done = 0
    if progress:
        progress(0, len(todo))
    for batch in _batches(todo, settings.ingest_batch_papers):
        chunks = chunk_papers(batch, writer.tokenizer, settings.chunk_tokens, settings.chunk_overlap_sentences)
        writer.write(batch, chunks, digests)
        for p in batch:
            new_ids = [c.chunk_id for c in chunks[p.paper_id]]
            keep.update(new_ids)
            old = committed[p.paper_id].chunk_ids if p.paper_id in committed else []
            for key, n in _diff_counts(old, new_ids).items():
                counts[key] += n
        done += len(batch)
        if progress:
            progress(done, len(todo))

    for i in range(0, len(relabel), max_batch):
        writer.commit(relabel[i:i + max_batch], {p.paper_id: committed[p.paper_id].chunk_ids for p in relabel}, digests)

    gone = [pid for pid in committed if pid not in digests]
    counts["chunks_removed"] += sum(len(committed[pid].chunk_ids) for pid in gone)
    try:
        for i in range(0, len(gone), max_batch):
            paper_col.delete(ids=gone[i:i + max_batch])
        stale = sorted(store.all_ids(chunk_col) - keep)
        for i in range(0, len(stale), max_batch):
            chunk_col.delete(ids=stale[i:i + max_batch])
        for col in client.list_collections():  # indexes built with other models or chunk settings
            name = col if isinstance(col, str) else col.name
            if name.startswith(f"{store.PREFIX}_") and name not in (chunk_name, paper_name):
                client.delete_collection(name)
    except Exception as exc:
        raise store.store_error(exc, settings) from exc

    merged = sum(len(p.provenance) - 1 for p in papers)
    return IngestReport(papers=len(papers), records=n_records, merged=merged, seconds=time.perf_counter() - t0,
                        papers_indexed=len(todo), chunks_embedded=writer.embedded,
                        skipped=[str(e) for e in errors], **counts)


def _batches(items: list[Paper], size: int) -> Iterator[list[Paper]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _diff_counts(old: list[str], new: list[str]) -> dict[str, int]:
    """Added/updated/unchanged/removed chunks of one paper, by slot (paper + position); ids carry a
    content hash, so a slot whose id changed was updated."""
    def slot(cid: str) -> str:
        return cid.rsplit("-", 1)[0]

    old_set, new_set = set(old), set(new)
    old_slots = {slot(c) for c in old}
    new_slots = {slot(c) for c in new}
    changed = new_set - old_set
    return {
        "chunks_added": sum(1 for c in changed if slot(c) not in old_slots),
        "chunks_updated": sum(1 for c in changed if slot(c) in old_slots),
        "chunks_unchanged": len(new_set & old_set),
        "chunks_removed": len(old_slots - new_slots),
    }


class _BatchWriter:
    """Embeds and writes one batch of papers; the embedding model loads only when something needs it."""

    def __init__(self, settings: Settings, chunk_col: Any, paper_col: Any, max_batch: int) -> None:
        self.settings, self.chunk_col, self.paper_col, self.max_batch = settings, chunk_col, paper_col, max_batch
        self.embedded = 0
        self._tokenizer = None
        self._embedder = None

    @property
    def tokenizer(self):  # type: ignore[no-untyped-def]
        if self._tokenizer is None:
            from rag.embedding import load_tokenizer

            self._tokenizer = load_tokenizer()
        return self._tokenizer

    def write(self, batch: list[Paper], chunks: dict[str, list[Chunk]], digests: dict[str, str]) -> None:
        from llama_index.core.schema import MetadataMode
        from llama_index.vector_stores.chroma import ChromaVectorStore

        by_id = {p.paper_id: p for p in batch}
        wanted = [c for p in batch for c in chunks[p.paper_id]]
        try:
            present: set[str] = set()
            for i in range(0, len(wanted), self.max_batch):
                got = self.chunk_col.get(ids=[c.chunk_id for c in wanted[i:i + self.max_batch]], include=[])
                present.update(got["ids"])
            missing = [c for c in wanted if c.chunk_id not in present]
            if missing:
                if self._embedder is None:
                    from rag.embedding import Embedder

                    self._embedder = Embedder.for_settings(self.settings)
                nodes = [store.chunk_node(c, by_id[c.paper_id]) for c in missing]
                vectors = self._embedder.embed([n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes],
                                               self.settings.embed_batch_size)
                for node, vec in zip(nodes, vectors, strict=True):
                    node.embedding = vec.tolist()
                vector_store = ChromaVectorStore(chroma_collection=self.chunk_col)
                for i in range(0, len(nodes), self.max_batch):
                    vector_store.add(nodes[i:i + self.max_batch])
                self.embedded += len(nodes)
        except LabQAError:
            raise
        except Exception as exc:
            raise store.store_error(exc, self.settings) from exc
        # Commit: the records go last, so a paper is never visible with chunks missing.
        self.commit(batch, {pid: [c.chunk_id for c in cs] for pid, cs in chunks.items()}, digests)

    def commit(self, papers: list[Paper], chunk_ids: dict[str, list[str]], digests: dict[str, str]) -> None:
        try:
            for i in range(0, len(papers), self.max_batch):
                part = papers[i:i + self.max_batch]
                self.paper_col.upsert(
                    ids=[p.paper_id for p in part],
                    metadatas=[store.encode_paper(p, chunk_ids[p.paper_id], digests[p.paper_id]) for p in part],
                    documents=[p.title for p in part],
                    embeddings=[[0.0] for _ in part])  # records are looked up by id, never by vector
        except Exception as exc:
            raise store.store_error(exc, self.settings) from exc


__all__ = ["IngestReport", "ingest", "load_papers"]
