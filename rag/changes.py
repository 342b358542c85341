"""The store's change log: how a running process learns, cheaply, that another one ingested papers.

One collection per index (`labqa_changes_<fingerprint>`) in the same store as the vectors, so it works in
server mode too, where the app may run on another machine than the ingest:

- `head`: the version of the index, a counter each ingest that changed something bumps. Reading it is one
  small `get` by id — the check a running process makes (at most once a second) before a question.
- one entry per version (`v000000000042`): the ids of the papers that version added or changed and of those it
  removed. A reader that holds version N applies the entries N+1 … head and reloads only those papers.

Chroma writes one collection at a time, so "the same commit" is an ordering: ingest writes the entry for
version N+1 *before* its papers (marked pending, with the papers it is about to write) and bumps `head` only
after its papers are committed. A run killed half-way leaves the pending entry; the next run adds its own
papers to it, so no paper an interrupted run wrote is ever missed by a reader that follows the log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rag.settings import Settings

HEAD = "head"
# An ingest that changes more papers than this logs "everything changed": a reader rebuilds its copy rather
# than fetch that many papers one by one (and the entry stays small).
MAX_LISTED = 20000


def log_name(settings: Settings) -> str:
    from rag.store import PREFIX, fingerprint

    return f"{PREFIX}_changes_{fingerprint(settings)}"


def entry_id(version: int) -> str:
    return f"v{version:012d}"


@dataclass(frozen=True)
class Change:
    version: int
    changed: frozenset[str]  # papers added or updated: read them again
    removed: frozenset[str]  # papers that left the index


@dataclass(frozen=True)
class Head:
    version: int
    epoch: str  # the log collection's id: a log dropped and made again is another history


def open_log(client: Any, settings: Settings, create: bool = False) -> Any | None:
    """The log collection, or None when this index has none (built before the log existed, or dropped)."""
    try:
        if create:
            return client.get_or_create_collection(log_name(settings), embedding_function=None)
        return client.get_collection(log_name(settings), embedding_function=None)
    except Exception as exc:
        from chromadb.errors import NotFoundError

        if isinstance(exc, NotFoundError):
            return None
        raise


def read_head(log: Any | None) -> Head:
    if log is None:
        return Head(0, "")
    got = log.get(ids=[HEAD], include=["metadatas"])
    version = int(got["metadatas"][0]["version"]) if got["ids"] else 0
    return Head(version, str(log.id))


def since(log: Any | None, version: int, head: int) -> list[Change] | None:
    """The changes of versions version+1 … head, or None when the log does not hold all of them."""
    if head <= version:
        return []
    if log is None:
        return None
    ids = [entry_id(v) for v in range(version + 1, head + 1)]
    out: list[Change] = []
    for i in range(0, len(ids), 1000):
        got = log.get(ids=ids[i:i + 1000], include=["metadatas"])
        if any(meta.get("everything") for meta in got["metadatas"]):
            return None
        out.extend(_change(meta) for meta in got["metadatas"])
    if len(out) != len(ids):
        return None
    return sorted(out, key=lambda c: c.version)


def _change(meta: dict[str, Any]) -> Change:
    return Change(int(meta["version"]), frozenset(json.loads(meta["changed"])), frozenset(json.loads(meta["removed"])))


def _zero(n: int) -> list[list[float]]:
    return [[0.0] for _ in range(n)]  # Chroma wants a vector per record; the log is read by id only


class Writer:
    """Used by ingest while it holds the writer lock: `begin` before writing papers, `commit` after."""

    def __init__(self, client: Any, settings: Settings) -> None:
        self.log = open_log(client, settings, create=True)
        self.head = read_head(self.log).version
        self.version = self.head + 1
        got = self.log.get(ids=[entry_id(self.version)], include=["metadatas"])
        # A pending entry left by an interrupted run: its papers may be committed already, so they stay listed.
        self.everything = bool(got["ids"] and got["metadatas"][0].get("everything"))
        self.pending = _change(got["metadatas"][0]) if got["ids"] and not self.everything \
            else Change(self.version, frozenset(), frozenset())

    def begin(self, changed: set[str], removed: set[str]) -> None:
        changed = set(changed) | set(self.pending.changed)
        removed = (set(removed) | set(self.pending.removed)) - changed
        self.pending = Change(self.version, frozenset(changed), frozenset(removed))
        self.everything = self.everything or len(changed) + len(removed) > MAX_LISTED
        if changed or removed or self.everything:
            self._write("pending")

    def commit(self) -> int:
        """Make the version visible; returns it (or the unchanged head when nothing changed)."""
        if not (self.pending.changed or self.pending.removed or self.everything):
            return self.head
        self._write("committed")
        self.log.upsert(ids=[HEAD], metadatas=[{"version": self.version}], embeddings=_zero(1))
        self.head = self.version
        return self.version

    def _write(self, status: str) -> None:
        listed = not self.everything
        meta = {"version": self.version, "status": status, "everything": self.everything,
                "changed": json.dumps(sorted(self.pending.changed) if listed else []),
                "removed": json.dumps(sorted(self.pending.removed) if listed else []),
                "at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")}
        self.log.upsert(ids=[entry_id(self.version)], metadatas=[meta], embeddings=_zero(1))
