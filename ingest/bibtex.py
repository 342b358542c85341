"""BibTeX (.bib) → MetaRecords, with bibtexparser 2 (parsing, @string macros, name splitting) and pylatexenc
(LaTeX → Unicode: {\\"o} → ö, \\& → &, braces dropped, $…$ math kept as written).

Exports from Google Scholar, DBLP, Zotero, ACM DL and publishers all land here; fields the exports use
for the same thing (journal/booktitle, eprint/arxivid, url/html) are folded together."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import Any

from ingest.meta_records import MetaRecord, arxiv_from_doi, clean_arxiv_id, clean_doi
from rag.errors import SourceError

MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}
MONTH_NAMES = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
LATEX_SIGNS = frozenset("\\{}$~")
BARE_SPECIAL_RE = re.compile(r"(?<!\\)([&%#])")
EXPECTED = "a BibTeX entry like @article{key, title = {…}, author = {…}, year = {…}}"


@functools.cache
def latex_decoder() -> Any:
    from pylatexenc.latex2text import LatexNodes2Text

    # math_mode="verbatim": "$\\varepsilon$-Constrained" stays readable as written, not "ε-Constrained".
    return LatexNodes2Text(math_mode="verbatim", strict_latex_spaces=True)


def decode(latex: Any, value: str) -> str:
    """LaTeX → readable text. Exports often carry a bare & or % (ACM: "Information & Knowledge Management"),
    which LaTeX would read as an alignment tab or a comment and drop the rest: they are kept as characters."""
    if not LATEX_SIGNS.intersection(value) and "--" not in value:  # plain text: skip the LaTeX parser
        return " ".join(value.split())
    return " ".join(latex.latex_to_text(BARE_SPECIAL_RE.sub(r"\\\1", value)).split())


def parse_bibtex(path: str, text: str) -> Iterator[MetaRecord | SourceError]:
    import bibtexparser
    from bibtexparser import middlewares as mw

    library = bibtexparser.parse_string(text, append_middleware=[
        mw.NormalizeFieldKeys(), mw.SeparateCoAuthors(), mw.SplitNameParts()])  # 'Author' as 'author'
    latex = latex_decoder()
    for block in library.failed_blocks:
        err = getattr(block, "error", None)
        reason = getattr(err, "abort_reason", None) or str(err or "").strip() or type(err).__name__
        yield SourceError(path, block.start_line + 1, f"BibTeX block does not parse: {reason}", EXPECTED)
    for entry in library.entries:
        try:
            yield _record(path, entry, latex)
        except ValueError as exc:
            yield SourceError(path, entry.start_line + 1, f"entry {entry.key!r}: {exc}", EXPECTED)


def _record(path: str, entry: Any, latex: Any) -> MetaRecord:
    fields = {k.lower(): f.value for k, f in entry.fields_dict.items()}

    def text(name: str) -> str:
        value = fields.get(name)
        if value is None or isinstance(value, list):
            return ""
        return decode(latex, str(value))

    title = text("title")
    if not title:
        raise ValueError("no title")
    authors, truncated = _authors(fields.get("author"), latex)
    year = _year(text("year") or text("date")[:4])
    month = _month(text("month"))
    date = f"{MONTH_NAMES[month - 1]} {year}" if month and year else (str(year) if year else None)
    doi = clean_doi(text("doi"))
    arxiv = None
    prefix = text("archiveprefix").lower() or text("eprinttype").lower()
    if text("eprint") and (prefix in ("arxiv", "") or "arxiv" in text("eprint").lower()):
        arxiv = clean_arxiv_id(text("eprint"))
    arxiv = arxiv or clean_arxiv_id(text("arxivid")) or arxiv_from_doi(doi) or _arxiv_from_urls(fields, text)
    urls = [u for u in (text("url"), text("html"), text("pdf")) if u.startswith(("http://", "https://"))]
    if doi and not any(doi in u.lower() for u in urls):
        urls.append(f"https://doi.org/{doi}")
    primary = text("primaryclass")
    keywords = [k.strip() for k in text("keywords").replace(";", ",").split(",") if k.strip()]
    return MetaRecord(
        path=path, line=entry.start_line + 1, kind="bibtex", key=entry.key, title=title, authors=authors,
        authors_truncated=truncated, abstract=text("abstract"), year=year, date=date, doi=doi, arxiv_id=arxiv,
        urls=list(dict.fromkeys(urls)), categories=[primary] if primary else [],
        venue=text("journal") or text("booktitle") or text("journaltitle") or None,
        keywords=keywords, has_code=bool(text("code")), entry_type=entry.entry_type.lower(),
    )


def _authors(value: Any, latex: Any) -> tuple[list[str], bool]:
    """NameParts (bibtexparser's split of 'Last, First' and 'First Last') → 'First von Last, Jr'."""
    if not value:
        return [], False
    out: list[str] = []
    truncated = False
    for parts in value if isinstance(value, list) else [value]:
        if isinstance(parts, str):
            name = parts
        else:
            family = " ".join([*parts.von, *parts.last])
            name = " ".join([*parts.first, family]) + (", " + " ".join(parts.jr) if parts.jr else "")
        name = decode(latex, name)
        if name.casefold() == "others":  # BibTeX's "and others": the list is cut
            truncated = True
        elif name:
            out.append(name)
    return out, truncated


def _year(value: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    if not (value[:4].isdigit() and len(value) >= 4):
        raise ValueError(f"year {value!r} is not a year")
    return int(value[:4])


def _month(value: str) -> int | None:
    v = value.strip().lower()
    if not v:
        return None
    if v.isdigit() and 1 <= int(v) <= 12:
        return int(v)
    return MONTHS.get(v[:3])


def _arxiv_from_urls(fields: dict[str, Any], text: Any) -> str | None:
    for name in ("url", "html", "pdf"):
        u = text(name)
        if "arxiv.org/" in u:
            return clean_arxiv_id(u.split("arxiv.org/", 1)[1].split("/", 1)[-1])
    return None
