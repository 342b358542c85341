"""The indexes a store holds: one per fingerprint (embedding model, precision, chunking), each a set of
collections `labqa_<kind>_<fingerprint>`. Trying other settings builds another index beside the others;
nothing removes one but `labqa index drop NAME`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from rag import store
from rag.errors import StoreError

KINDS = ("chunks", "papers", "records", "changes")
VECTOR_DIM = 384  # all-MiniLM-L6-v2


@dataclass
class IndexInfo:
    name: str  # the fingerprint, as `labqa index drop` takes it
    spec: dict[str, Any] | None  # the settings it was built with (None: built before they were recorded)
    papers: int
    chunks: int
    vector_mb: float  # the chunk vectors' size (float32), the bulk of an index on disk
    last_ingest: str | None
    collections: list[str]
    current: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "settings": self.spec, "papers": self.papers, "chunks": self.chunks,
                "vector_mb": round(self.vector_mb, 2), "last_ingest": self.last_ingest,
                "collections": self.collections, "current": self.current}


def _names(client: Any) -> list[str]:
    return [c if isinstance(c, str) else c.name for c in client.list_collections()]


def _fingerprint_of(name: str) -> str | None:
    for kind in KINDS:
        head = f"{store.PREFIX}_{kind}_"
        if name.startswith(head):
            return name[len(head):]
    return None


def list_indexes(client: Any, current: str | None = None) -> list[IndexInfo]:
    groups: dict[str, list[str]] = {}
    for name in _names(client):
        fp = _fingerprint_of(name)
        if fp:
            groups.setdefault(fp, []).append(name)
    out = []
    for fp, names in sorted(groups.items()):
        papers = chunks = 0
        spec = last = None
        for name in names:
            col = client.get_collection(name, embedding_function=None)
            if name.startswith(f"{store.PREFIX}_papers_"):
                papers = col.count()
                meta = col.metadata or {}
                spec = json.loads(meta["labqa_index"]) if "labqa_index" in meta else None
                last = meta.get("last_ingest")
            elif name.startswith(f"{store.PREFIX}_chunks_"):
                chunks = col.count()
        out.append(IndexInfo(fp, spec, papers, chunks, chunks * VECTOR_DIM * 4 / 2**20, last, sorted(names),
                             current=fp == current))
    return out


def drop_index(client: Any, name: str) -> IndexInfo:
    """Delete every collection of index `name`; an unknown name is an error listing the known ones."""
    found = {i.name: i for i in list_indexes(client)}
    if name not in found:
        known = ", ".join(found) or "none"
        raise StoreError(f"No index named {name!r} in this store (indexes: {known}). See `labqa index list`.")
    for col in found[name].collections:
        client.delete_collection(col)
    return found[name]


__all__ = ["IndexInfo", "drop_index", "list_indexes"]
