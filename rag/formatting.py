"""How authors, dates and references read — one place for the CLI, the UI's cards and the answers."""

from __future__ import annotations

from rag.types import Citation, Paper


def authors_text(authors: list[str], truncated: bool) -> str:
    """'Siteng Huang, Biao Gong, Yulin Pan et al.' ('et al.' where the source cut the list)."""
    if not authors:
        return "authors unknown"
    return ", ".join(authors) + (" et al." if truncated else "")


def when_text(date: str | None, year: int | None, year_inferred: bool = False, mark_inferred: bool = False) -> str:
    """'Nov 23, 2022'; a listing date without a year gets the listing's year ('Mar 12, 2026', marked as
    inferred where the reader should know)."""
    if date and year and year_inferred:
        return f"{date}, {year}" + (" (year inferred)" if mark_inferred else "")
    return date or (str(year) if year else "date unknown")


def paper_when(p: Paper, mark_inferred: bool = False) -> str:
    return when_text(p.date, p.year, p.year_inferred, mark_inferred)


def byline(p: Paper) -> str:
    """'Li Zhang, Yuyuan Li, XiaoHua Feng et al., May 30, 2026, cs.LG'."""
    bits = [authors_text(p.authors, p.authors_truncated), paper_when(p)]
    if p.category:
        bits.append(p.category)
    return ", ".join(bits)


def short_name(p: Paper) -> str:
    """'VoP: Text-Video …' → 'VoP'; titles whose head is not a name ('A Survey on …') stay whole."""
    head = p.title.split(":")[0]
    return head if ":" in p.title and " " not in head.strip() else p.title


def _end(text: str) -> str:
    """A title followed by '.', without doubling its own final punctuation ('… Puns?' stays '… Puns?')."""
    return text if text.rstrip()[-1:] in ".?!" else text + "."


def reference(c: Citation) -> str:
    """'[1] Title. Authors (2024), p. 6. URL' — the line of a reference list (the page where the cited passage
    is from a PDF's full text)."""
    link = f" {c.url}" if c.url else ""
    page = f", p. {c.page}" if c.page else ""
    return (f"[{c.n}] {_end(c.title)} {authors_text(c.authors, c.authors_truncated)} "
            f"({c.year or 'year unknown'}){page}.{link}")
