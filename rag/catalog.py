"""The paper catalog: exact metadata filters over all papers (not only the top k), author matching that
ignores case and accents and accepts partial names, category names and arXiv codes, date ordering."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from rag.types import Filters, Paper

CATEGORY_NAMES = {
    "cs.CV": ["computer vision", "vision"],
    "cs.IR": ["information retrieval"],
    "cs.LG": ["machine learning"],
    "cs.CL": ["computation and language", "natural language processing", "nlp"],
    "cs.AI": ["artificial intelligence"],
    "cs.CR": ["cryptography and security", "cryptography", "security"],
}
MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), start=1)}


def fold(text: str) -> str:
    """Case- and accent-insensitive form: 'Chaochao Chén' → 'chaochao chen'."""
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c)).casefold()


def name_matches(query: str, author: str) -> bool:
    """'Gong', 'biao gong', 'Biao Gong' all match 'Biao Gong': every word of the query is a word of the name."""
    q, a = fold(query).split(), fold(author).split()
    return bool(q) and all(w in a for w in q)


def sort_key(p: Paper) -> tuple[int, int, int]:
    """Chronological order; papers without a date sort last."""
    if not p.year:
        return (9999, 99, 99)
    m = re.match(r"([A-Z][a-z]{2}) (\d{1,2})", p.date or "")
    return (p.year, MONTHS.get(m.group(1), 0) if m else 0, int(m.group(2)) if m else 0)


@dataclass
class Catalog:
    papers: list[Paper]

    def __post_init__(self) -> None:
        self.by_id = {p.paper_id: p for p in self.papers}
        self.authors = sorted({a for p in self.papers for a in p.authors})

    def __len__(self) -> int:
        return len(self.papers)

    def get(self, paper_id: str) -> Paper | None:
        return self.by_id.get(paper_id)

    def filter(self, f: Filters) -> list[Paper]:
        out = []
        for p in self.papers:
            if f.paper_ids and p.paper_id not in f.paper_ids:
                continue
            if f.year_from and (not p.year or p.year < f.year_from):
                continue
            if f.year_to and (not p.year or p.year > f.year_to):
                continue
            if f.has_code is not None and p.has_code != f.has_code:
                continue
            if f.categories and p.category not in f.categories:
                continue
            if f.authors and not all(any(name_matches(q, a) for a in p.authors) for q in f.authors):
                continue
            out.append(p)
        if f.paper_ids:  # keep the order the conversation gave them
            order = {pid: i for i, pid in enumerate(f.paper_ids)}
            out.sort(key=lambda p: order[p.paper_id])
        return out

    def mentioned_in(self, text: str) -> list[Paper]:
        """Papers a text names by title (or by the short name before a title's colon), in order of mention."""
        low = fold(text)
        found: list[tuple[int, int, Paper]] = []
        for p in self.papers:
            title = fold(p.title)
            pos, end = low.find(title), 0
            end = pos + len(title)
            if pos < 0 and ":" in p.title:
                short = fold(p.title.split(":")[0]).strip('" ')
                if len(short) >= 3:
                    m = re.search(rf"(?<![\w-]){re.escape(short)}(?![\w-])", low)
                    pos, end = (m.start(), m.end()) if m else (-1, 0)
            if pos >= 0:
                found.append((pos, end, p))
        # A title inside a longer mentioned title ("Reproducibility Companion Paper: <title>") is not a mention.
        kept = [f for f in found if not any(o is not f and o[0] <= f[0] and f[1] <= o[1] and
                                            (o[1] - o[0]) > (f[1] - f[0]) for o in found)]
        return [p for _, _, p in sorted(kept, key=lambda t: t[0])]
