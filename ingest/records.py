"""The source records an index was built from, kept in the store so that ingest can be additive.

Papers are built from *all* records at once (a listing entry in one file and another version of its
abstract in a second file make one paper), so ingesting one file needs the records of every other file.
They are kept in a collection next to the index (`labqa_records_<fingerprint>`), one entry per record,
keyed by file and line. An ingest replaces the records of the files in its scope and keeps the rest:

- a file given (or found in a folder given) is in scope: its stored records are replaced by what it holds
  now, so a paper leaves the index only when the file it came from no longer has it;
- a folder given also covers stored records of files under it that are gone from it;
- `--prune` puts every other stored record out, so the index mirrors exactly the paths given.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ingest.meta_records import MetaRecord, PdfRecord
from ingest.sources import AbstractRecord, ListingRecord, Record, parse_file, source_files
from rag.errors import LabQAError, SourceError


def absolute(path: Path | str) -> str:
    """One spelling per file (`data/x.txt` and `/repo/data/x.txt` are the same source); symlinks are kept
    as given, since the user named them."""
    return os.path.abspath(os.fspath(path))


def record_key(rec: Record) -> str:
    return hashlib.sha1(f"{rec.path}\0{rec.line}".encode()).hexdigest()[:20]


RECORD_TYPES: dict[str, type] = {"listing": ListingRecord, "abstract": AbstractRecord, "meta": MetaRecord,
                                  "pdf": PdfRecord}


def encode(rec: Record) -> str:
    name = next(n for n, t in RECORD_TYPES.items() if isinstance(rec, t))
    return json.dumps({"record": name, "fields": asdict(rec)}, ensure_ascii=False, sort_keys=True)


def decode(text: str) -> Record:
    d = json.loads(text)
    if "record" not in d:  # the first layout: the two seed record types with a "kind" key
        kind = d.pop("kind")
        return ListingRecord(**d) if kind == "listing" else AbstractRecord(**d)
    return RECORD_TYPES[d["record"]](**d["fields"])


def span(rec: Record) -> range:
    """The lines a record occupies (a listing entry: header, title, abstract)."""
    return range(rec.line, rec.line + (3 if isinstance(rec, ListingRecord) else 1))


@dataclass(frozen=True)
class Scope:
    """What an ingest speaks for: the files it read and the folders it was given."""

    files: frozenset[str]
    folders: tuple[str, ...]

    @classmethod
    def of(cls, paths: Iterable[Path]) -> tuple[Scope, list[Path]]:
        paths = list(paths)
        files = [Path(absolute(f)) for f in source_files(paths)]
        folders = tuple(absolute(p) for p in paths if p.is_dir())
        return cls(frozenset(str(f) for f in files), folders), files

    def covers(self, path: str) -> bool:
        return path in self.files or any(path.startswith(d.rstrip(os.sep) + os.sep) for d in self.folders)


@dataclass
class Parsed:
    """What the files in scope hold now."""

    records: list[Record] = field(default_factory=list)
    errors: list[SourceError] = field(default_factory=list)
    failed_files: set[str] = field(default_factory=set)  # files that could not be read at all


def parse_scope(files: list[Path], skip_invalid: bool) -> Parsed:
    """Every record of every file; bad records are collected. A file that cannot be read at all (binary,
    not UTF-8) raises, unless skip_invalid, where it is skipped whole (and keeps its stored records)."""
    out = Parsed()
    for f in files:
        mine: list[Record] = []
        try:
            for item in parse_file(f):
                if isinstance(item, SourceError):
                    out.errors.append(item)
                else:
                    mine.append(item)
        except SourceError as exc:
            if not skip_invalid:
                raise
            out.errors.append(exc)
            out.failed_files.add(str(f))
            continue
        out.records.extend(mine)
    return out


def kept_for_errors(stored: Iterable[Record], errors: Iterable[SourceError], failed_files: set[str],
                    current: Iterable[Record]) -> list[Record]:
    """Stored records that stay because their new version is bad (--skip-invalid): every record of a file
    that could not be read, and the record that sat where a bad record now is (same file, a line of its
    span), unless a good record took that line. The previous version stays until the file is fixed."""
    bad_lines: dict[str, set[int]] = {}
    for e in errors:
        if e.line is not None:
            bad_lines.setdefault(e.path, set()).add(e.line)
    taken = {(r.path, r.line) for r in current}
    out = []
    for r in stored:
        if r.path in failed_files:
            out.append(r)
        elif (r.path, r.line) not in taken and any(ln in bad_lines.get(r.path, ()) for ln in span(r)):
            out.append(r)
    return out


class RecordStore:
    """The records collection of one index. Chroma wants a vector per entry: records are looked up by id
    and by path, never by vector, so each gets a one-dimensional zero."""

    def __init__(self, collection: Any, max_batch: int) -> None:
        self.col, self.max_batch = collection, max_batch

    def read(self, page: int = 5000) -> dict[str, Record]:
        out: dict[str, Record] = {}
        offset = 0
        while True:
            got = self.col.get(include=["metadatas"], limit=page, offset=offset)
            for key, meta in zip(got["ids"], got["metadatas"], strict=True):
                out[key] = decode(meta["json"])
            if len(got["ids"]) < page:
                return out
            offset += page

    def replace(self, stored: dict[str, Record], wanted: list[Record]) -> None:
        """Make the collection hold exactly `wanted`, writing only what changed."""
        new = {record_key(r): r for r in wanted}
        gone = [k for k in stored if k not in new]
        changed = [(k, r) for k, r in new.items() if k not in stored or stored[k] != r]
        for i in range(0, len(changed), self.max_batch):
            part = changed[i:i + self.max_batch]
            self.col.upsert(ids=[k for k, _ in part],
                            metadatas=[{"path": r.path, "json": encode(r)} for _, r in part],
                            embeddings=[[0.0] for _ in part])
        for i in range(0, len(gone), self.max_batch):
            self.col.delete(ids=gone[i:i + self.max_batch])


def legacy_records(paths: Iterable[str], scope: Scope) -> list[Record]:
    """An index built before records were kept: read its other source files again, once. A file that is
    gone cannot be read back, so the user is asked for a full ingest instead of losing its papers."""
    out: list[Record] = []
    for path in sorted(set(paths)):
        if scope.covers(path):
            continue
        if not Path(path).is_file():
            raise LabQAError(
                f"This index was built by an earlier LabQA that did not keep its source records, and one of its "
                f"sources, {path}, no longer exists, so its papers cannot be kept apart from this ingest. Ingest "
                "all the sources once with `labqa ingest --prune PATH ...` (it lists what it removes; add "
                "`--dry-run` to see that first).")
        for item in parse_file(Path(path)):
            if not isinstance(item, SourceError):
                out.append(item)
    return out


__all__ = ["Parsed", "RecordStore", "Scope", "absolute", "kept_for_errors", "legacy_records", "parse_scope"]
