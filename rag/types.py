"""Typed records passed between stages: sources → Paper → Chunk → Evidence → Answer(Citation)."""

from __future__ import annotations

import calendar
from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class SourceRef:
    """Where a record came from: file, 1-based line, and which kind of source it was."""

    path: str
    line: int  # 1-based line of the record (a PDF: 1)
    kind: str  # "listing", "abstracts", "bibtex", "arxiv", "csv", "jsonl" or "pdf"
    key: str | None = None  # the entry's own id: BibTeX key, arXiv id, CSV row, PDF's sha1 prefix


@dataclass
class Paper:
    paper_id: str
    title: str
    title_source: str  # "listing" or "derived" (an abstract with no listing entry)
    authors: list[str]
    authors_truncated: bool  # the listing names at most three authors, then "et al."
    date: str | None  # as given in the listing, e.g. "Nov 23, 2022" or "May 30"
    year: int | None
    year_inferred: bool  # the listing date had no year; see Settings.listing_year
    category: str | None  # arXiv code, e.g. "cs.CV"
    has_code: bool
    urls: list[str]
    score: float | None  # leading number of the listing header, kept uninterpreted
    abstract: str  # primary text: the listing's when there is one
    other_abstracts: list[str] = field(default_factory=list)  # other versions of the same abstract
    provenance: list[SourceRef] = field(default_factory=list)
    # From BibTeX, arXiv, CSV/JSONL and PDF sources (empty for the seed formats).
    doi: str | None = None  # lower-case, without https://doi.org/
    arxiv_id: str | None = None  # version-less: "1111.2011", "cond-mat/0412498"
    categories: list[str] = field(default_factory=list)  # every arXiv category, primary first
    journal_ref: str | None = None  # arXiv's journal reference, e.g. "Phys. Rev. B 85, 115117 (2012)"
    venue: str | None = None  # journal or proceedings (BibTeX journal/booktitle, CSV venue)
    keywords: list[str] = field(default_factory=list)
    bibtex_key: str | None = None  # the key of the BibTeX entry it came from, reused by BibTeX out
    entry_type: str | None = None  # BibTeX entry type ("article", "inproceedings", ...)
    fulltext_pages: int = 0  # pages of PDF full text indexed with the paper (0: abstract only)
    fulltext_sha1: str | None = None  # the PDF's content hash: a changed PDF re-chunks the paper
    # The PDF's text by page (page n is body[n-1]). Transient: it travels from the PDF reader to the
    # chunker only; the index keeps it in chunks, the paper record keeps fulltext_sha1.
    body: list[str] = field(default_factory=list, repr=False, compare=False)

    @property
    def url(self) -> str | None:
        return self.urls[0] if self.urls else None

    @property
    def authors_display(self) -> str:
        if not self.authors:
            return "authors unknown"
        names = ", ".join(self.authors)
        return names + (" et al." if self.authors_truncated else "")

    @property
    def authors_for_embedding(self) -> str:
        """The author list in front of every chunk, capped: an arXiv paper with 40 authors would otherwise
        eat the 256-token budget of every passage."""
        if len(self.authors) <= EMBED_AUTHORS:
            return self.authors_display
        return ", ".join(self.authors[:EMBED_AUTHORS]) + " et al."

    def to_dict(self) -> dict[str, Any]:
        """What dataclasses.asdict gives, without `body`. Built directly: asdict copies recursively through
        generic code, which took 15 s of every ingest at 100k papers (each paper's digest is of this dict)."""
        d: dict[str, Any] = {}
        for name in _PAPER_FIELDS:
            v = getattr(self, name)
            if isinstance(v, list):
                v = [{k: getattr(x, k) for k in _REF_FIELDS} if isinstance(x, SourceRef) else x for x in v]
            d[name] = v
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Paper:
        d = dict(d)
        d["provenance"] = [SourceRef(**p) for p in d.get("provenance", [])]
        return cls(**d)


EMBED_AUTHORS = 6
_PAPER_FIELDS = tuple(f.name for f in fields(Paper) if f.name != "body")
_REF_FIELDS = tuple(f.name for f in fields(SourceRef))


@dataclass(frozen=True)
class Chunk:
    chunk_id: str  # deterministic: paper id + position + content hash
    paper_id: str
    position: int
    text: str  # the passage (sentences of one abstract version, or of one page of the PDF)
    page: int | None = None  # PDF page the passage comes from; None for abstracts


@dataclass
class Passage:
    """A retrieved chunk with its fused score."""

    chunk_id: str
    text: str
    score: float
    page: int | None = None  # PDF page of the passage; None for abstracts


