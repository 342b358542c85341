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
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from rag.errors import IndexMissingError, StoreError
from rag.settings import Settings
from rag.types import Chunk, Paper

SCHEMA = 1  # bump when the stored layout changes: the fingerprint then points at fresh collections
PREFIX = "labqa"
# Metadata llama-index puts in front of the passage when embedding (and BM25 indexes): what helps retrieval.
EMBED_KEYS = ("title", "authors", "year")


def index_spec(settings: Settings) -> dict[str, object]:
    """What decides the vectors of an index: embedding model (and precision) and chunking."""
    from rag.embedding import model_id

    return {"model": model_id(), "chunk_tokens": settings.chunk_tokens, "overlap": settings.chunk_overlap_sentences,
            "precision": settings.embed_precision, "schema": SCHEMA}


def fingerprint(settings: Settings) -> str:
    """Embedding model + chunking decide the vectors; changing either builds a new index, never mixes."""
    spec_fields = index_spec(settings)
    if spec_fields["precision"] == "fp32":  # named only when set, so existing fp32 indexes keep their name
        del spec_fields["precision"]
    spec = json.dumps(spec_fields, sort_keys=True)
    return hashlib.sha1(spec.encode()).hexdigest()[:10]


def describe_spec(spec: dict[str, object] | None) -> str:
    if not spec:
        return "settings not recorded (built by an earlier LabQA)"
    return (f"chunk_tokens={spec.get('chunk_tokens')}, overlap={spec.get('overlap')}, "
            f"precision={spec.get('precision', 'fp32')}, model={spec.get('model')}")


def where(settings: Settings) -> str:
    return settings.chroma_url or str(settings.home / "chroma")


def open_client(settings: Settings, create: bool = False) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    try:
        if settings.chroma_url:
            url = urlparse(settings.chroma_url)
            if url.scheme not in ("http", "https") or not url.hostname:
                raise StoreError(f"LABQA_CHROMA_URL={settings.chroma_url!r} is not a URL like http://127.0.0.1:8000")
            client = chromadb.HttpClient(host=url.hostname, port=url.port or 8000, ssl=url.scheme == "https",
                                         settings=chroma_settings)
            client.heartbeat()
            return client
        path = settings.home / "chroma"
        if not create and not (path / "chroma.sqlite3").exists():
            raise IndexMissingError(str(path))
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(unusable_home(path, exc)) from None
        try:
            return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
        except BaseException:
            # chromadb caches a client's system per folder *before* starting it, so a failed start (say, a
            # read-only folder) would leave a broken one that every later open in this process reuses ("no
            # attribute 'bindings'") even once the folder is fine again. Forget it, and try once more.
            _forget_system(path)
            try:
                return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
            except BaseException:
                _forget_system(path)
                raise
    except StoreError:
        raise
    except Exception as exc:  # chromadb raises many types; all mean "the store is not usable"
        raise store_error(exc, settings) from exc
    except BaseException as exc:  # a Rust panic in chromadb (pyo3 PanicException) is a BaseException
        if type(exc).__name__ != "PanicException":
            raise
        raise store_error(exc, settings) from None


def forget_client(settings: Settings) -> None:
    """Make the next open_client of the embedded store a fresh one (it then sees other processes' writes)."""
    _forget_system(settings.home / "chroma")


def _forget_system(path: Path) -> None:
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient._identifier_to_system.pop(str(path), None)


def unusable_home(path: Path, exc: OSError) -> str:
    """Why a folder cannot be created, named as it is (not "disk full" for /proc)."""
    existing = next((p for p in path.parents if p.exists()), None)
    virtual = existing is not None and _is_virtual(existing)
    why = (f"{existing} is a virtual file system ({_fs_type(existing)}) that cannot hold files" if virtual
           else exc.strerror or str(exc))
    return (f"Cannot create the store folder {path}: {why}. Set LABQA_HOME to a folder this user can write "
            "(default: .labqa/ in the checkout).")


def _fs_type(path: Path) -> str:
    """The file system type of the mount holding path (from /proc/self/mounts), or "unknown"."""
    best, kind = "", "unknown"
    try:
        for line in Path("/proc/self/mounts").read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and (str(path) + "/").startswith(parts[1].rstrip("/") + "/") and len(parts[1]) >= len(best):
                best, kind = parts[1], parts[2]
    except OSError:
        pass
    return kind


VIRTUAL_FS = {"proc", "sysfs", "devpts", "cgroup", "cgroup2", "debugfs", "securityfs", "configfs", "tracefs",
              "pstore", "bpf", "mqueue", "fusectl", "binfmt_misc"}


def _is_virtual(path: Path) -> bool:
    """A kernel interface (/proc, /sys, …), not storage: its "free space" of 0 says nothing about a disk."""
    return _fs_type(path) in VIRTUAL_FS


# What Chroma's messages say about the cause (SQLite result codes, OS errors); checked in this order.
READ_ONLY_SIGNS = ("readonly", "read-only", "permission denied", "os error 13", "os error 30", "errno 13",
                   "errno 30")
FULL_SIGNS = ("disk is full", "no space left", "os error 28", "errno 28", "quota exceeded", "file too large",
              "os error 27", "errno 27")
CORRUPT_SIGNS = ("not a database", "malformed", "error loading hnsw", "corrupt", "unpickling")
CONNECT_SIGNS = ("could not connect", "connection refused", "connecterror", "connection reset", "timed out",
                 "timeout", "remoteprotocolerror", "server disconnected", "name or service not known")
LOW_SPACE = 64 * 2**20  # below this much free space, a failed write is put down to a full disk


