"""Read source files into raw records with provenance. Formats are recognised by content (the extension only
breaks ties), so a `.txt` BibTeX export or an arXiv response saved without extension still reads right:

- PDF (`%PDF-` magic) → ingest.pdf: full text by page;
- arXiv API Atom feed (XML with the Atom namespace) → ingest.arxiv;
- JSONL (first character `{`) and CSV (a header row naming `title`) → ingest.tabular;
- BibTeX (`.bib`, or an `@type{` entry among the first lines) → ingest.bibtex;
- abstracts: one `Abstract:<text>` line per record, blank lines between groups;
- listing (anything else): records of three lines — header (`[score]CAT` + date + optional `Code`), title
  glued to authors, abstract.

Nothing here touches the index: a bad file fails before anything is written.
"""

from __future__ import annotations

import itertools
import re
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ingest.meta_records import MetaRecord, PdfRecord
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


Record = ListingRecord | AbstractRecord | MetaRecord | PdfRecord


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


def read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of a UTF-8 file, read as a stream so large sources never sit in memory whole.
    Binary and non-UTF-8 content are errors that name the line."""
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if b"\x00" in raw:
                raise SourceError(str(path), number, "binary file (NUL byte)", "UTF-8 text")
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise SourceError(str(path), number, f"not UTF-8 (byte 0x{raw[exc.start]:02x} at column "
                                  f"{exc.start + 1})", "UTF-8 text") from None
            if number == 1:
                text = text.removeprefix("\ufeff")
            yield number, text.rstrip("\r\n")


HEAD_BYTES = 4096
BIBTEX_ENTRY_RE = re.compile(r"^\s*@\s*[A-Za-z]+\s*[{(]", re.M)


def detect_format(path: Path, head: bytes) -> str:
    """'pdf', 'arxiv', 'jsonl', 'csv', 'bibtex' or 'text' (a listing or an abstracts file)."""
    from ingest.arxiv import looks_like_arxiv_atom
    from ingest.pdf import is_pdf

    if is_pdf(head):
        return "pdf"
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    stripped = text.lstrip()
    if stripped.startswith("<"):
        return "arxiv" if looks_like_arxiv_atom(text) else "xml"
    if stripped.startswith("{"):
        return "jsonl"
    ext = path.suffix.lower()
    if ext == ".bib" or BIBTEX_ENTRY_RE.search("\n".join(text.splitlines()[:40])):
        return "bibtex"
    first = stripped.splitlines()[0] if stripped else ""
    if ext in (".csv", ".tsv") or ("," in first and "title" in [c.strip().strip('"').lower() for c in first.split(",")]):
        return "csv"
    return "text"


def parse_file(path: Path) -> Iterator[Record | SourceError]:
    """Records of one file; a bad record is yielded as a SourceError so the caller decides (fail on the
    first batch of errors, or skip them with --skip-invalid). File-level problems raise."""
    with path.open("rb") as fh:
        head = fh.read(HEAD_BYTES)
    kind = detect_format(path, head)
    if kind == "pdf":
        from ingest.pdf import parse_pdf

        yield parse_pdf(path)
        return
    if kind == "xml":
        raise SourceError(str(path), None, "XML file that is not an Atom feed",
                          "an arXiv API response (Atom) — other XML formats are not supported")
    if kind == "arxiv":
        from ingest.arxiv import parse_arxiv

        yield from parse_arxiv(str(path), path.read_bytes())
        return
    if kind == "jsonl":
        from ingest.tabular import parse_jsonl

        yield from parse_jsonl(str(path), read_lines(path))
        return
    if kind in ("bibtex", "csv"):
        text = "\n".join(t for _, t in read_lines(path))  # UTF-8 checked line by line, errors name the line
        if kind == "csv":
            from ingest.tabular import parse_csv

            yield from parse_csv(str(path), text)
        else:
            from ingest.bibtex import parse_bibtex

            if not text.strip():
                raise SourceError(str(path), None, "empty file", "BibTeX entries")
            yield from parse_bibtex(str(path), text)
        return
    yield from _parse_text(path)


def _parse_text(path: Path) -> Iterator[Record | SourceError]:
    """The first non-blank line decides: `Abstract:` → abstracts-only file, else a listing."""
    lines = read_lines(path)
    for number, text in lines:
        if text.strip():
            first = (number, text)
            break
    else:
        raise SourceError(str(path), None, "empty file", "a paper listing or 'Abstract:' lines")
    rest = itertools.chain([first], lines)
    if first[1].startswith(ABSTRACT_PREFIX):
        yield from _parse_abstracts(str(path), rest)
    else:
        yield from _parse_listing(str(path), rest)


def _parse_abstracts(path: str, lines: Iterable[tuple[int, str]]) -> Iterator[AbstractRecord | SourceError]:
    for i, ln in lines:
        if not ln.strip():
            continue
        if not ln.startswith(ABSTRACT_PREFIX):
            yield SourceError(path, i, f"line does not start with 'Abstract:': {ln[:60]!r}",
                              "every line of an abstracts file to be 'Abstract:' followed by the text")
            continue
        text = ln[len(ABSTRACT_PREFIX):].strip()
        if not text:
            yield SourceError(path, i, "missing abstract after 'Abstract:'", "'Abstract:' followed by the text")
        else:
            yield AbstractRecord(path, i, text)


def _is_header(text: str) -> bool:
    return HEADER_RE.match(text.strip()) is not None


def _parse_listing(path: str, lines: Iterator[tuple[int, str]]) -> Iterator[ListingRecord | SourceError]:
    """Three-line records, blank lines allowed between them. Reads ahead at most three lines; after a bad
    record it resynchronises on the next line that looks like a header."""
    window: deque[tuple[int, str]] = deque()

    def fill(n: int) -> None:
        while len(window) < n:
            nxt = next(lines, None)
            if nxt is None:
                return
            window.append(nxt)

    def skip_to_header() -> None:
        fill(1)
        while window and not _is_header(window[0][1]):
            window.popleft()
            fill(1)

    while True:
        fill(1)
        if not window:
            return
        line, text = window[0]
        if not text.strip():
            window.popleft()
            continue
        m = HEADER_RE.match(text.strip())
        if m is None:
            yield SourceError(path, line, f"header does not parse: {text[:80]!r}", HEADER_EXPECTED)
            window.popleft()
            skip_to_header()
            continue
        window.popleft()
        fill(2)
        title = window[0] if window else None
        abstract = window[1] if len(window) > 1 else None
        if m["cat"] not in CATEGORIES:
            yield SourceError(path, line, f"unknown category {m['cat']!r}", "one of " + ", ".join(CATEGORIES))
            skip_to_header()
            continue
        if title is None or not title[1].strip() or _is_header(title[1]):
            yield SourceError(path, line + 1, "missing title line after the header",
                              "the title followed directly by up to three authors and 'et al.'")
            skip_to_header()
            continue
        if abstract is None or not abstract[1].strip() or _is_header(abstract[1]):
            yield SourceError(path, line + 2, "missing abstract (the record has a header and a title only)",
                              "the abstract on the line after the title")
            window.popleft()
            skip_to_header()
            continue
        window.popleft()
        window.popleft()
        yield ListingRecord(
            path=path, line=line,
            score=float(m["score"]) if m["score"] else None,
            category=CATEGORIES[m["cat"]], date=m["date"], year=int(m["year"]) if m["year"] else None,
            has_code=m["code"] is not None, title_line=title[1].strip(), abstract=abstract[1].strip(),
        )