@dataclass
class Evidence:
    """One paper as retrieval returns it: once per paper, with its best passages."""

    paper: Paper
    score: float  # fused (RRF) score, or 1.0 for catalog (metadata) matches
    passages: list[Passage]
    dense: float = 0.0  # best cosine similarity of the paper's chunks to the question
    lexical: float = 0.0  # best BM25 score of the paper's chunks


POSITION_WORDS = {1: "first", 2: "second", 3: "third", -1: "last listed"}  # Filters.author_position in words


MONTH_NAMES = tuple(calendar.month_name)[1:]  # "January" … "December" (the C locale's names)


@dataclass
class Filters:
    """Catalog filters; every set field must match (AND). The exclude_* fields remove papers."""

    year_from: int | None = None
    year_to: int | None = None
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    has_code: bool | None = None
    paper_ids: list[str] = field(default_factory=list)  # restrict to these (follow-ups: "those")
    years: list[int] = field(default_factory=list)  # any of these years ("2022 or 2024"); with a range, both
    author_position: int | None = None  # 1 = first author, -1 = last listed: every name in `authors` is there
    any_author: bool = False  # `authors` joined by "or": a paper by any of them (default: by all of them)
    exclude_authors: list[str] = field(default_factory=list)
    exclude_categories: list[str] = field(default_factory=list)
    exclude_years: list[int] = field(default_factory=list)
    months: list[int] = field(default_factory=list)  # any of these months (1–12) of a dated paper ("in December")
    undated: bool = False  # papers whose sources give no year ("undated entries", "papers without a date")

    def is_empty(self) -> bool:
        return not (self.has_metadata() or self.paper_ids)

    def has_metadata(self) -> bool:
        """Any filter on the papers' metadata (not counting a follow-up's scope)."""
        return bool(self.year_from or self.year_to or self.authors or self.categories or self.has_code is not None
                    or self.years or self.exclude_authors or self.exclude_categories or self.exclude_years
                    or self.months or self.undated)

    def describe(self) -> str:
        parts = []
        if self.years:
            parts.append(("year " if len(self.years) == 1 else "years ") + " or ".join(map(str, self.years)))
        if self.year_from and self.year_to and self.year_from == self.year_to:
            parts.append(f"year {self.year_from}")
        elif self.year_from and self.year_to:
            parts.append(f"years {self.year_from}–{self.year_to}")
        elif self.year_from:
            parts.append(f"year ≥ {self.year_from}")
        elif self.year_to:
            parts.append(f"year ≤ {self.year_to}")
        if self.exclude_years:
            parts.append("not from " + " or ".join(map(str, self.exclude_years)))
        if self.months:
            parts.append("published in " + " or ".join(MONTH_NAMES[m - 1] for m in self.months))
        if self.undated:
            parts.append("no year in the sources")
        if self.authors:
            where = POSITION_WORDS.get(self.author_position or 0)
            parts.append(("author " if not where else f"{where} author ")
                         + (" or " if self.any_author else " and ").join(self.authors))
        if self.exclude_authors:
            parts.append("not by " + " or ".join(self.exclude_authors))
        if self.categories:
            parts.append("category " + " or ".join(self.categories))
        if self.exclude_categories:
            parts.append("not in " + " or ".join(self.exclude_categories))
        if self.has_code is not None:
            parts.append("with released code" if self.has_code else "without released code")
        if self.paper_ids:
            n = len(self.paper_ids)
            parts.append(f"the {n} paper{'s' if n != 1 else ''} from the previous answer")
        return ", ".join(parts)


@dataclass
class Citation:
    n: int
    paper_id: str
    title: str
    authors: list[str]
    authors_truncated: bool
    year: int | None
    date: str | None
    category: str | None
    url: str | None
    has_code: bool
    snippet: str  # the supporting passage
    highlights: list[str] = field(default_factory=list)  # sentences of the snippet the answer used
    page: int | None = None  # PDF page of the snippet ("p. 5"); None when it is from the abstract
    doi: str | None = None
    arxiv_id: str | None = None


@dataclass
class SourceHit:
    paper_id: str
    title: str
    score: float


@dataclass
class Answer:
    question: str
    answer: str
    answerer: str  # "offline" or "<model> @ <endpoint>" (plus a fallback note when it applies)
    abstained: bool
    citations: list[Citation]
    sources: list[SourceHit]
    timings_ms: dict[str, float] = field(default_factory=dict)
    filters: str = ""  # human description of the filters applied, "" when none
    notes: list[str] = field(default_factory=list)  # warnings shown to the user (fallbacks, removed citations)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Turn:
    """One message of a conversation (OpenAI-style role/content)."""

    role: str  # "user" or "assistant"
    content: str
    # The papers an assistant turn cited, best first: follow-ups ("the second one") read these, so history
    # never has to be re-found from the prose. Empty for user turns and for plain-text histories.
    paper_ids: list[str] = field(default_factory=list)