def store_error(exc: BaseException, settings: Settings) -> StoreError:
    """A Chroma failure as a StoreError that says what is wrong and how to fix it. Chroma often reports a
    failed write only as "Error in compaction", so when its message names no cause, the store's folder is
    looked at (free space, file size limit, write permission) before the store is called damaged."""
    text = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
    low = text.lower()
    if settings.chroma_url:
        if any(s in low for s in CONNECT_SIGNS):
            return StoreError(
                f"Cannot reach the Chroma server at {settings.chroma_url} ({text}). Start it with "
                "`chroma run --path DIR --host HOST --port PORT` (the same DIR as before, so the index is there), "
                "or unset LABQA_CHROMA_URL to use the embedded store under LABQA_HOME.")
        return StoreError(
            f"The Chroma server at {settings.chroma_url} failed ({text}). Check the server's log: a full disk, "
            "a read-only or damaged --path folder. If its folder was lost or damaged, start the server on an "
            "empty folder and run `labqa ingest` to rebuild the index.")
    path = settings.home / "chroma"
    if any(s in low for s in READ_ONLY_SIGNS):
        hint = _read_only_hint(path)
    elif any(s in low for s in FULL_SIGNS):
        hint = _diagnose(path) or _full_hint(path, None)
    elif any(s in low for s in CORRUPT_SIGNS):
        hint = _corrupt_hint(path)
    else:
        hint = _diagnose(path) or (
            f"If this persists, the store may be damaged: delete {path} and run `labqa ingest` to rebuild it "
            "(your source files are not touched).")
    return StoreError(f"The Chroma store at {path} failed ({text}). {hint}")


def _read_only_hint(path: Path) -> str:
    return (f"The store folder is read-only: make it writable (e.g. `chmod -R u+w {path}`) and run the command "
            "again (Chroma writes even to answer questions). The index in it is intact.")


def _full_hint(path: Path, free: int | None) -> str:
    space = f" ({free / 2**20:.1f} MB free)" if free is not None else ""
    return (f"The disk holding {path} is full{space}: free some space and run the command again. The index "
            "is intact, and an interrupted `labqa ingest` resumes where it stopped.")


def _corrupt_hint(path: Path) -> str:
    return (f"The store is damaged. Rebuild it: delete the folder (`rm -rf {path}`) and run `labqa ingest` "
            "(your source files are not touched).")


def _diagnose(path: Path) -> str | None:
    """Why a write to the store folder may have failed, from the folder itself; None when nothing is wrong."""
    import resource
    import shutil

    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    if existing is None:
        return None
    if _is_virtual(existing):
        return (f"{existing} is on a virtual file system ({_fs_type(existing)}) that cannot hold files: set "
                "LABQA_HOME to a normal folder.")
    try:
        free = shutil.disk_usage(existing).free
    except OSError:
        free = None
    if free is not None and free < LOW_SPACE:
        return _full_hint(path, free)
    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    if soft != resource.RLIM_INFINITY:
        largest = max((f.stat().st_size for f in path.rglob("*") if f.is_file()), default=0)
        if largest + 2**20 >= soft:
            return (f"The store's files cannot grow: this process may write files of at most {soft:,} bytes "
                    f"(ulimit -f). Raise the limit and run the command again. The index is intact, and an "
                    "interrupted `labqa ingest` resumes where it stopped.")
    if not os.access(existing, os.W_OK):
        return _read_only_hint(path)
    return None


def collection_names(settings: Settings) -> tuple[str, str]:
    fp = fingerprint(settings)
    return f"{PREFIX}_chunks_{fp}", f"{PREFIX}_papers_{fp}"


def records_name(settings: Settings) -> str:
    """The source records the index was built from (see ingest.records)."""
    return f"{PREFIX}_records_{fingerprint(settings)}"


def missing_index_error(settings: Settings, client: Any) -> StoreError:
    """No index for the current settings: say which settings, and which indexes the store does hold."""
    from rag.indexes import list_indexes

    try:
        others = [i for i in list_indexes(client) if i.name != fingerprint(settings)]
    except Exception:
        others = []
    msg = (f"No index for the current settings ({describe_spec(index_spec(settings))}; index "
           f"{fingerprint(settings)}) at {where(settings)}. Run `labqa ingest` to build it.")
    if others:
        listed = "; ".join(f"{i.name}: {describe_spec(i.spec)}, {i.papers} papers" for i in others)
        msg += (f" The store holds other indexes, kept as they are ({listed}): set the settings back to use one, "
                "see `labqa index list`, or remove one with `labqa index drop NAME`.")
    return StoreError(msg)


def chunk_node(chunk: Chunk, paper: Paper, embedding: list[float] | None = None) -> Any:
    from llama_index.core.schema import TextNode

    meta: dict[str, Any] = {
        "paper_id": paper.paper_id, "title": paper.title, "authors": paper.authors_for_embedding,
        "category": paper.category or "", "has_code": paper.has_code, "position": chunk.position,
    }
    if paper.year:
        meta["year"] = paper.year
    if chunk.page is not None:  # Chroma rejects None values: only PDF body chunks carry a page
        meta["page"] = chunk.page
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
        from chromadb.errors import NotFoundError

        if isinstance(exc, NotFoundError):  # the store works but holds no index built with these settings
            raise missing_index_error(settings, client) from exc
        raise store_error(exc, settings) from exc
    return sorted((r.paper for r in records.values()),
                  key=lambda p: min((s.path, s.line) for s in p.provenance) if p.provenance else ("~", 0))
