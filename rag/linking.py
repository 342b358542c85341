"""Linking the words of a question to the catalog: paper names, authors, and the collection's vocabulary.

Built once per catalog. Everything is looked up, not listed by hand: the names a paper gives its method
("we propose EISAM", "Efficient … (EISAM)", "VoP: …"), the authors' names (case-, accent- and typo-tolerant),
and the words of titles and abstracts — against which a misspelt question word is corrected. A word that is
an ordinary English word (a whole word in the embedding model's own WordPiece vocabulary) is never
"corrected" into a collection word: "speech" stays "speech" even though the collection says "speed".
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property, lru_cache

from rag.catalog import Catalog, fold, mark
from rag.lexicon import FIELD_ABBREVIATIONS
from rag.text import Acronyms, acronym_definitions, recounted, sentences, terms
from rag.types import Paper

# A name-like word: two capitals ("EISAM", "VoP", "PoT-AU"), or a capital and a digit ("CURE4Rec", "U2A").
NAME_LIKE = re.compile(r"(?<![\w-])(?=[\w-]*[A-Z][\w-]*[A-Z0-9]|[\w-]*[A-Z][\w-]*\d|[\w-]*\d[\w-]*[A-Z])"
                       r"[A-Za-z][\w-]*[A-Za-z0-9](?![\w-])")
# A sentence that names what the paper itself contributes.
NAMING = re.compile(r"\b(?:we|this (?:paper|work|survey))\b[^.]{0,80}?\b(?:propose|introduce|present|develop|design|"
                    r"construct|build|name|call|dub|term|coin)\w*\b|\b(?:named|called|dubbed|termed|coined)\b", re.I)
WORD = re.compile(r"[^\W\d_][^\W_]*(?:[-'][^\W_]+)*|\d+[^\W\d_][^\W_]*")
MAX_NAME_PAPERS = 2  # a name used by more papers is a field term ("LLM", "CLIP"), not a paper's name
# Words that make a lower-case name word a person ("how many papers has zheng co-authored")
PERSON_WORDS = re.compile(r"\b(?:by|authors?|authored|co-?authors?|co-?authored|co-?wrote|co-?written|wrote|written|"
                          r"writes?|papers? of|work of)\b", re.I)
# A quoted piece of a title: "…", “…”, or '…' / ‘…’ standing apart from words (not the ' of "LEGO's")
QUOTED = re.compile(r"[\"“]([^\"“”]{5,150})[\"”]|(?<!\w)['‘]([^'‘’]{5,150}?)['’](?!\w)")
QUOTE_MATCH = 85  # rapidfuzz partial_ratio a quoted piece needs against one title (and 10 more than any other)


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """Whole words of the embedding model's WordPiece vocabulary (~20k English words): a published word list
    that ships with the model, used only to tell a misspelling from an ordinary word."""
    from rag.embedding import model_dir

    words = set()
    with open(model_dir() / "vocab.txt", encoding="utf-8") as f:
        for line in f:
            w = line.strip()
            if w.isalpha() and w.isascii() and len(w) > 1:
                words.add(w)
    return frozenset(words)


def catalog_acronyms(catalog: Catalog, previous: Acronyms | None = None, removed: Iterable[Paper] = (),
                     added: Iterable[Paper] = ()) -> Acronyms:
    """The acronyms the papers define ("Large Language Models (LLMs)"): their long forms are one concept.
    Built once per catalog and kept with it (the linker and the term statistics share it); with `previous`,
    from the acronyms of the catalog before `removed` went and `added` came."""
    got = catalog.__dict__.get("_acronyms")
    if got is None:
        if previous is None:
            got = Acronyms([t for p in catalog.papers for t in _abstracts_of(p)])
        else:
            got = previous.updated([t for p in removed for t in _abstracts_of(p)],
                                   [t for p in added for t in _abstracts_of(p)])
        got = catalog.__dict__.setdefault("_acronyms", got)
    return got


@dataclass(frozen=True)
class AuthorLink:
    name: str  # as the catalog spells it ("XiaoHua Feng"), or the surname/given name the question used
    start: int
    end: int
    exact: bool  # a full name (exact or a typo of one), not one word of a name


class Linker:
    def __init__(self, catalog: Catalog, previous: Linker | None = None, removed: Iterable[Paper] = (),
                 added: Iterable[Paper] = ()) -> None:
        """The linker of `catalog`. With `previous` (the linker of the catalog before some papers were removed
        and others added; a changed paper is both), the collection-wide counts are updated from the changed
        papers alone instead of recounted over every paper (minutes at 100k papers; see rag.local_index)."""
        self.catalog = catalog
        if previous is not None:
            self._update(previous, list(removed), list(added))
        self.paper_names = self._named()
        # folded full name → catalog spelling; also without spaces ("xiaohua feng" / "xiaohuafeng")
        self.full_names: dict[str, str] = {}
        for a in catalog.authors:
            key = " ".join(fold(a).split())
            self.full_names.setdefault(key, a)
        self.name_words = set(catalog.by_name_word)
        self.squashed_names = {k.replace(" ", "").replace("-", ""): n for k, n in self.full_names.items()}

    def _update(self, previous: Linker, removed: list[Paper], added: list[Paper]) -> None:
        own, copied = dict(previous._own_names), set()  # the previous linker keeps its own sets
        for p, add in [*((p, False) for p in removed), *((p, True) for p in added)]:
            for key in _names_of(p):
                mark(own, key, p.paper_id, add, copied)
        self.__dict__.update(
            vocabulary=recounted(previous.vocabulary, map(_words_of, removed), map(_words_of, added)),
            stems=recounted(previous.stems, map(_stems_of, removed), map(_stems_of, added)),
            _own_names=own)
        catalog_acronyms(self.catalog, previous.acronyms, removed, added)

    def warm(self) -> None:
        """Build the lazily computed indexes now (vocabulary, English words, the fuzzy matcher's import)."""
        import rapidfuzz.process  # noqa: F401

        english_words()
        _ = self._by_first_letter, self.vocabulary_names, self._single_names, self.stems, self._unhyphenated, \
            self.acronyms

    # ---- vocabulary ----------------------------------------------------------------------------------
    @cached_property
    def vocabulary(self) -> Counter[str]:
        """Folded words of every title and abstract version, with the number of papers using each."""
        df: Counter[str] = Counter()
        for p in self.catalog.papers:
            df.update(_words_of(p))
        return df

    @property
    def acronyms(self) -> Acronyms:
        return catalog_acronyms(self.catalog)

    @cached_property
    def stems(self) -> Counter[str]:
        """Stemmed terms of every title and abstract version (rag.text.terms), with the number of papers using
        each, for `known`."""
        out: Counter[str] = Counter()
        for p in self.catalog.papers:
            out.update(_stems_of(p))
        return out

    def known(self, word: str) -> bool:
        """Does any paper use the word (in any inflection)? A compound is known when the collection uses it or
        all of its parts ("copyright-compliance"), unknown when one part is new ("cold-start", "multi-party")."""
        w = fold(word)
        if w in self.vocabulary:
            return True
        t = terms(w)
        if not t:
            return True  # nothing but function words
        whole, parts = t[0], t[1:]
        return whole in self.stems or (bool(parts) and all(p in self.stems for p in parts))

    @cached_property
    def _by_first_letter(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for w in self.vocabulary:
            if len(w) >= 4 and w.isalpha():
                out.setdefault(w[0], []).append(w)
        return out

    @cached_property
    def _unhyphenated(self) -> dict[str, str]:
        """'bilevel' → 'bi-level': the collection's hyphenated words, written closed up."""
        return {w.replace("-", ""): w for w in self.vocabulary if "-" in w}

    def correct(self, word: str) -> str | None:
        """The collection word a question word stands for when the collection does not use it as written, or
        None: a British spelling ("optimisation" → "optimization"), a hyphenated word written closed up
        ("bilevel" → "bi-level"), or a misspelling ("federted" → "federated", "reccomendation"). Misspellings
        are corrected only for words neither the collection nor English knows; edits (a swap of two letters
        counts as one) grow with length (1 up to 7 letters, 2 from 8); the first letter must agree (typos
        rarely change it)."""
        from rapidfuzz.distance import OSA
        from rapidfuzz.process import extractOne

        w = word.lower()
        if w in self.vocabulary or not w.replace("-", "").isalpha():
            return None
        for variant in (*_american(w), w.replace("-", "")):
            if variant != w and variant in self.vocabulary:
                return variant
        if (closed := self._unhyphenated.get(w.replace("-", ""))) and closed != w:
            return closed
        if len(w) < 5 or "-" in w or w in english_words() or w in self.name_words:
            return None
        limit = 1 if len(w) < 8 else 2
        pool = self._by_first_letter.get(w[0], [])
        hit = extractOne(w, pool, scorer=OSA.distance, score_cutoff=limit)
        return hit[0] if hit else None

    def function_word(self, word: str, function_words: frozenset[str]) -> str | None:
        """The function or question word a short misspelt word stands for ("ther" → "there", "thsoe" →
        "those", "papres" → "papers"), when the word is no word of the collection, of English or of a name."""
        from rapidfuzz.distance import OSA
        from rapidfuzz.process import extractOne

        w = word.lower()
        if len(w) < 3 or not w.isalpha() or w in self.vocabulary or w in english_words() or w in self.name_words:
            return None
        hit = extractOne(w, [f for f in function_words if f[:1] == w[:1] and abs(len(f) - len(w)) <= 1],
                         scorer=OSA.distance, score_cutoff=1)
        return hit[0] if hit else None

    # ---- paper names ---------------------------------------------------------------------------------
    @cached_property
    def _own_names(self) -> dict[str, set[str]]:
        """Folded name → ids of the papers that give themselves that name (_names_of), before dropping field
        terms."""
        names: dict[str, set[str]] = {}
        for p in self.catalog.papers:
            for key in _names_of(p):
                names.setdefault(key, set()).add(p.paper_id)
        return names

    def _named(self) -> dict[str, set[str]]:
        """Names of at most MAX_NAME_PAPERS papers that at most MAX_NAME_PAPERS papers use anywhere in their
        text; others are field terms."""
        uses = self.vocabulary
        return {k: v for k, v in self._own_names.items()
                if len(v) <= MAX_NAME_PAPERS and (" " in k or uses.get(k, 0) <= MAX_NAME_PAPERS)}

    @cached_property
    def _titles(self) -> tuple[list[str], list[str]]:
        ids = [p.paper_id for p in self.catalog.papers]
        return ids, [fold(p.title) for p in self.catalog.papers]

    def quoted_titles(self, question: str) -> list[tuple[str, int, int]]:
        """Papers named by a quoted piece of their title, even a slightly wrong one: 'the "I See What You Did"
        puns paper', "the 'Bridging the Copyright Divide' paper", "'Demystifying'"."""
        from rapidfuzz import fuzz
        from rapidfuzz.process import extract

        ids, titles = self._titles
        out = []
        for m in QUOTED.finditer(question):
            piece = fold(m.group(1) or m.group(2)).strip(" .,;:?!")
            if len(piece) < 5:
                continue
            top = extract(piece, titles, scorer=fuzz.partial_ratio, limit=2)
            best = top[0] if top else None
            runner_up = top[1][1] if len(top) > 1 else 0.0
            if best and best[1] >= QUOTE_MATCH and best[1] - runner_up >= 10:
                out.append((ids[best[2]], m.start(), m.end()))
        return out

    def mentions(self, question: str) -> list[tuple[str, int, int]]:
        """(paper id, start, end) of every paper the question names — by title, title head or method name —
        in order of mention. A lower-case name that is also an English word ("lego", "raid") counts only when
        written as the paper writes it; a misspelt long name ("CURE4rec", "EISMA") is matched loosely."""
        out: list[tuple[str, int, int]] = []
        low = fold(question)
        out.extend(self.quoted_titles(question))
        for p in self.catalog.mentioned_in(question):  # full titles and title heads, as phrases
            start = low.find(fold(p.title.split(":")[0]).strip(" \"“”'")[:20])
            if not any(p.paper_id == o[0] for o in out):
                out.append((p.paper_id, max(start, 0), max(start, 0) + len(p.title.split(":")[0])))
        for m in WORD.finditer(question):
            w = re.sub(r"['’]s$", "", m.group())  # "LEGO's two steps"
            key = fold(w)
            ids = self.paper_names.get(key)
            if ids is None and len(key) >= 5 and not key.isalpha():
                ids = self._loose_name(key)
            if ids is None and len(key) >= 6 and (NAME_LIKE.fullmatch(w) or key not in english_words()):
                ids = self._loose_name(key)
            if not ids:
                continue
            if w.islower() and key in english_words() and key not in self.vocabulary_names:
                continue
            for pid in sorted(ids):
                if not any(pid == o[0] for o in out):
                    out.append((pid, m.start(), m.end()))
        return sorted(out, key=lambda t: t[1])

    @cached_property
    def _single_names(self) -> list[str]:
        return [k for k in self.paper_names if " " not in k and len(k) >= 5]

    @cached_property
    def vocabulary_names(self) -> frozenset[str]:
        """Names that are not English words as written in lower case (e.g. "eisam", "cure4rec")."""
        return frozenset(k for k in self.paper_names if k not in english_words())

    def _loose_name(self, key: str) -> set[str] | None:
        from rapidfuzz.distance import Levenshtein
        from rapidfuzz.process import extractOne

        hit = extractOne(key, self._single_names, scorer=Levenshtein.distance, score_cutoff=1 if len(key) < 8 else 2)
        return self.paper_names[hit[0]] if hit else None

    # ---- authors -------------------------------------------------------------------------------------
    def authors(self, question: str) -> list[AuthorLink]:
        """Authors the question names: full names in any case, order ("Zhang Li"), spacing ("Xiao Hua Feng"),
        accents, or with one typo; single name words ("Gong") only when written with a capital."""
        words = [(m.group().removesuffix("'s").removesuffix("’s"), m.start(), m.end()) for m in WORD.finditer(question)]
        person_cue = bool(PERSON_WORDS.search(question))
        out: list[AuthorLink] = []
        used: set[int] = set()
        i = 0
        while i < len(words):
            found = None
            for n in (3, 2):
                if i + n > len(words):
                    continue
                chunk = words[i:i + n]
                name = self._full_name([fold(w) for w, _, _ in chunk])
                if name:
                    found = AuthorLink(name, chunk[0][1], chunk[-1][2], True)
                    used.update(range(i, i + n))
                    i += n
                    break
            if found:
                out.append(found)
                continue
            i += 1
        for j, (w, s, e) in enumerate(words):
            # a lower-case name word counts right after "by" / "author" ("papers by gong"), or when it is no
            # English word ("how many papers has zheng co-authored")
            after_cue = j > 0 and fold(words[j - 1][0]) in ("by", "author", "authors")
            plain_name = len(w) >= 3 and (fold(w) not in english_words() or person_cue)
            if j in used or not (w[:1].isupper() or after_cue or plain_name) or (j == 0 and fold(w) in english_words()):
                continue
            key = fold(w.removesuffix("'s"))
            if key in self.name_words and key not in self.vocabulary:
                out.append(AuthorLink(w.removesuffix("'s"), s, e, False))
        return sorted(out, key=lambda a: a.start)

    def _full_name(self, folded_words: list[str]) -> str | None:
        key = " ".join(folded_words)
        squashed = key.replace(" ", "").replace("-", "")
        if len(folded_words) > 1 and squashed in self.squashed_names:
            return self.squashed_names[squashed]  # "Xiao Hua Feng": spelt apart, even where a part is English
        if any(w in english_words() and w not in self.name_words for w in folded_words):
            return None
        if key in self.full_names:
            return self.full_names[key]
        if len(folded_words) == 2 and f"{folded_words[1]} {folded_words[0]}" in self.full_names:
            return self.full_names[f"{folded_words[1]} {folded_words[0]}"]
        squashed = key.replace(" ", "").replace("-", "")  # "XiaoHua" / "Xiao Hua" / "Xiao-hua"
        if squashed in self.squashed_names:
            return self.squashed_names[squashed]
        if len(squashed) >= 7 and all(len(w) >= 2 for w in folded_words):
            from rapidfuzz.distance import Levenshtein
            from rapidfuzz.process import extractOne

            keys = list(self.full_names)
            hit = extractOne(key, keys, scorer=Levenshtein.distance, score_cutoff=1)
            if hit and hit[0].split()[-1] == folded_words[-1] or hit and hit[0].split()[0] == folded_words[0]:
                return self.full_names[hit[0]]
        return None


# British → American endings, tried only when the collection does not know the word as written (and kept only
# when it knows the result): "optimisation", "organised", "behaviour", "modelling", "centre".
_BRITISH = ((r"is(ation|ations|e|es|ed|ing|er|ers)$", r"iz\1"), (r"yse(s|d)?$", r"yze\1"), (r"our(s)?$", r"or\1"),
            (r"([aeiou])ll(ing|ed|er|ers)$", r"\1l\2"), (r"tre(s)?$", r"ter\1"))


def _american(word: str) -> list[str]:
    return [v for pattern, repl in _BRITISH if (v := re.sub(pattern, repl, word)) != word]


def _compound_of_words(name: str) -> bool:
    """'Image-to-Image', 'Sharpness-Aware', 'LLM-based': a hyphenated phrase of ordinary words (or of a field
    acronym and words), not a coined name like 'PoT-AU' or 'In-UCDS' (a part in capitals or mixed case)."""
    parts = name.split("-")
    return len(parts) > 1 and all((p.isalpha() and (p.islower() or p.istitle())) or fold(p) in FIELD_ABBREVIATIONS
                                  for p in parts)


def _text_of(p: Paper) -> str:
    return " ".join([p.title, p.abstract, *p.other_abstracts])


def _abstracts_of(p: Paper) -> list[str]:
    return [p.abstract, *p.other_abstracts]


def _stems_of(p: Paper) -> set[str]:
    return set(terms(_text_of(p)))


def _words_of(p: Paper) -> set[str]:
    return {w.lower() for w in WORD.findall(fold(_text_of(p)))}


def _names_of(p: Paper) -> set[str]:
    """The folded names a paper gives itself: the head of its title before a colon ("VoP", "Check, Locate,
    Rectify"), name-like words of the title, acronyms it defines and names in the sentences where it says
    what it proposes."""
    own: set[str] = set()
    title_head = p.title.split(":")[0].strip(" \"“”'") if ":" in p.title else ""
    if title_head and len(title_head.split()) <= 4 and len(title_head) >= 3:
        own.add(title_head)
    own.update(NAME_LIKE.findall(p.title))
    for text in _abstracts_of(p):
        own.update(acr for acr, _ in acronym_definitions(text))
        for s in sentences(text):
            if NAMING.search(s):
                own.update(NAME_LIKE.findall(s))
    keys = set()
    for n in own:
        key = fold(n).strip()
        if len(key) >= 3 and not _compound_of_words(n) and key not in FIELD_ABBREVIATIONS:
            keys.add(key)
    return keys
