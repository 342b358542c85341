"""CSV and JSONL → MetaRecords. The columns (CSV header / JSON keys) are documented in the README:

  title (required), abstract (required), authors, year or date, url, category, code,
  doi, arxiv_id, venue, keywords

`authors` and `keywords` are `;`-separated in CSV (a JSON list or a `;`-separated string in JSONL).
`category` may hold several arXiv categories separated by `;` (primary first). `code` is yes/no/true/false/1/0
or a URL (the code's URL, which then counts as code released). Unknown columns are reported, never dropped
silently."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from ingest.meta_records import MetaRecord, clean_arxiv_id, clean_doi
from rag.errors import SourceError

COLUMNS = ("title", "abstract", "authors", "year", "date", "url", "category", "code", "doi", "arxiv_id",
           "venue", "keywords")
REQUIRED = ("title", "abstract")
TRUE = {"yes", "y", "true", "1", "x"}
FALSE = {"no", "n", "false", "0", ""}
EXPECTED = "columns " + ", ".join(COLUMNS) + " (title and abstract required)"


def _unknown(path: str, line: int, keys: Iterable[str]) -> SourceError | None:
    unknown = [k for k in keys if k not in COLUMNS]
    if unknown:
        return SourceError(path, line, "unknown column(s) " + ", ".join(repr(k) for k in unknown)
                           + ": their values would be lost", EXPECTED)
    return None


def parse_csv(path: str, text: str) -> Iterator[MetaRecord | SourceError]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise SourceError(path, None, "empty CSV file", EXPECTED) from None
    header = [h.strip().lower().lstrip("\ufeff") for h in header]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise SourceError(path, 1, "missing column(s) " + ", ".join(missing), EXPECTED)
    if err := _unknown(path, 1, header):
        yield err
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            yield SourceError(path, line, f"row has {len(row)} cells, the header has {len(header)}",
                              "one cell per column (quote cells that contain commas)")
            continue
        yield from _one(path, line, "csv", dict(zip(header, row, strict=True)))


def parse_jsonl(path: str, lines: Iterable[tuple[int, str]]) -> Iterator[MetaRecord | SourceError]:
    reported: set[str] = set()
    for line, text in lines:
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            yield SourceError(path, line, f"not JSON ({exc.msg} at column {exc.colno})", "one JSON object per line")
            continue
        if not isinstance(obj, dict):
            yield SourceError(path, line, "line is not a JSON object", "one JSON object per line")
            continue
        obj = {str(k).strip().lower(): v for k, v in obj.items()}
        new = [k for k in obj if k not in COLUMNS and k not in reported]
        if new and (err := _unknown(path, line, new)):
            reported.update(new)
            yield err
        missing = [c for c in REQUIRED if not obj.get(c)]
        if missing:
            yield SourceError(path, line, "missing " + ", ".join(missing), EXPECTED)
            continue
        yield from _one(path, line, "jsonl", obj)


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [v.strip() for v in str(value).split(";") if v.strip()]


def _one(path: str, line: int, kind: str, row: dict[str, Any]) -> Iterator[MetaRecord | SourceError]:
    title = " ".join(str(row.get("title") or "").split())
    abstract = " ".join(str(row.get("abstract") or "").split())
    if not title or not abstract:
        yield SourceError(path, line, "empty " + ("title" if not title else "abstract"), EXPECTED)
        return
    year = None
    date = str(row.get("date") or "").strip() or None
    raw_year = str(row.get("year") or "").strip()
    if re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", raw_year):  # an ISO date in the year column
        date, raw_year = date or raw_year, raw_year[:4]
    raw_year = raw_year or (date[:4] if date else "")
    if raw_year:
        if not re.fullmatch(r"\d{4}", raw_year):
            yield SourceError(path, line, f"year {raw_year!r} is not a year", "a four-digit year or an ISO date")
            return
        year = int(raw_year)
    code = row.get("code")
    code_text = str(code).strip() if code is not None else ""
    urls = _list(row.get("url"))
    if code_text.startswith(("http://", "https://")):
        has_code = True
        urls.append(code_text)
    elif isinstance(code, bool):
        has_code = code
    elif code_text.lower() in TRUE | FALSE:
        has_code = code_text.lower() in TRUE
    else:
        yield SourceError(path, line, f"code {code_text!r} is neither yes/no nor a URL", "yes, no or the code's URL")
        return
    yield MetaRecord(
        path=path, line=line, kind=kind, key=f"row {line}", title=title, authors=_list(row.get("authors")),
        abstract=abstract, year=year, date=date, doi=clean_doi(str(row.get("doi") or "")),
        arxiv_id=clean_arxiv_id(str(row.get("arxiv_id") or "")), urls=urls,
        categories=_list(row.get("category")), venue=str(row.get("venue") or "").strip() or None,
        keywords=_list(row.get("keywords")), has_code=has_code,
    )
