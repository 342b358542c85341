"""arXiv API / export Atom feeds → MetaRecords, with feedparser. Handles both layouts the API has served:
the older one (namespaces declared on each arxiv: element, http links, `dx.doi.org` DOI links) and the
current one (namespaces on <feed>, https links, no DOI link). Every author, all categories (primary
first, any archive of the taxonomy), DOI, journal reference and links are kept."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

from ingest.meta_records import MetaRecord, clean_arxiv_id, clean_doi
from rag.errors import SourceError

ATOM_NS = "http://www.w3.org/2005/Atom"
ARXIV_NS = "http://arxiv.org/schemas/atom"
EXPECTED = "an Atom feed as the arXiv API returns it (<feed> of <entry> elements)"


def looks_like_arxiv_atom(head: str) -> bool:
    return ATOM_NS in head and "<feed" in head and ("arxiv.org" in head or ARXIV_NS in head)


def parse_arxiv(path: str, data: bytes) -> Iterator[MetaRecord | SourceError]:
    import feedparser

    feed = feedparser.parse(data)
    if feed.bozo:
        exc = feed.bozo_exception
        line = exc.getLineNumber() if hasattr(exc, "getLineNumber") else None
        # A half-parsed feed would silently lose entries after the break: refuse the whole file.
        raise SourceError(path, line, f"malformed XML ({exc.getMessage() if hasattr(exc, 'getMessage') else exc})",
                          EXPECTED)
    if feed.get("version", "") != "atom10" and not feed.entries:
        raise SourceError(path, None, "not an Atom feed", EXPECTED)
    text = data.decode("utf-8", errors="replace")
    for entry in feed.entries:
        line = _line_of(text, entry.get("id", ""))
        try:
            yield _record(path, line, entry)
        except ValueError as exc:
            yield SourceError(path, line, f"entry {entry.get('id', '?')!r}: {exc}", EXPECTED)


def _line_of(text: str, entry_id: str) -> int:
    """Line of the entry's <id> element, for error messages and provenance (feedparser keeps no lines)."""
    at = text.find(f">{entry_id}<") if entry_id else -1
    return text.count("\n", 0, at) + 1 if at >= 0 else 1


def _clean(value: str) -> str:
    return re.sub(r"\s+", " ", value or "").strip()


def _detex(value: str) -> str:
    """arXiv titles and abstracts are written in LaTeX: "R\\'{e}nyi" → "Rényi"; $…$ math stays as written."""
    if "\\" not in value:
        return value
    from ingest.bibtex import decode, latex_decoder

    return decode(latex_decoder(), value)


def _record(path: str, line: int, entry: Any) -> MetaRecord:
    arxiv = clean_arxiv_id(entry.get("id"))
    if arxiv is None:
        raise ValueError("the <id> is not an arXiv abstract URL")
    title = _detex(_clean(entry.get("title", "")))
    if not title:
        raise ValueError("no <title>")
    summary = _detex(_clean(entry.get("summary", "")))
    if not summary:
        raise ValueError("no <summary> (abstract)")
    authors = [_clean(a.get("name", "")) for a in entry.get("authors", []) if _clean(a.get("name", ""))]
    published = entry.get("published_parsed") or entry.get("updated_parsed")
    primary = (entry.get("arxiv_primary_category") or {}).get("term")
    cats = [t["term"] for t in entry.get("tags", []) if t.get("term")]
    categories = list(dict.fromkeys([c for c in [primary, *cats] if c]))
    urls = []
    for link in entry.get("links", []):
        href = link.get("href", "")
        if link.get("rel") == "alternate":
            urls.insert(0, href)  # the abstract page first
        elif href:
            urls.append(href)
    doi = clean_doi(entry.get("arxiv_doi"))
    return MetaRecord(
        path=path, line=line, kind="arxiv", key=arxiv, title=title, authors=authors, abstract=summary,
        year=published.tm_year if published else None,
        date=time.strftime("%Y-%m-%d", published) if published else None,
        doi=doi, arxiv_id=arxiv, urls=list(dict.fromkeys(urls)), categories=categories,
        journal_ref=_clean(entry.get("arxiv_journal_ref", "")) or None,
        has_code=False, entry_type=None,  # BibTeX out decides: article with a journal ref, else misc
    )
