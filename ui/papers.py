"""The Papers tab without Gradio: table rows, search, sorting and the details panel of one paper."""

from __future__ import annotations

import html

from rag.catalog import fold, sort_key
from rag.types import Paper
from ui.cards import authors_text, esc, link_html, safe_url, tex_to_text, when_text

COLUMNS = ["Date", "Area", "Code", "Title", "Authors"]  # Area: the arXiv category, e.g. cs.LG
SORTS = {
    "Newest first": (lambda p: sort_key(p), True),
    "Oldest first": (lambda p: sort_key(p), False),
    "Title A–Z": (lambda p: fold(p.title), False),
    "Category": (lambda p: (p.category or "~", fold(p.title)), False),
}


def _haystack(p: Paper) -> str:
    return fold(" ".join([p.title, " ".join(p.authors), p.category or "", str(p.year or ""), p.abstract,
                          *p.other_abstracts]))


def search(papers: list[Paper], query: str = "", sort: str = "Newest first") -> list[Paper]:
    """Every word of the query must appear in the title, authors, category, year or an abstract."""
    words = fold(query or "").split()
    hits = [p for p in papers if all(w in _haystack(p) for w in words)]
    key, reverse = SORTS.get(sort, SORTS["Newest first"])
    if sort.startswith("Newest"):  # undated papers last either way
        dated = sorted((p for p in hits if p.year), key=key, reverse=True)
        return dated + [p for p in hits if not p.year]
    return sorted(hits, key=key, reverse=reverse)


def iso_date(p: Paper) -> str:
    """Sortable as text: 2024-12-17; a year the listing did not give is marked *; unknown dates are "—"."""
    if not p.year:
        return "—"
    y, m, d = sort_key(p)
    text = f"{y}-{m:02d}-{d:02d}" if m else str(y)
    return text + ("*" if p.year_inferred else "")


def rows(papers: list[Paper]) -> list[list[object]]:
    return [[iso_date(p), p.category or "", "✓" if p.has_code else "", tex_to_text(p.title), p.authors_display]
            for p in papers]


def count_text(shown: int, total: int) -> str:
    if shown == total:
        return (f"{total} papers · click a row for its details · * year not given in the listing (the listing's "
                "year) · only the first three authors of each paper are known")
    return f"{shown} of {total} papers match."


def details_html(p: Paper | None) -> str:
    if p is None:
        return '<div class="lq-details lq-muted">Choose a paper in the table to see its abstract(s) and links.</div>'
    meta = [f'<span class="lq-authors">{esc(authors_text(p.authors, p.authors_truncated))}</span>',
            f'<span class="lq-date">{esc(when_text(p.date, p.year, p.year_inferred))}</span>']
    if p.category:
        meta.append(f'<span class="lq-chip">{esc(p.category)}</span>')
    links = [link_html(u, p.has_code) for u in p.urls if safe_url(u)] or ([link_html(None, True)] if p.has_code else [])
    meta += [x for x in links if x]
    versions = [p.abstract, *p.other_abstracts]
    blocks = []
    for i, text in enumerate(versions, start=1):
        label = "Abstract" if len(versions) == 1 else f"Abstract, version {i} of {len(versions)}"
        blocks.append(f'<div class="lq-abstract"><div class="lq-abstract-label">{label}</div><p>{esc(text)}</p></div>')
    notes = []
    if p.title_source == "derived":
        notes.append("No listing entry: the title is derived from the abstract; authors, date and category are unknown.")
    if p.year_inferred:
        notes.append("The listing gives no year for this date; the year is the listing's own year.")
    sources = ", ".join(f"{html.escape(s.path.rsplit('/', 1)[-1])}:{s.line}" for s in p.provenance)
    if sources:
        notes.append(f"Source lines: {sources}.")
    note_html = "".join(f"<li>{esc(n) if 'Source lines' not in n else n}</li>" for n in notes)
    return (f'<div class="lq-details" data-paper-id="{html.escape(p.paper_id, quote=True)}">'
            f'<h3 class="lq-details-title">{esc(p.title)}</h3>'
            f'<div class="lq-meta">{" · ".join(meta)}</div>{"".join(blocks)}'
            f'<ul class="lq-notes">{note_html}</ul></div>')


def ask_about(p: Paper) -> str:
    """The chat question the "Ask about this paper" button puts in the chat."""
    return f"What is “{tex_to_text(p.title)}” about?"
