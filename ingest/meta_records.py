"""Raw records of the metadata formats (BibTeX, arXiv Atom, CSV, JSONL) and of PDFs, before they become
papers. Every parser fills the same MetaRecord, so merging and Paper building see one shape."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

# Old-style ("cond-mat/0412498") and new-style ("1111.2011", "2211.12764") arXiv ids, optional version.
ARXIV_ID_RE = re.compile(r"(?P<id>(?:[a-z][a-z.-]+/\d{7})|(?:\d{4}\.\d{4,5}))(?:v(?P<v>\d+))?", re.I)
DOI_PREFIXES = ("https://doi.org/", "http://doi.org/", "https://dx.doi.org/", "http://dx.doi.org/", "doi:")
ARXIV_DOI_PREFIX = "10.48550/arxiv."
# Name particles that start a family name ("Adrian Del Maestro", "F. de Martini", "Ludwig van Beethoven").
PARTICLES = frozenset({"de", "del", "della", "der", "di", "da", "dos", "du", "van", "von", "le", "la", "ter", "ten",
                       "den", "st.", "bin", "ibn", "al", "el"})


@dataclass
class MetaRecord:
    """One bibliographic record: what a BibTeX entry, an arXiv entry or a CSV/JSONL row says."""

    path: str
    line: int
    kind: str  # "bibtex", "arxiv", "csv", "jsonl"
    key: str | None  # entry key, arXiv id or row number: named in errors and provenance
    title: str
    authors: list[str]
    abstract: str
    year: int | None = None
    date: str | None = None  # "2011-11-08" (arXiv published), "Jun 2023" (BibTeX month + year)
    doi: str | None = None
    arxiv_id: str | None = None
    urls: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)  # primary first
    journal_ref: str | None = None
    venue: str | None = None
    keywords: list[str] = field(default_factory=list)
    has_code: bool = False
    entry_type: str | None = None
    authors_truncated: bool = False  # BibTeX "and others"


@dataclass
class PdfRecord:
    path: str
    sha1: str
    pages: list[str]  # text of each page, in reading order
    title: str | None  # the PDF's /Title metadata, when it has a real one
    arxiv_id: str | None  # from the file name or the arXiv stamp on page 1
    doi: str | None  # the first DOI printed on page 1

    @property
    def line(self) -> int:
        return 1


def clean_doi(value: str | None) -> str | None:
    """'https://doi.org/10.1016/J.TEJ.2020.106883' → '10.1016/j.tej.2020.106883' (DOIs are case-insensitive)."""
    if not value:
        return None
    v = value.strip()
    low = v.lower()
    for prefix in DOI_PREFIXES:
        if low.startswith(prefix):
            v = v[len(prefix):]
            break
    v = v.strip().rstrip(".").lower()
    return v if v.startswith("10.") and "/" in v else None


def arxiv_from_doi(doi: str | None) -> str | None:
    """arXiv's own DOIs (10.48550/arXiv.2211.12764) name the arXiv id."""
    if doi and doi.startswith(ARXIV_DOI_PREFIX):
        return clean_arxiv_id(doi[len(ARXIV_DOI_PREFIX):])
    return None


def clean_arxiv_id(value: str | None) -> str | None:
    """'http://arxiv.org/abs/1111.2011v2', 'arXiv:1111.2011', '1111.2011v2' → '1111.2011' (version-less)."""
    if not value:
        return None
    v = value.strip()
    for prefix in ("http://arxiv.org/abs/", "https://arxiv.org/abs/", "http://arxiv.org/pdf/",
                   "https://arxiv.org/pdf/", "arxiv:", "arXiv:"):
        if v.lower().startswith(prefix.lower()):
            v = v[len(prefix):]
            break
    m = ARXIV_ID_RE.fullmatch(v.removesuffix(".pdf"))
    return m["id"].lower() if m else None


def norm_title(title: str) -> str:
    """What two titles of one paper share: letters and digits, accents and case folded, LaTeX braces and
    punctuation gone ('{VoP}: Text-Video …' equals 'VoP: Text-video …')."""
    text = unicodedata.normalize("NFKD", title)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    return " ".join(re.findall(r"[a-z0-9]+", text))
