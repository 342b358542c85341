"""Read source files into raw records with provenance. Two formats, recognised by content:

- listing: records of three lines — header (`[score]CAT` + date + optional `Code`), title glued to authors,
  abstract;
- abstracts: one `Abstract:<text>` line per record, blank lines between groups.

Nothing here touches the index: a bad file fails before anything is written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from rag.errors import SourceError

CATEGORIES = {"CV": "cs.CV", "IR": "cs.IR", "LG": "cs.LG", "CL": "cs.CL", "AI": "cs.AI", "CR": "cs.CR"}
MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
HEADER_RE = re.compile(
    rf"^(?P<score>\d+(?:\.\d+)?)?(?P<cat>[A-Z]{{2}})(?P<date>(?:{MONTHS}) \d{{1,2}}(?:, (?P<year>\d{{4}}))?)"
    r"(?P<code>Code)?$"
)
HEADER_EXPECTED = "a header like 'CVNov 23, 2022Code' or '54.6LGMay 30': [score]CAT, date, optional 'Code'"
ABSTRACT_PREFIX = "Abstract:"


@dataclass(frozen=True)
class ListingRecord:
    path: str
    line: int  # line of the header
    score: float | None
    category: str
    date: str
    year: int | None
    has_code: bool
    title_line: str
    abstract: str


@dataclass(frozen=True)
class AbstractRecord:
    path: str
    line: int
    abstract: str


Record = ListingRecord | AbstractRecord


def source_files(paths: Iterable[Path]) -> list[Path]:
    """Expand folders to the text files in them (sorted, so ingest order is stable)."""
    files: list[Path] = []
    for p in paths:
        if not p.exists():
            raise SourceError(str(p), None, "no such file or folder")
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith("."))
            if not found:
                raise SourceError(str(p), None, "folder has no source files")
            files.extend(found)
        else:
            files.append(p)
    return files


def read_text(path: Path) -> list[str]:
    """The file's lines; binary, non-UTF-8 and empty files are errors that name the spot."""
    raw = path.read_bytes()
    if b"\x00" in raw:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        raise SourceError(str(path), line, "binary file (NUL byte)", "UTF-8 text")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SourceError(str(path), line, f"not UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
                          "UTF-8 text") from None
    if not text.strip():
        raise SourceError(str(path), None, "empty file", "a paper listing or 'Abstract:' lines")
    return text.removeprefix("\ufeff").splitlines()


def parse_file(path: Path) -> Iterator[Record | SourceError]:
    """Records of one file; a bad record is yielded as a SourceError so the caller decides
    (fail on the first batch of errors, or skip them with --skip-invalid). File-level problems raise."""
    lines = read_text(path)
    nonblank = [ln for ln in lines if ln.strip()]
    if all(ln.startswith(ABSTRACT_PREFIX) for ln in nonblank):
        yield from _parse_abstracts(str(path), lines)
    else:
        yield from _parse_listing(str(path), lines)


def _parse_abstracts(path: str, lines: list[str]) -> Iterator[AbstractRecord | SourceError]:
    for i, ln in enumerate(lines, start=1):
        if not ln.strip():
            continue
        text = ln[len(ABSTRACT_PREFIX):].strip()
        if not text:
            yield SourceError(path, i, "missing abstract after 'Abstract:'", "'Abstract:' followed by the text")
        else:
            yield AbstractRecord(path, i, text)


def _parse_listing(path: str, lines: list[str]) -> Iterator[ListingRecord | SourceError]:
    n, i = len(lines), 0

    def is_header(j: int) -> bool:
        return j < n and HEADER_RE.match(lines[j].strip()) is not None

    while i < n:
        if not lines[i].strip():
            i += 1
            continue
        m = HEADER_RE.match(lines[i].strip())
        if m is None:
            yield SourceError(path, i + 1, f"header does not parse: {lines[i][:80]!r}", HEADER_EXPECTED)
            i += 1
            while i < n and not is_header(i):  # resynchronise on the next header
                i += 1
            continue
        start = i
        cat = m["cat"]
        if cat not in CATEGORIES:
            yield SourceError(path, start + 1, f"unknown category {cat!r}",
                              "one of " + ", ".join(CATEGORIES))
            i = _next_header(lines, i + 1, is_header)
            continue
        if i + 1 >= n or not lines[i + 1].strip() or is_header(i + 1):
            yield SourceError(path, start + 2, "missing title line after the header",
                              "the title followed directly by up to three authors and 'et al.'")
            i = _next_header(lines, i + 1, is_header)
            continue
        if i + 2 >= n or not lines[i + 2].strip() or is_header(i + 2):
            yield SourceError(path, start + 3, "missing abstract (the record has a header and a title only)",
                              "the abstract on the line after the title")
            i = _next_header(lines, i + 2, is_header)
            continue
        yield ListingRecord(
            path=path, line=start + 1,
            score=float(m["score"]) if m["score"] else None,
            category=CATEGORIES[cat], date=m["date"], year=int(m["year"]) if m["year"] else None,
            has_code=m["code"] is not None, title_line=lines[i + 1].strip(), abstract=lines[i + 2].strip(),
        )
        i += 3


def _next_header(lines: list[str], j: int, is_header) -> int:  # type: ignore[no-untyped-def]
    while j < len(lines) and not is_header(j):
        j += 1
    return j
