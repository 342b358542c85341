"""Small text tools shared by chunking and the answerers: sentence splitting and an IDF-weighted,
stemmed term overlap used to pick answer sentences and to judge whether a paper covers a question."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
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


# Sentence roles, used to tell a paper's own contribution from its background: a topic a paper only cites
# ("existing methods, such as attribute unlearning, …") is not a topic the paper is about.
OWN_WORK = re.compile(
    r"\b(we|our|ours|this (?:paper|work|study|survey|article|framework|method|approach|model|system|benchmark|"
    r"objective|protocol|defen[cs]e|design|dataset|tool|pipeline|paradigm|strategy|metric)|specifically|"
    r"the proposed|(?:is|are) proposed|propos(?:e|es|ed|ing)|introduc(?:e|es|ed|ing)|named|called|termed|dubbed)\b",
    re.I)
PROPOSAL = re.compile(
    r"\b(we (?:then |further |also |first |additionally )?(?:propose|introduce|present|develop|construct|design|"
    r"conduct|reproduce|systematize|derive|provide|offer|build|formulate|establish|study|investigate|explore|"
    r"focus|collect|define|reformulate|identify)|this (?:paper|work|survey|article|study) (?:presents|proposes|"
    r"introduces|offers|provides|studies|investigates|explores|aims)|in this (?:paper|work|survey)|"
    r"(?:is|are) (?:a|an|the first) )", re.I)
NAMED_CLAIM = re.compile(r"\bwe (?:then |further |also |first )?(?:propose|introduce|present|develop|design|"
                         r"construct)\b[^.]*\b[A-Z][\w-]*[A-Z]")
BACKGROUND = re.compile(
    r"\b(existing|previous(?:ly)?|prior|conventional|traditional|mainstream|recent (?:advances|studies|works|"
    r"research|methods)|most (?:\w+ ){0,2}(?:methods|approaches|works|studies|models|research)|current "
    r"(?:research|methods|approaches|studies|works))\b", re.I)
WE = re.compile(r"\b(we|our|this (?:paper|work))\b", re.I)


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


def recounted(counts: Counter[str], removed: Iterable[Iterable[str]], added: Iterable[Iterable[str]]) -> Counter[str]:
    """A copy of per-document counts (each document's items counted once) with some documents taken out and
    others put in; items no document has any more are dropped."""
    out = Counter(counts)
    for sign, docs in ((-1, removed), (1, added)):
        for doc in docs:
            for item in doc:
                out[item] += sign
                if out[item] <= 0:
                    del out[item]
    return out


class Vocabulary:
    """Document frequencies over the papers, for IDF weights."""

    def __init__(self, docs: list[str]) -> None:
        self.n = len(docs)
        self.df = Counter(t for d in docs for t in set(terms(d)))

    @classmethod
    def from_term_sets(cls, term_sets: list[frozenset[str]] | list[set[str]]) -> Vocabulary:
        v = cls([])
        v.n = len(term_sets)
        v.df = Counter(t for s in term_sets for t in s)
        return v

    def updated(self, removed: list[frozenset[str]], added: list[frozenset[str]]) -> Vocabulary:
        """These frequencies with some documents' term sets taken out and others put in (a new object)."""
        v = Vocabulary([])
        v.n = self.n - len(removed) + len(added)
        v.df = recounted(self.df, removed, added)
        return v

    def idf(self, term: str) -> float:
        return math.log((self.n + 1) / (self.df.get(term, 0) + 0.5)) + 1.0


# ---- acronyms ------------------------------------------------------------------------------------------------
# "Large Language Models (LLMs)" defines LLM. A question that says "large language models" and a paper that
# says "LLMs" are about the same thing; and the three words are one concept, so they must not weigh three
# times as much as "unlearning" in "unlearning in large language models".
_ACRONYM = re.compile(r"\(([A-Z][A-Za-z0-9]*[A-Z0-9])s?\)")
_MINOR = {"to", "of", "for", "and", "with", "the", "in", "on", "a", "an", "based", "wise", "via", "by"}


def acronym_definitions(text: str) -> list[tuple[str, str]]:
    """(acronym, expansion) pairs defined in a text: the words before "(ABC)" whose initials spell it."""
    out = []
    for m in _ACRONYM.finditer(text):
        acr = m.group(1)
        need = [c.lower() for c in acr if c.isalpha() and c.isupper()][::-1]
        if len(need) < 2:
            continue
        base = max(0, m.start() - 120)
        parts = list(re.finditer(r"[A-Za-z][A-Za-z0-9]*", text[base: m.start()]))
        i, start = 0, len(parts)
        for j in range(len(parts) - 1, -1, -1):
            if i == len(need):
                break
            w = parts[j].group()
            if len(w) > 1 and w.isupper() and [c.lower() for c in w[::-1]] == need[i:i + len(w)]:
                i, start = i + len(w), j  # "Multimodal LLM (MLLM)"
            elif w[0].lower() == need[i]:
                i, start = i + 1, j
            elif w.lower() not in _MINOR:
                break
        if i == len(need) and start < len(parts):
            out.append((acr, text[base + parts[start].start(): m.start()].strip()))
    return out


def _simple(words: list[str]) -> list[tuple[int, str]]:
    """Terms without the hyphenated compounds (their parts follow them), with their positions."""
    return [(i, w) for i, w in enumerate(words) if "-" not in w]


class Acronyms:
    """Acronyms defined anywhere in the collection, to put a concept's short and long forms on one term."""

    def __init__(self, texts: list[str]) -> None:
        self.votes: dict[tuple[str, ...], Counter[str]] = {}
        self._count(texts, 1)
        self._index()

    def _count(self, texts: list[str], sign: int) -> None:
        for text in texts:
            for acr, expansion in acronym_definitions(text):
                key = tuple(w for _, w in _simple(terms(expansion)))
                short = terms(acr)
                # every word must count ("Image-to-Image" would make any "image … image" an acronym)
                if len(key) >= 2 and len(set(key)) == len(key) == len(re.findall(r"[A-Za-z0-9]+", expansion)) \
                        and short:
                    counter = self.votes.setdefault(key, Counter())
                    counter[short[0]] += sign
                    if counter[short[0]] <= 0:
                        del counter[short[0]]
                    if not counter:
                        del self.votes[key]

    def _index(self) -> None:
        self.by_expansion = {k: c.most_common(1)[0][0] for k, c in self.votes.items()}
        self.expansions: dict[str, list[tuple[str, ...]]] = {}
        for k, a in self.by_expansion.items():
            self.expansions.setdefault(a, []).append(k)
        self._by_first: dict[str, list[tuple[str, ...]]] = {}
        for k in sorted(self.by_expansion, key=len, reverse=True):
            self._by_first.setdefault(k[0], []).append(k)

    def updated(self, removed: list[str], added: list[str]) -> Acronyms:
        """These acronyms with some texts taken out and others put in (the collection changed), the same as
        Acronyms of the new texts; this one is left as it is (a running process still reads it)."""
        new = Acronyms([])
        new.votes = {k: Counter(v) for k, v in self.votes.items()}  # this one's counters stay as they are
        new._count(removed, -1)
        new._count(added, 1)
        new._index()
        return new

    def _acronym(self, term: str) -> str | None:
        if term in self.expansions:
            return term
        return term[:-1] if term.endswith("s") and term[:-1] in self.expansions else None  # "llms"

    def _spans(self, words: list[str]) -> list[tuple[int, int, str]]:
        """(first index, last index, acronym) of each spelled-out expansion, longest first, left to right."""
        simple = _simple(words)
        out = []
        i = 0
        while i < len(simple):
            for key in self._by_first.get(simple[i][1], ()):  # longest first
                n = len(key)
                if i + n <= len(simple) and all(simple[i + k][1] == key[k] for k in range(1, n)):
                    out.append((simple[i][0], simple[i + n - 1][0], self.by_expansion[key]))
                    i += n
                    break
            else:
                i += 1
        return out

    def query(self, words: list[str]) -> list[str]:
        """Question terms: a spelled-out expansion becomes its acronym (one concept, one weight)."""
        if not self.by_expansion:
            return words
        spans = self._spans(words)
        out: list[str] = []
        for i, w in enumerate(words):
            span = next((s for s in spans if s[0] <= i <= s[1] or ("-" in w and s[0] == i + 1)), None)
            if span is None:
                out.append(self._acronym(w) or w)
            elif i == span[0]:
                out.append(span[2])
        return out

    def document(self, words: list[str]) -> set[str]:
        """A passage's terms, plus the acronym of each expansion it spells out (and "llm" for "LLMs"), so
        either form of a question finds it. The words of an acronym are not added: "LVLMs" must not make a
        sentence look as if it said "large … language … models"."""
        out = set(words)
        out.update(a for a in map(self._acronym, words) if a)
        out.update(a for _, _, a in self._spans(words))
        return out
