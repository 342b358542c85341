"""Small text tools shared by chunking and the answerers: sentence splitting and an IDF-weighted,
stemmed term overlap used to pick answer sentences and to judge whether a paper covers a question."""

from __future__ import annotations

import math
import re
from collections import Counter
from functools import lru_cache

# Sentence ends: ., ! or ? then space and an upper-case letter/digit/quote — not after "e.g.", "i.e.",
# "et al.", "vs." and friends, and never inside decimals ("0.1%").
# Checked after the period (the cheap test first: most positions are not after one).
_ABBREV = r"(?<!\be\.g\.)(?<!\bi\.e\.)(?<!\bet al\.)(?<!\bvs\.)(?<!\betc\.)(?<!\bFig\.)(?<!\bEq\.)"
SENTENCE_END = re.compile(rf"(?<=[.!?]){_ABBREV}\s+(?=[A-Z0-9\"“(\[])")
TOKEN = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")
STOPWORDS = set("""a about above after again against all also am an and any are as at be because been before being
below between both but by can could did do does doing done down during each few for from further had has have having
he her here hers him his how i if in into is it its itself just me more most my no nor not now of off on once only
or other our ours out over own same she should so some such than that the their theirs them then there these they
this those through to too under until up very was we were what when where which while who whom why will with would
you your yours paper papers work works group research study studies propose proposed approach method methods show
shows using use used based new novel one two many much anything something tell please list give find which
""".split())


def sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE_END.split(text) if s.strip()]


@lru_cache(maxsize=1)
def _stemmer():  # type: ignore[no-untyped-def]
    import Stemmer

    return Stemmer.Stemmer("english")


def terms(text: str) -> list[str]:
    """Stemmed content words; hyphenated words also count by their parts ("text-to-image" → text, image)."""
    words: list[str] = []
    for w in TOKEN.findall(text.lower()):
        parts = [w, *w.split("-")] if "-" in w else [w]
        words.extend(p for p in parts if p not in STOPWORDS and len(p) > 1)
    return _stemmer().stemWords(words)


class Vocabulary:
    """Document frequencies over the papers, for IDF weights."""

    def __init__(self, docs: list[str]) -> None:
        self.n = len(docs)
        self.df = Counter(t for d in docs for t in set(terms(d)))

    def idf(self, term: str) -> float:
        return math.log((self.n + 1) / (self.df.get(term, 0) + 0.5)) + 1.0

    def coverage(self, query_terms: list[str], doc_terms: set[str]) -> float:
        """Share of the query's IDF mass found in the document (1.0 = every content word is there)."""
        q = set(query_terms)
        total = sum(self.idf(t) for t in q)
        return sum(self.idf(t) for t in q if t in doc_terms) / total if total else 0.0

    def overlap(self, query_terms: list[str], doc_terms: set[str]) -> float:
        return sum(self.idf(t) for t in set(query_terms) if t in doc_terms)
