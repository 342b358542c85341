"""The paper catalog: exact metadata filters over all papers (not only the top k), author matching that
ignores case and accents and accepts partial names, category names and arXiv codes, date ordering.

Everything a question needs is indexed once, when the catalog is built (years, categories, code flag, folded
author names and name words, titles and short names): a filter intersects sets of paper ids and a lookup is
a dict access, so per-question work does not grow with a loop over every paper or author."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from rag.types import Filters, Paper

MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), start=1)}
T = TypeVar("T")
# Sources that say whether a paper released code (the seed listing's "Code" flag, a CSV/JSONL code column).
CODE_SOURCES = ("listing", "csv", "jsonl")
_WORD = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*")
_QUOTED = re.compile(r"[\"“”‘’'«»]([^\"“”«»]{12,400}?)[\"“”’'«»]")


def fold(text: str) -> str:
    """Case- and accent-insensitive form: 'Chaochao Chén' → 'chaochao chen'."""
    if text.isascii():  # most text: nothing to decompose, and ASCII casefold is lower (20x faster at 100k papers)
        return text.lower()
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


def newest_first(papers: list[Paper]) -> list[Paper]:
    """Most recent first; undated papers last."""
    return chronological(papers, lambda p: p, newest=True)


def chronological(items: list[T], paper_of: Callable[[T], Paper], newest: bool) -> list[T]:
    """Items by their paper's date, newest or oldest first; undated papers last either way (an undated paper is
    neither the newest nor the oldest)."""
    dated = sorted((x for x in items if paper_of(x).year), key=lambda x: sort_key(paper_of(x)), reverse=newest)
    return dated + [x for x in items if not paper_of(x).year]


def mark(index: dict[T, set[str]], key: T, pid: str, add: bool, copied: set[tuple[int, object]] | None) -> None:
    """Put `pid` under `key` of a multimap, or take it out (an emptied key goes). `copied`, while a structure is
    updated from another one whose sets its dict still shares (only the outer dicts are copied): the
    (index, key) whose set was copied already; a shared set is copied before its first change. None: change
    in place."""
    ids = index.get(key)
    if ids is None or (copied is not None and (id(index), key) not in copied):
        ids = index[key] = set(ids or ())
        if copied is not None:
            copied.add((id(index), key))
    (ids.add if add else ids.discard)(pid)
    if not ids:
        del index[key]


def _words(folded: str) -> list[str]:
    return _WORD.findall(folded)


@dataclass
class Catalog:
    papers: list[Paper]
    by_id: dict[str, Paper] = field(init=False)
    authors: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self._copied: set[tuple[int, object]] | None = None  # see `mark`; only while `updated` runs
        self._whole()
        self.by_year: dict[int, set[str]] = {}
        self.by_category: dict[str, set[str]] = {}
        self.with_code: set[str] = set()
        # Papers whose source records the field at all: a negated filter ("not by X", "not in CV", "without code")
        # keeps only papers known not to match, never ones the sources say nothing about (an abstract-only record
        # has no authors, category, year or code flag).
        self.known: dict[str, set[str]] = {"authors": set(), "category": set(), "year": set(), "code": set()}
        # folded author name → the spelling in the listing; folded name word → ids of papers with that word
        self.author_by_folded: dict[str, str] = {}
        self.by_name_word: dict[str, set[str]] = {}
        # title names (full titles, title heads) → ids; text a paper may quote another's title by → ids
        self.title_names: dict[str, set[str]] = {}
        self.quotes: dict[str, set[str]] = {}
        self.title_folded: dict[str, str] = {}
        for p in self.papers:
            self._index(p, True)
        self._finish({k for t in self.title_folded.values() for k in self._title_keys(t)})

    @classmethod
    def updated(cls, papers: list[Paper], previous: Catalog, removed: list[Paper], added: list[Paper]) -> Catalog:
        """The catalog of `papers`, its indexes updated from `previous` (the catalog before `removed` went and
        `added` came; a changed paper is both) instead of rebuilt from every paper: the same indexes, in a
        fraction of the time (5 s at 100k papers), which is what a process following the store waits for."""
        c = cls.__new__(cls)
        c.papers, c._copied = papers, set()
        c._whole()
        c.by_year, c.by_category = dict(previous.by_year), dict(previous.by_category)
        c.with_code = set(previous.with_code)
        c.known = {k: set(v) for k, v in previous.known.items()}
        c.author_by_folded, c.by_name_word = dict(previous.author_by_folded), dict(previous.by_name_word)
        c.title_names, c.quotes = dict(previous.title_names), dict(previous.quotes)
        c.title_folded = dict(previous.title_folded)
        c.names_by_first_word = dict(previous.names_by_first_word)
        c.companions = {k: list(v) for k, v in previous.companions.items()}
        touched: set[str] = set()
        for p, add in [*((p, False) for p in removed), *((p, True) for p in added)]:
            c._index(p, add)
            touched.update(c._title_keys(fold(p.title).strip()))
        changed = {p.paper_id for p in removed} | {p.paper_id for p in added}
        c._respell({" ".join(fold(a).split()) for p in [*removed, *added] for a in p.authors})
        c._finish(touched, changed)
        c._copied = None
        return c

    def _respell(self, keys: set[str]) -> None:
        """author_by_folded for these folded names as a full build has it: the first spelling in catalog order,
        or nothing when no paper has the name any more."""
        for key in keys:
            words = key.split()
            ids = set.intersection(*(self.by_name_word.get(w, set()) for w in words)) if words else set()
            spelled = (a for pid in sorted(ids, key=self.position.__getitem__) for a in self.by_id[pid].authors
                       if " ".join(fold(a).split()) == key)
            first = next(spelled, None)
            if first is None:
                self.author_by_folded.pop(key, None)
            else:
                self.author_by_folded[key] = first

    def _whole(self) -> None:
        """What is cheap to compute over every paper: ids, order, the author list."""
        self.by_id = {p.paper_id: p for p in self.papers}
        self.authors = sorted({a for p in self.papers for a in p.authors})
        self.position = {p.paper_id: i for i, p in enumerate(self.papers)}
        self.all_ids = frozenset(self.by_id)

    def _index(self, p: Paper, add: bool) -> None:
        """Put one paper into the indexes, or take it out."""
        pid, copied = p.paper_id, self._copied
        if p.year:
            mark(self.by_year, p.year, pid, add, copied)
        if p.category:
            mark(self.by_category, p.category, pid, add, copied)
        (self.with_code.add if add and p.has_code else self.with_code.discard)(pid)
        for key, known in (("authors", bool(p.authors)), ("category", bool(p.category)), ("year", bool(p.year)),
                           ("code", p.has_code or any(s.kind in CODE_SOURCES for s in p.provenance))):
            (self.known[key].add if add and known else self.known[key].discard)(pid)
        for a in p.authors:
            key = " ".join(fold(a).split())
            if add:
                self.author_by_folded.setdefault(key, a)
            for w in key.split():
                mark(self.by_name_word, w, pid, add, copied)
        title = fold(p.title).strip()
        if add:
            self.title_folded[pid] = title
        else:
            self.title_folded.pop(pid, None)
        for name in self._title_keys(title):
            mark(self.title_names, name, pid, add, copied)
        for text in self._quote_keys(p, title):
            mark(self.quotes, text, pid, add, copied)

    @staticmethod
    def _title_keys(t: str) -> set[str]:
        """The names a folded title gives its paper: the title (also without an opening quote) and the short
        name before its colon ('VoP' of 'VoP: Text-Video …')."""
        keys = {t.lstrip("\"“‘'( ")} if t else set()
        head = t.split(":")[0].strip("\"“”‘’' ") if ":" in t else ""
        if len(head) >= 3 and head != t:
            keys.add(head)
        return keys

    @staticmethod
    def _quote_keys(p: Paper, title: str) -> set[str]:
        """Texts by which a paper may name another paper's full title: the end of its own title after a colon
        ('Reproducibility Companion Paper: <title>') and quoted pieces of its abstracts ('our previous work
        titled "<title>"')."""
        parts = title.split(": ")
        out = {": ".join(parts[i:]).strip() for i in range(1, len(parts))}
        for text in [p.abstract, *p.other_abstracts]:
            out.update(m.group(1).strip(" ,.;") for m in _QUOTED.finditer(fold(text)))
        return out

    def _finish(self, names: set[str], changed: set[str] | None = None) -> None:
        """Everything derived from the title indexes: the full-title lookup, the short names keyed by their first
        word (only names a single paper uses), and the companions (papers that quote another's full title). With
        `changed`, only the entries those papers and `names` touch are redone."""
        self.max_author_words = max((len(k.split()) for k in self.author_by_folded), default=0)
        self.by_title = {t: pid for pid, t in self.title_folded.items() if t}
        if changed is None:
            self.names_by_first_word = {}
            self.companions = {}
        firsts = {}
        for name in names:
            words = _words(name)
            if words:
                firsts.setdefault(words[0], set()).add(name)
        for first, group in firsts.items():
            kept = [(n, pid) for n, pid in self.names_by_first_word.get(first, []) if n not in group]
            unique = [(n, next(iter(self.title_names[n]))) for n in group
                      if len(self.title_names.get(n, ())) == 1]  # a short name two papers share names neither
            kept += sorted(unique, key=lambda e: (self.position[e[1]], e[0]))
            if kept:
                self.names_by_first_word[first] = kept
            else:
                self.names_by_first_word.pop(first, None)
        scan = list(self.by_id) if changed is None else [pid for pid in changed if pid in self.by_id]
        if changed is not None:
            # quotes of the changed papers' titles by any paper, and the changed papers' own quotes, are redone
            for pid in list(scan):
                scan.extend(q for q in self.quotes.get(self.title_folded[pid], ()) if q in self.by_id)
            # the others' entries stay, without the changed papers (redone below); a changed paper's own go
            self.companions = {other: ids for other, pids in self.companions.items()
                               if other in self.by_id and other not in changed
                               and (ids := [pid for pid in pids if pid not in changed and pid in self.by_id])}
        for p in (self.by_id[pid] for pid in sorted(set(scan), key=self.position.__getitem__)):
            for other in self._titles_quoted_in(p):
                if other != p.paper_id and p.paper_id not in self.companions.get(other, []):
                    self.companions.setdefault(other, []).append(p.paper_id)
        for other in self.companions:
            self.companions[other].sort(key=self.position.__getitem__)

    def _titles_quoted_in(self, p: Paper) -> list[str]:
        """Other papers named by full title inside this paper's title ('Reproducibility Companion Paper: <title>')
        or quoted in its abstract ('our previous work titled "<title>"')."""
        found = []
        title = self.title_folded[p.paper_id]
        parts = title.split(": ")
        for i in range(1, len(parts)):
            pid = self.by_title.get(": ".join(parts[i:]).strip())
            if pid:
                found.append(pid)
        for text in [p.abstract, *p.other_abstracts]:
            for m in _QUOTED.finditer(fold(text)):
                pid = self.by_title.get(m.group(1).strip(" ,.;"))
                if pid:
                    found.append(pid)
        return found

    def __len__(self) -> int:
        return len(self.papers)

    def get(self, paper_id: str) -> Paper | None:
        return self.by_id.get(paper_id)

    def author_ids(self, query: str, position: int | None = None) -> set[str]:
        """Papers with an author whose name contains every word of the query ('Gong', 'biao gong'); with a
        position (1 = first author), only papers where that author is at that position."""
        words = fold(query).split()
        if not words:
            return set()
        out = set(self.by_name_word.get(words[0], set()))
        for w in words[1:]:
            out &= self.by_name_word.get(w, set())
        if position is not None:  # 1 = first author; -1 = the last author the sources list
            return {pid for pid in out if len(self.by_id[pid].authors) >= abs(position)
                    and name_matches(query, self.by_id[pid].authors[position - 1 if position > 0 else position])}
        # the words must belong to the same author, not to two co-authors
        return {pid for pid in out if any(name_matches(query, a) for a in self.by_id[pid].authors)} \
            if len(words) > 1 else out

    def year_ids(self, lo: int | None, hi: int | None) -> set[str]:
        lo, hi = lo or -10**9, hi or 10**9
        return {pid for y, ids in self.by_year.items() if lo <= y <= hi for pid in ids}

    @property
    def years(self) -> list[int]:
        return sorted(self.by_year)

    def filter(self, f: Filters) -> list[Paper]:
        """Every paper that matches all the set filters, in catalog order (or the order of f.paper_ids)."""
        sets: list[set[str] | frozenset[str]] = []
        if f.paper_ids:
            sets.append(set(f.paper_ids))
        if f.year_from or f.year_to:
            sets.append(self.year_ids(f.year_from, f.year_to))
        if f.years:
            sets.append({pid for y in f.years for pid in self.by_year.get(y, set())})
        if f.has_code is True:
            sets.append(self.with_code)
        elif f.has_code is False:
            sets.append(self.known["code"] - self.with_code)
        if f.categories:
            sets.append({pid for c in f.categories for pid in self.by_category.get(c, set())})
        if f.months:
            sets.append({p.paper_id for p in self.papers if p.year and sort_key(p)[1] in f.months})
        if f.undated:  # no year at all, or a listing date without one (its year is the listing's, inferred)
            sets.append({p.paper_id for p in self.papers if not p.year or p.year_inferred})
        if f.any_author and f.authors:
            sets.append({pid for name in f.authors for pid in self.author_ids(name, f.author_position)})
        else:
            sets.extend(self.author_ids(name, f.author_position) for name in f.authors)
        ids = set(self.all_ids)
        if sets:
            sets.sort(key=len)
            ids = set(sets[0])
            for s in sets[1:]:
                ids &= s
            ids &= self.all_ids
        for name in f.exclude_authors:
            ids = (ids & self.known["authors"]) - self.author_ids(name)
        for c in f.exclude_categories:
            ids = (ids & self.known["category"]) - self.by_category.get(c, set())
        for y in f.exclude_years:
            ids = (ids & self.known["year"]) - self.by_year.get(y, set())
        if f.paper_ids:  # keep the order the conversation gave them
            order = {pid: i for i, pid in enumerate(f.paper_ids)}
            return [self.by_id[pid] for pid in sorted(ids, key=lambda pid: order[pid])]
        return [self.by_id[pid] for pid in sorted(ids, key=self.position.__getitem__)]

    def mentioned_in(self, text: str) -> list[Paper]:
        """Papers a text names by title (or by the short name before a title's colon), in order of mention.
        The text is scanned word by word against an index of title first words: no loop over all papers."""
        low = fold(text)
        spans: list[tuple[int, int, str]] = []
        for m in _WORD.finditer(low):
            for name, pid in self.names_by_first_word.get(m.group(), ()):
                start, end = m.start(), m.start() + len(name)
                if low.startswith(name, start) and not (end < len(low) and (low[end].isalnum() or low[end] == "-")):
                    spans.append((start, end, pid))
        # A title inside a longer mentioned title ("Reproducibility Companion Paper: <title>") is not a mention.
        kept = [t for t in spans if not any(o[2] != t[2] and o[0] <= t[0] and t[1] <= o[1] for o in spans)]
        first: dict[str, int] = {}
        for start, _, pid in kept:
            first.setdefault(pid, start)
        return [self.by_id[pid] for pid in sorted(first, key=first.__getitem__)]
