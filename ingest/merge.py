"""One paper, many sources: records of the same paper become one Paper.

Two records are the same paper by DOI, then arXiv id (version-less), then normalised title — in that order
of trust: the first identifier both records carry decides, so two records with different DOIs stay two
papers even if their titles agree (a preprint and its erratum), and a record without identifiers merges by
title. A PDF joins the paper whose arXiv id (file name or arXiv stamp), DOI or title (on its first page) it
carries; a PDF that matches nothing becomes a paper of its own.

When records merge, nothing is lost: every source is in the provenance, a complete author list replaces a
listing's first three, identifiers, categories, keywords and links are united, and a different abstract is
kept as another version."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from ingest.meta_records import PARTICLES, MetaRecord, PdfRecord, norm_title
from rag.types import Paper, SourceRef

# Characters of page 1 searched for a known title (title, authors and abstract start within this).
TITLE_WINDOW = 600
# Partial-ratio (rapidfuzz) of a known title against page 1 that identifies the PDF: line breaks, ligatures
# and dropped accents cost a few points; a different paper's title scores far lower.
TITLE_MATCH = 95


def merge_sources(papers: list[Paper], records: Iterable[MetaRecord], pdfs: Iterable[PdfRecord],
                  make_id) -> None:  # type: ignore[no-untyped-def]
    """Merge metadata records and PDFs into `papers` (in place; new papers are appended)."""
    index = _Index(papers)
    for rec in records:
        ref = SourceRef(rec.path, rec.line, rec.kind, rec.key)
        same = index.find(rec.doi, rec.arxiv_id, rec.title)
        if same is None:
            paper = _paper(rec, ref, make_id(rec.title))
            papers.append(paper)
        else:
            paper = same
            _absorb(paper, rec, ref)
        index.add(paper)
    for pdf in pdfs:
        _attach_pdf(papers, index, pdf, make_id)


class _Index:
    def __init__(self, papers: list[Paper]) -> None:
        self.by_doi: dict[str, Paper] = {}
        self.by_arxiv: dict[str, Paper] = {}
        self.by_title: dict[str, Paper] = {}
        for p in papers:
            self.add(p)

    def add(self, p: Paper) -> None:
        if p.doi:
            self.by_doi.setdefault(p.doi, p)
        if p.arxiv_id:
            self.by_arxiv.setdefault(p.arxiv_id, p)
        if p.title_source != "derived":
            self.by_title.setdefault(norm_title(p.title), p)

    def find(self, doi: str | None, arxiv: str | None, title: str | None) -> Paper | None:
        if doi and doi in self.by_doi:
            return self.by_doi[doi]
        if arxiv and arxiv in self.by_arxiv:
            cand = self.by_arxiv[arxiv]
            if not (doi and cand.doi and cand.doi != doi):
                return cand
        if title:
            cand = self.by_title.get(norm_title(title))
            if cand is not None and same_ids(cand, doi, arxiv):
                return cand
        return None


def same_ids(p: Paper, doi: str | None, arxiv: str | None) -> bool:
    """No identifier both carry disagrees (the more trusted identifier decides)."""
    if doi and p.doi:
        return doi == p.doi
    if arxiv and p.arxiv_id:
        return arxiv == p.arxiv_id
    return True


def _paper(rec: MetaRecord, ref: SourceRef, paper_id: str) -> Paper:
    return Paper(
        paper_id=paper_id, title=rec.title, title_source=rec.kind, authors=list(rec.authors),
        authors_truncated=rec.authors_truncated, date=rec.date, year=rec.year, year_inferred=False,
        category=rec.categories[0] if rec.categories else None, has_code=rec.has_code, urls=list(rec.urls),
        score=None, abstract=rec.abstract, provenance=[ref], doi=rec.doi, arxiv_id=rec.arxiv_id,
        categories=list(rec.categories), journal_ref=rec.journal_ref, venue=rec.venue, keywords=list(rec.keywords),
        bibtex_key=rec.key if rec.kind == "bibtex" else None, entry_type=rec.entry_type,
    )


def _absorb(p: Paper, rec: MetaRecord, ref: SourceRef) -> None:
    p.provenance.append(ref)
    if rec.authors and not rec.authors_truncated and covers(rec.authors, p.authors) \
            and (p.authors_truncated or len(rec.authors) > len(p.authors)):
        p.authors, p.authors_truncated = list(rec.authors), False  # the complete list replaces "et al."
    elif rec.authors and len(rec.authors) == len(p.authors) and covers(rec.authors, p.authors):
        # Same people; keep the fuller spelling of each ("Adrian Del Maestro" over "A. Del Maestro").
        p.authors = [b if len(b) > len(a) else a for a, b in zip(p.authors, rec.authors, strict=True)]
    if p.title_source in ("derived", "pdf"):
        p.title, p.title_source = rec.title, rec.kind
    if rec.year and (p.year is None or p.year_inferred):
        p.year, p.date, p.year_inferred = rec.year, rec.date, False
    p.doi = p.doi or rec.doi
    p.arxiv_id = p.arxiv_id or rec.arxiv_id
    p.journal_ref = p.journal_ref or rec.journal_ref
    p.venue = p.venue or rec.venue
    p.entry_type = p.entry_type if p.bibtex_key else (rec.entry_type if rec.kind == "bibtex" else p.entry_type)
    if rec.kind == "bibtex" and not p.bibtex_key:
        p.bibtex_key = rec.key
    cats = p.categories or ([p.category] if p.category else [])
    p.categories = list(dict.fromkeys([*cats, *rec.categories]))
    p.category = p.category or (p.categories[0] if p.categories else None)
    p.keywords = list(dict.fromkeys([*p.keywords, *rec.keywords]))
    p.urls = list(dict.fromkeys([*p.urls, *rec.urls]))
    p.has_code = p.has_code or rec.has_code
    if rec.abstract:
        if not p.abstract:
            p.abstract = rec.abstract
        elif _norm_text(rec.abstract) != _norm_text(p.abstract) and \
                all(_norm_text(rec.abstract) != _norm_text(a) for a in p.other_abstracts):
            p.other_abstracts.append(rec.abstract)


def _norm_text(text: str) -> str:
    return norm_title(text)


def _attach_pdf(papers: list[Paper], index: _Index, pdf: PdfRecord, make_id) -> None:  # type: ignore[no-untyped-def]
    ref = SourceRef(pdf.path, 1, "pdf", pdf.sha1[:12])
    target = index.find(pdf.doi, pdf.arxiv_id, pdf.title) or _by_title_on_page(papers, pdf.pages[0])
    if target is None:
        title = pdf.title or _first_line(pdf.pages[0])
        target = Paper(
            paper_id=make_id(title), title=title, title_source="pdf", authors=[], authors_truncated=False,
            date=None, year=None, year_inferred=False, category=None, has_code=False, urls=[], score=None,
            abstract=pdf.pages[0][:1500], provenance=[], doi=pdf.doi, arxiv_id=pdf.arxiv_id,
        )
        papers.append(target)
        index.add(target)
    target.provenance.append(ref)
    if not target.body:  # a second copy of the PDF adds provenance only
        target.body = list(pdf.pages)
        target.fulltext_pages = len(pdf.pages)
        target.fulltext_sha1 = pdf.sha1
    target.doi = target.doi or pdf.doi
    target.arxiv_id = target.arxiv_id or pdf.arxiv_id


def _by_title_on_page(papers: list[Paper], page: str) -> Paper | None:
    from rapidfuzz import fuzz

    head = norm_title(page[:TITLE_WINDOW])
    best, best_score = None, 0.0
    for p in papers:
        t = norm_title(p.title)
        if len(t) < 12:  # too short to identify a paper by
            continue
        score = fuzz.partial_ratio(t, head)
        if score > best_score:
            best, best_score = p, score
    return best if best_score >= TITLE_MATCH else None


def _first_line(page: str) -> str:
    words = page.split()
    return " ".join(words[:14]) + ("…" if len(words) > 14 else "")


def _fold(name: str) -> list[str]:
    text = unicodedata.normalize("NFKD", name)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    return [t for t in text.replace(".", ". ").replace("-", " - ").split() if t != "-"]


def same_author(a: str, b: str) -> bool:
    """'A. Del Maestro' is 'Adrian Del Maestro'; 'J. M. Murray' is 'James M. Murray'; accents and case do
    not count ('Tesanović' is 'Tesanovic'). The family name must agree; given names must agree or be initials
    of each other, in order. Names are compared this way but always kept as written."""
    ta, tb = _fold(a), _fold(b)
    if not ta or not tb:
        return False
    ga, fa = _split_family(ta)
    gb, fb = _split_family(tb)
    if fa != fb:
        return False
    for x, y in zip(ga, gb, strict=False):
        xs, ys = x.rstrip("."), y.rstrip(".")
        if xs == ys:
            continue
        if (x.endswith(".") or len(xs) == 1) and ys.startswith(xs):
            continue
        if (y.endswith(".") or len(ys) == 1) and xs.startswith(ys):
            continue
        return False
    return True


def _split_family(tokens: list[str]) -> tuple[list[str], list[str]]:
    """Given names and family name: the family starts at the first particle after the first given name."""
    cut = next((i for i in range(1, len(tokens) - 1) if tokens[i] in PARTICLES), len(tokens) - 1)
    return tokens[:cut], tokens[cut:]


def covers(full: list[str], partial: list[str]) -> bool:
    """`full` starts with the people of `partial` (a listing's first three), name forms aside."""
    return len(partial) <= len(full) and all(same_author(a, b) for a, b in zip(partial, full, strict=False))

