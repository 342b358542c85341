"""Papers → BibTeX, written with bibtexparser (so quoting and escaping are its, not ours). Unicode is
encoded to LaTeX (ö → {\\"o}) for old BibTeX toolchains; a round trip through ingest.bibtex gives the same
title, authors, year, DOI, arXiv id, abstract and keywords back."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from ingest.meta_records import PARTICLES
from rag.types import Paper

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def select(papers: Iterable[Paper], query: str) -> list[Paper]:
    """Papers matching every word of `query` in their title, authors, year, categories, keywords, venue,
    DOI, arXiv id or paper id (case and accents ignored); an empty query matches all."""
    words = _fold(query).split()
    out = []
    for p in papers:
        hay = _fold(" ".join([p.paper_id, p.title, *p.authors, str(p.year or ""), p.category or "", *p.categories,
                              *p.keywords, p.venue or "", p.doi or "", p.arxiv_id or "", p.bibtex_key or ""]))
        if all(w in hay for w in words):
            out.append(p)
    return out


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c)).casefold()


def _latex(text: str) -> str:
    from pylatexenc.latexencode import RULE_REGEX, UnicodeToLatexConversionRule, UnicodeToLatexEncoder

    # `$…$` math in titles is already LaTeX: keep it. Non-ASCII is encoded (é → {\'e}); of ASCII only the
    # characters LaTeX reads as commands (& % #) — quotes stay as written, so a round trip gives them back.
    global _ENCODER
    if _ENCODER is None:
        import logging

        logging.getLogger("pylatexenc").setLevel(logging.ERROR)  # characters without a LaTeX form are kept as is
        keep_math = UnicodeToLatexConversionRule(rule_type=RULE_REGEX, rule=[(re.compile(r"(\$[^$]*\$)"), r"\1")])
        _ENCODER = UnicodeToLatexEncoder(conversion_rules=[keep_math, "defaults"], non_ascii_only=True,
                                         replacement_latex_protection="braces-all", unknown_char_policy="keep")
    parts = re.split(r"(\$[^$]*\$)", text)
    # "--" would read back as an en-dash: "-{}-" keeps the two hyphens.
    escaped = "".join(p if p.startswith("$") else re.sub(r"([&%#])", r"\\\1", p).replace("--", "-{}-")
                      for p in parts)
    return _ENCODER.unicode_to_latex(escaped)


_ENCODER = None


def _key(p: Paper, used: set[str]) -> str:
    if p.bibtex_key and p.bibtex_key not in used:
        return p.bibtex_key
    family = re.sub(r"[^a-z]", "", _fold(p.authors[0].split()[-1])) if p.authors else "anon"
    word = next((w for w in re.findall(r"[a-z0-9]+", _fold(p.title)) if len(w) > 3), "paper")
    base = f"{family}{p.year or ''}{word}"
    key, n = base, 1
    while key in used:
        n += 1
        key = f"{base}{chr(ord('a') + n - 2)}" if n <= 27 else f"{base}{n}"
    return key


def _entry_type(p: Paper) -> str:
    if p.entry_type:
        return p.entry_type
    if p.journal_ref or (p.venue and "proceedings" not in p.venue.lower()):
        return "article"
    if p.venue:
        return "inproceedings"
    return "misc"


def _author_field(p: Paper) -> str:
    names = []
    for name in p.authors:
        # "Last, First" is unambiguous for BibTeX; the family name starts at the first particle after the
        # given name ("Adrian Del Maestro" → "Del Maestro, Adrian"), else it is the last word.
        parts = name.split()
        if len(parts) == 1:
            names.append(_latex(name))
            continue
        cut = next((i for i in range(1, len(parts) - 1) if parts[i].casefold() in PARTICLES), len(parts) - 1)
        given, family = " ".join(parts[:cut]), " ".join(parts[cut:])
        names.append(f"{_latex(family)}, {_latex(given)}")
    if p.authors_truncated:
        names.append("others")
    return " and ".join(names)


def entry_fields(p: Paper) -> dict[str, str]:
    fields: dict[str, str] = {"title": "{" + _latex(p.title) + "}" if p.title else ""}
    if p.authors:
        fields["author"] = _author_field(p)
    if p.year:
        fields["year"] = str(p.year)
    month = _month(p.date)
    if month:
        fields["month"] = month
    kind = _entry_type(p)
    if p.venue:
        fields["journal" if kind == "article" else "booktitle"] = _latex(p.venue)
    elif p.journal_ref:
        fields["journal"] = _latex(p.journal_ref)
    if p.doi:
        fields["doi"] = p.doi
    if p.arxiv_id:
        fields["eprint"] = p.arxiv_id
        fields["archivePrefix"] = "arXiv"
        if p.categories or p.category:
            fields["primaryClass"] = (p.categories or [p.category])[0]  # type: ignore[list-item]
    if p.url:
        fields["url"] = p.url
    if p.keywords:
        fields["keywords"] = _latex(", ".join(p.keywords))
    if p.abstract and p.title_source != "pdf":
        fields["abstract"] = _latex(p.abstract)
    return fields


def _month(date: str | None) -> str | None:
    if not date:
        return None
    m = re.match(r"^\d{4}-(\d{2})", date)
    if m and 1 <= int(m.group(1)) <= 12:
        return MONTHS[int(m.group(1)) - 1]
    low = date.lower()
    return next((mo for mo in MONTHS if low.startswith(mo)), None)


def to_bibtex(papers: Iterable[Paper]) -> str:
    """One BibTeX entry per paper; keys are the original BibTeX keys where there are some, else
    family name + year + first title word, made unique."""
    from bibtexparser import Library, write_string
    from bibtexparser.model import Entry, Field

    lib = Library()
    used: set[str] = set()
    for p in papers:
        key = _key(p, used)
        used.add(key)
        lib.add(Entry(_entry_type(p), key, [Field(k, v) for k, v in entry_fields(p).items()]))
    return write_string(lib)
