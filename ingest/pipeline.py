"""sources → papers → chunks → embeddings → Chroma: additive, idempotent, batched, one writer at a time.

1. Parse the files in scope (streamed line by line). Nothing is written before they all parse, so bad input
   leaves the index exactly as it was (with --skip-invalid a bad record keeps its previous version).
2. Take the store's writer lock (ingest.lock): a second ingest waits or fails, never interleaves.
3. The paper set is built from the stored records of every other file plus what the files in scope hold now
   (ingest.records): ingesting one file adds and updates its papers and never touches the others'.
4. Papers whose stored digest is unchanged are skipped without even being chunked.
5. The others go in batches: chunk, embed only the chunks the store does not hold yet, add them, then
   upsert the batch's paper records. A paper record names its chunks and is the commit point (see rag.store):
   readers trust only chunks a record names, so an interrupted run leaves every paper either old or new,
   never half-written, and the next run picks up where it stopped without re-embedding anything.
6. Sweep: delete records of papers no source provides any more and chunks no record names; then store the
   source records. Indexes built with other settings are left alone (`labqa index drop` removes one).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingest import lock
from ingest.chunking import CHUNKER_VERSION, chunk_papers
from ingest.papers import build_papers
from ingest.records import (
    Parsed,
    RecordStore,
    Scope,
    absolute,
    kept_for_errors,
    legacy_records,
    parse_scope,
    span,
)
from ingest.sources import Record, parse_file, source_files
from rag import changes, store
from rag.errors import IndexMissingError, LabQAError, SourceError, SourceErrors
from rag.settings import Settings
from rag.types import Chunk, Paper

Progress = Callable[[int, int], None]  # (papers done, papers to index) — called after every batch
Say = Callable[[str], None]  # messages for the user before anything is written (waiting, what --prune removes)


@dataclass
class RemovedPaper:
    paper_id: str
    title: str
    sources: list[str]  # the files it came from


@dataclass
class IngestReport:
    papers: int  # papers in the index after this run (from every source it was built from)
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
    papers_added: int = 0
    papers_updated: int = 0
    removed: list[RemovedPaper] = field(default_factory=list)  # papers that left the index
    kept_previous: list[str] = field(default_factory=list)  # file:line of records kept because the new one is bad
    files: int = 0  # source files read by this run
    dry_run: bool = False  # nothing was written: the figures say what a real run would do
    waited_seconds: float = 0.0  # time spent waiting for another writer
    version: int = 0  # the index's version in the store's change log after this run
    local_index_seconds: float = 0.0  # time spent bringing this machine's persisted BM25/catalog copy up to date

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def load_papers(paths: Iterable[Path], listing_year: int, skip_invalid: bool = False
                ) -> tuple[list[Paper], int, list[SourceError]]:
    """Parse sources into papers, nothing stored (tests and tools); raise SourceErrors unless skip_invalid."""
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


@dataclass
class _Plan:
    papers: list[Paper]
    records: list[Record]  # what the records collection holds after the run
    errors: list[SourceError]
    kept_previous: list[Record]
    pruned: list[Record]


def _plan(settings: Settings, scope: Scope, parsed: Parsed, stored: list[Record], skip_invalid: bool,
          prune: bool) -> _Plan:
    """The records and papers of the index after this run."""
    outside = [r for r in stored if not scope.covers(r.path)]
    inside = [r for r in stored if scope.covers(r.path)]
    pruned = outside if prune else []
    base = [] if prune else outside
    current = list(parsed.records)
    kept = kept_for_errors(inside, parsed.errors, parsed.failed_files, current) if skip_invalid else []
    papers, build_errors = build_papers(base + kept + current, settings.listing_year)
    if build_errors and not skip_invalid:
        raise SourceErrors(build_errors)
    if build_errors:  # a record that parsed but cannot become a paper: its previous version stays too
        def failed(r: Record) -> bool:
            return any(e.path == r.path and e.line in span(r) for e in build_errors if e.line)

        current = [r for r in current if not failed(r)]
        kept_keys = {(r.path, r.line) for r in kept}
        kept += [r for r in kept_for_errors(inside, build_errors, set(), current)
                 if (r.path, r.line) not in kept_keys]
        first = build_errors
        papers, build_errors = build_papers(base + kept + current, settings.listing_year)
        build_errors = first + [e for e in build_errors if str(e) not in {str(f) for f in first}]
    return _Plan(papers, base + kept + current, parsed.errors + build_errors, kept, pruned)


def ingest(settings: Settings, paths: list[Path] | None = None, skip_invalid: bool = False,
           progress: Progress | None = None, prune: bool = False, dry_run: bool = False,
           wait: float | None = None, say: Say | None = None) -> IngestReport:
    """Add and update the papers of `paths` (default: the data folder); remove only papers their files no
    longer hold (with `prune`: also every paper from files not given). `dry_run` writes nothing."""
    t0 = time.perf_counter()
    scope, files = Scope.of(paths or [settings.data_dir])
    parsed = parse_scope(files, skip_invalid)
    if parsed.errors and not skip_invalid:
        raise SourceErrors(parsed.errors)
    if dry_run:
        return _run(settings, scope, files, parsed, skip_invalid, prune, True, progress, say, t0, lambda: None, 0.0)
    waited = {"since": 0.0}

    def on_wait(message: str) -> None:
        waited["since"] = time.perf_counter()
        if say:
            say(message)

    with lock.writer(settings, "ingest", wait, on_wait) as check:
        waited_s = time.perf_counter() - waited["since"] if waited["since"] else 0.0
        return _run(settings, scope, files, parsed, skip_invalid, prune, False, progress, say, t0, check, waited_s)


def _run(settings: Settings, scope: Scope, files: list[Path], parsed: Parsed, skip_invalid: bool, prune: bool,
         dry_run: bool, progress: Progress | None, say: Say | None, t0: float, check: Callable[[], None],
         waited: float) -> IngestReport:
    chunk_name, paper_name = store.collection_names(settings)
    try:
        client = store.open_client(settings, create=not dry_run)
    except IndexMissingError:
        client = None  # a dry run on a store not built yet: everything would be new
    cols: dict[str, Any] = {}
    committed: dict[str, store.PaperRecord] = {}
    stored: dict[str, Record] = {}
    max_batch = 5000
    try:
        if client is not None:
            names = {c if isinstance(c, str) else c.name for c in client.list_collections()}
            if not dry_run:
                cols["chunks"] = client.get_or_create_collection(chunk_name, metadata={"hnsw:space": "cosine"},
                                                                 embedding_function=None)
                cols["papers"] = client.get_or_create_collection(paper_name, embedding_function=None)
            elif paper_name in names:
                cols["papers"] = client.get_collection(paper_name, embedding_function=None)
            if store.records_name(settings) in names:  # created only when written (a failed run adds nothing)
                cols["records"] = client.get_collection(store.records_name(settings), embedding_function=None)
            max_batch = client.get_max_batch_size()
            if "papers" in cols:
                committed = store.read_papers(cols["papers"])
            if "records" in cols:
                stored = RecordStore(cols["records"], max_batch).read()
    except LabQAError:
        raise
    except Exception as exc:
        raise store.store_error(exc, settings) from exc

    stored_records = list(stored.values())
    if not stored and committed and not prune:  # built before records were kept: read its other files again
        stored_records = legacy_records((absolute(s.path) for r in committed.values() for s in r.paper.provenance),
                                        scope)
    plan = _plan(settings, scope, parsed, stored_records, skip_invalid, prune)
    papers = plan.papers
    if not papers:
        raise LabQAError("No papers found in the sources: nothing to index.")

    digests = {p.paper_id: store.paper_digest(p, CHUNKER_VERSION) for p in papers}
    todo = [p for p in papers
            if p.paper_id not in committed or committed[p.paper_id].digest != digests[p.paper_id]]
    gone = [pid for pid in committed if pid not in digests]
    removed = [RemovedPaper(pid, committed[pid].paper.title, sorted({s.path for s in committed[pid].paper.provenance}))
               for pid in gone]
    if say and removed and (prune or dry_run):
        verb = "would remove" if dry_run else "removing"
        say(f"{'--prune ' if prune else ''}{verb} {len(removed)} paper(s):\n"
            + "\n".join(f"  - {r.title} ({', '.join(r.sources)})" for r in removed))
    counts = {"chunks_added": 0, "chunks_updated": 0, "chunks_unchanged": 0, "chunks_removed": 0}
    counts["chunks_removed"] = sum(len(committed[pid].chunk_ids) for pid in gone)
    report = IngestReport(
        papers=len(papers), records=len(parsed.records), merged=sum(len(p.provenance) - 1 for p in papers),
        seconds=0.0, papers_indexed=len(todo), skipped=[str(e) for e in plan.errors],
        papers_added=sum(1 for p in todo if p.paper_id not in committed),
        papers_updated=sum(1 for p in todo if p.paper_id in committed), removed=removed,
        kept_previous=[f"{r.path}:{r.line}" for r in plan.kept_previous], files=len(files), dry_run=dry_run,
        waited_seconds=round(waited, 3), **counts)
    if dry_run:
        report.seconds = time.perf_counter() - t0
        return report

    keep: set[str] = set()  # every chunk id a current paper names
    relabel: list[Paper] = []  # same content, other provenance (e.g. the sources moved): record only
    for p in papers:
        if p.paper_id in committed and committed[p.paper_id].digest == digests[p.paper_id]:
            keep.update(committed[p.paper_id].chunk_ids)
            report.chunks_unchanged += len(committed[p.paper_id].chunk_ids)
            if committed[p.paper_id].paper.provenance != p.provenance:
                relabel.append(p)

    try:  # the change log's entry for this run goes first, so readers never miss a paper it commits
        log = changes.Writer(client, settings)
        log.begin({p.paper_id for p in todo} | {p.paper_id for p in relabel}, set(gone))
    except Exception as exc:
        raise store.store_error(exc, settings) from exc
    writer = _BatchWriter(settings, cols["chunks"], cols["papers"], max_batch)
    done = 0
    if progress:
        progress(0, len(todo))
    for batch in _batches(todo, settings.ingest_batch_papers):
        check()  # a writer that lost its lease stops before writing more
        chunks = chunk_papers(batch, writer.tokenizer, settings.chunk_tokens, settings.chunk_overlap_sentences)
        writer.write(batch, chunks, digests)
        for p in batch:
            new_ids = [c.chunk_id for c in chunks[p.paper_id]]
            keep.update(new_ids)
            old = committed[p.paper_id].chunk_ids if p.paper_id in committed else []
            for key, n in _diff_counts(old, new_ids).items():
                setattr(report, key, getattr(report, key) + n)
        done += len(batch)
        if progress:
            progress(done, len(todo))

    check()
    for i in range(0, len(relabel), max_batch):
        writer.commit(relabel[i:i + max_batch], {p.paper_id: committed[p.paper_id].chunk_ids for p in relabel}, digests)

    try:
        for i in range(0, len(gone), max_batch):
            cols["papers"].delete(ids=gone[i:i + max_batch])
        stale = sorted(store.all_ids(cols["chunks"]) - keep)
        for i in range(0, len(stale), max_batch):
            cols["chunks"].delete(ids=stale[i:i + max_batch])
        records_col = cols.get("records") or client.get_or_create_collection(store.records_name(settings),
                                                                             embedding_function=None)
        RecordStore(records_col, max_batch).replace(stored, plan.records)
        cols["papers"].modify(metadata={
            "labqa_index": json.dumps(store.index_spec(settings), sort_keys=True),
            "last_ingest": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")})
        report.version = log.commit()  # running processes see the new papers from here on
    except Exception as exc:
        raise store.store_error(exc, settings) from exc
    report.local_index_seconds = _update_local_index(settings, client, say)
    report.chunks_embedded = writer.embedded
    report.seconds = time.perf_counter() - t0
    return report


def _update_local_index(settings: Settings, client: Any, say: Say | None) -> float:
    """Bring this machine's persisted copy (catalog, chunk texts, BM25) to the new version, incrementally.
    The store is committed already: a failure here only means readers rebuild the copy, so it is a warning."""
    from rag import local_index

    t = time.perf_counter()
    try:
        local_index.sync(settings, client, say=say or (lambda m: None), reader=False)
    except Exception as exc:  # noqa: BLE001 - the index itself is fine; say so and go on
        (say or local_index.stderr)(f"warning: could not update the local index copy ({exc}); "
                                    "`labqa ask`/`serve` will rebuild it")
    return round(time.perf_counter() - t, 3)


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


__all__ = ["IngestReport", "RemovedPaper", "ingest", "load_papers"]
